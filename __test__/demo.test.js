'use strict'

// `npm run demo` is the README's main job: it must build examples/demo through the adapter and
// serve it on $PORT.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const { freePort } = require('./helpers/net')

const ROOT = path.resolve(__dirname, '..')


async function waitFor(url, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  let exited = null
  child.once('exit', (code) => (exited = code))
  while (Date.now() < deadline) {
    if (exited !== null) throw new Error(`demo exited early with ${exited}`)
    try {
      return await fetch(url)
    } catch {
      await new Promise((r) => setTimeout(r, 250))
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`)
}

test('npm run demo builds the demo through the adapter and serves it on $PORT', { timeout: 240_000 }, async () => {
  const port = await freePort()
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'demo.js')], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  try {
    const home = await waitFor(`http://127.0.0.1:${port}/`, child, 200_000)
    assert.equal(home.status, 200)
    assert.match(await home.text(), /Deployed with @acme\/next-adapter/)
    const api = await fetch(`http://127.0.0.1:${port}/api/time`)
    assert.equal(api.status, 200)
    assert.ok((await api.json()).now)
    assert.match(output, /acme: wrote \.acme\/output/)
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples/demo/.acme/output/manifest.json'), 'utf8'))
    assert.ok(manifest.staticFiles.some((s) => s.pathname === '/logo.svg'))
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }
})
