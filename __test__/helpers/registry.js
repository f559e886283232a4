'use strict'

// A real local npm registry for tests: verdaccio on a loopback port, storage in a temp dir.
// Packages of the @acme scope are published to it; everything else is proxied to the machine's
// configured registry.

const { spawn, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const { freePort } = require('./net')

const ROOT = path.resolve(__dirname, '..', '..')


function upstreamRegistry() {
  try {
    return execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim() || 'https://registry.npmjs.org/'
  } catch {
    return 'https://registry.npmjs.org/'
  }
}

/**
 * Starts verdaccio in `workDir`. Returns { url, token, npmrc(dir), publish(tarball, dir), stop() }.
 */
async function startRegistry(workDir) {
  const port = await freePort()
  const storage = path.join(workDir, 'storage')
  fs.mkdirSync(storage, { recursive: true })
  const config = path.join(workDir, 'verdaccio.yaml')
  fs.writeFileSync(
    config,
    [
      `storage: ${storage}`,
      'auth:',
      '  htpasswd:',
      `    file: ${path.join(workDir, 'htpasswd')}`,
      'uplinks:',
      '  upstream:',
      `    url: ${upstreamRegistry()}`,
      'packages:',
      "  '@acme/*':",
      '    access: $all',
      '    publish: $authenticated',
      "  '**':",
      '    access: $all',
      '    proxy: upstream',
      'log: { type: stdout, format: pretty, level: warn }',
      '',
    ].join('\n'),
  )
  const bin = path.join(ROOT, 'node_modules', 'verdaccio', 'bin', 'verdaccio')
  const child = spawn(process.execPath, [bin, '--config', config, '--listen', `127.0.0.1:${port}`], {
    cwd: workDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let log = ''
  child.stdout.on('data', (d) => (log += d))
  child.stderr.on('data', (d) => (log += d))
  const url = `http://127.0.0.1:${port}/`
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      const res = await fetch(`${url}-/ping`)
      if (res.ok) break
    } catch {}
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGTERM')
      throw new Error(`verdaccio did not start:\n${log}`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }

  // Register a user (verdaccio's htpasswd plugin allows it) to get a publish token.
  const res = await fetch(`${url}-/user/org.couchdb.user:acme-test`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'acme-test', password: 'acme-test-password', type: 'user' }),
  })
  if (!res.ok) throw new Error(`could not register a registry user: ${res.status} ${await res.text()}`)
  const { token } = await res.json()
  const hostKey = `//127.0.0.1:${port}/`

  return {
    url,
    /** Writes an .npmrc in `dir` that takes the @acme scope from this registry. */
    npmrc(dir) {
      fs.writeFileSync(path.join(dir, '.npmrc'), `@acme:registry=${url}\n${hostKey}:_authToken=${token}\n`)
    },
    /** Publishes a tarball (run from `dir`, which must have the .npmrc). */
    publish(tarball, dir) {
      execFileSync('npm', ['publish', tarball, '--registry', url, '--access', 'public'], {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, npm_config_userconfig: path.join(dir, '.npmrc') },
      })
    },
    /** GET a registry path as JSON. Retries once: verdaccio closes idle keep-alive sockets
     * that Node's fetch may still hand out. */
    async getJson(p) {
      for (let attempt = 0; ; attempt++) {
        try {
          const res = await fetch(`${url}${p}`)
          return await res.json()
        } catch (err) {
          if (attempt > 0) throw new Error(`registry unreachable (${err.cause || err}); its log:\n${log}`)
        }
      }
    },
    log: () => log,
    stop() {
      return new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', resolve)
        child.kill('SIGTERM')
      })
    },
  }
}

module.exports = { startRegistry }
