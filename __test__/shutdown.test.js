'use strict'

// Graceful shutdown of `acme-next start`: on SIGTERM and SIGINT it stops accepting connections,
// lets in-flight requests (a slow streaming route) and pending waitUntil work (`after()`) finish,
// then exits 0; past the drain timeout it cuts them off and exits 1. Failure conditions are
// generous bounds, not timings.

const { describe, test, before } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { ensureBuilt } = require('./helpers/fixtures')
const { startAcme, stop } = require('./helpers/runtime-servers')

const BOUND_MS = 30_000

/** Resolves with the exit code (or signal) of the server's process, failing after BOUND_MS. */
function exited(server) {
  return new Promise((resolve, reject) => {
    if (server.child.exitCode !== null) return resolve(server.child.exitCode)
    const timer = setTimeout(() => reject(new Error(`server did not exit within ${BOUND_MS} ms:\n${server.child.output}`)), BOUND_MS)
    server.child.once('exit', (code, signal) => {
      clearTimeout(timer)
      resolve(code === null ? signal : code)
    })
  })
}

/**
 * Starts a streaming GET; resolves `{ firstChunk, done }` once the first chunk arrived. `done`
 * resolves `{ body, complete }` (complete: the response ended cleanly).
 */
function streaming(origin, pathname, agent) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${origin}${pathname}`, { agent }, (res) => {
      let body = ''
      const done = new Promise((resolveDone) => {
        res.on('data', (c) => {
          body += c
        })
        res.on('end', () => resolveDone({ body, complete: res.complete }))
        res.on('error', () => resolveDone({ body, complete: false }))
        res.on('aborted', () => resolveDone({ body, complete: false }))
      })
      res.once('data', () => resolve({ status: res.statusCode, done }))
    })
    req.on('error', reject)
  })
}

/** Polls until a new connection is refused (the listener closed). */
async function refusesConnections(origin) {
  const deadline = Date.now() + BOUND_MS
  while (Date.now() < deadline) {
    const refused = await new Promise((resolve) => {
      const req = http.get(`${origin}/ok`, { agent: false }, (res) => {
        res.resume()
        res.on('end', () => resolve(false))
      })
      req.on('error', (err) => resolve(err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET'))
    })
    if (refused) return true
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return false
}

describe('graceful shutdown', () => {
  before(() => ensureBuilt('faulty'))

  for (const signal of ['SIGTERM', 'SIGINT']) {
    test(`${signal}: in-flight requests and waitUntil work finish, new connections are refused, exit 0`, async () => {
      const server = await startAcme('faulty', { env: { ACME_DRAIN_TIMEOUT_MS: '20000' } })
      const marker = `m${crypto.randomBytes(6).toString('hex')}`
      const markerFile = path.join(os.tmpdir(), `acme-faulty-${marker}`)
      try {
        // an idle kept-alive connection must not hold the shutdown up
        const agent = new http.Agent({ keepAlive: true })
        const warm = await fetch(`${server.origin}/ok`)
        await warm.text()
        const slow = await streaming(server.origin, '/slow-stream?ms=200', agent)
        assert.equal(slow.status, 200)
        const accepted = await fetch(`${server.origin}/wait-until?marker=${marker}&ms=3000`)
        assert.equal(await accepted.text(), 'accepted')
        assert.equal(fs.existsSync(markerFile), false, 'the waitUntil work ran before the response')

        process.kill(server.child.pid, signal)
        assert.equal(await refusesConnections(server.origin), true, 'still accepting connections while draining')
        const { body, complete } = await slow.done
        assert.equal(complete, true, `the in-flight stream was cut off: ${JSON.stringify(body)}`)
        assert.equal(body.split('\n').filter(Boolean).length, 10)
        assert.equal(await exited(server), 0, server.child.output)
        assert.equal(fs.existsSync(markerFile), true, 'the waitUntil work did not finish before exit')
        agent.destroy()
      } finally {
        fs.rmSync(markerFile, { force: true })
        await stop(server)
      }
    })
  }

  test('past the drain timeout: in-flight work is cut off and the exit code says so', async () => {
    const server = await startAcme('faulty', { env: { ACME_DRAIN_TIMEOUT_MS: '500' } })
    try {
      const slow = await streaming(server.origin, '/slow-stream?ms=2000', undefined)
      process.kill(server.child.pid, 'SIGTERM')
      const { complete } = await slow.done
      assert.equal(complete, false)
      assert.equal(await exited(server), 1)
      assert.match(server.child.output, /drain timeout: exiting with work left/)
    } finally {
      await stop(server)
    }
  })

  test('a second signal while draining exits at once', async () => {
    const server = await startAcme('faulty', { env: { ACME_DRAIN_TIMEOUT_MS: '60000' } })
    try {
      const slow = await streaming(server.origin, '/slow-stream?ms=2000', undefined)
      process.kill(server.child.pid, 'SIGTERM')
      await refusesConnections(server.origin)
      process.kill(server.child.pid, 'SIGINT')
      assert.equal(await exited(server), 1)
      assert.equal((await slow.done).complete, false)
    } finally {
      await stop(server)
    }
  })
})
