'use strict'

// Spawns `next start` (the oracle) and `acme-next start` on loopback ports, stops them by PID.

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { ROOT, NEXT_BIN, fixtureDir } = require('./fixtures')
const { freePort } = require('./net')

const CLI = path.join(ROOT, 'runtime', 'cli.js')


/** Waits until `url` answers (any status); fails when the child exits first. */
async function waitFor(url, child, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${child.output}`)
    try {
      const res = await fetch(url, { redirect: 'manual' })
      await res.arrayBuffer()
      return
    } catch {
      await new Promise((r) => setTimeout(r, 200))
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms:\n${child.output}`)
}

function track(child) {
  child.output = ''
  child.stdout.on('data', (d) => (child.output += d))
  child.stderr.on('data', (d) => (child.output += d))
  return child
}

/**
 * Copies a built fixture for `next start` (which rewrites `.next` in place) to
 * `__test__/fixtures/.oracle-<name>/` (same depth: `next` resolves from the repo) and starts it.
 * `opts.src` / `opts.nextBin` point at a fixture built elsewhere (the version matrix).
 * `opts.hostname` (default `127.0.0.1`) is next start's `-H`, which is also the host of the URL
 * middleware sees there; a second oracle of the same fixture takes another `opts.hostname`.
 */
async function startOracle(name, opts = {}) {
  const src = opts.src || fixtureDir(name)
  const nextBin = opts.nextBin || NEXT_BIN
  const env = opts.env || {}
  const hostname = opts.hostname || '127.0.0.1'
  const dir = path.join(path.dirname(src), `.oracle-${name}${opts.hostname ? `-${opts.hostname}` : ''}`)
  fs.rmSync(dir, { recursive: true, force: true })
  fs.cpSync(src, dir, { recursive: true, preserveTimestamps: true, filter: (p) => !p.startsWith(path.join(src, '.acme')) })
  const port = await freePort()
  const child = track(
    spawn(process.execPath, [nextBin, 'start', '-p', String(port), '-H', hostname], {
      cwd: dir,
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  )
  const origin = `http://${hostname}:${port}`
  await waitFor(`${origin}/`, child)
  return { child, origin, dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) }
}

/**
 * Copies a fixture's `.acme/output` to a temp dir outside the repo and starts `acme-next start` on
 * it, with extra `opts.env` (e.g. limits) and CLI `opts.args`. `opts.src` names a fixture built
 * elsewhere, `opts.cli` another installed `acme-next`.
 */
async function startAcme(name, opts = {}) {
  const { env = {}, args = [] } = opts
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `acme-rt-${name}-`))
  const out = path.join(tmp, 'output')
  fs.cpSync(path.join(opts.src || fixtureDir(name), '.acme', 'output'), out, { recursive: true, preserveTimestamps: true })
  const port = await freePort()
  const child = track(
    spawn(process.execPath, [opts.cli || CLI, 'start', '--dir', out, '--port', String(port), '--hostname', '127.0.0.1', ...args], {
      cwd: tmp,
      env: { ...process.env, ACME_LOG: 'silent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  )
  await new Promise((resolve, reject) => {
    const onData = () => {
      if (/ready on http:\/\/127\.0\.0\.1:\d+\n/.test(child.output)) resolve()
    }
    child.stdout.on('data', onData)
    child.once('exit', (code) => reject(new Error(`acme-next exited with ${code}:\n${child.output}`)))
  })
  return { child, origin: `http://127.0.0.1:${port}`, dir: tmp, cleanup: () => fs.rmSync(tmp, { recursive: true, force: true }) }
}

/** Stops a spawned server by its PID and waits for it to exit. */
async function stop(server) {
  if (!server) return
  const { child } = server
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    process.kill(child.pid, 'SIGTERM')
    const timer = setTimeout(() => child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }
  server.cleanup()
}

module.exports = { freePort, startOracle, startAcme, stop }
