'use strict'

// Functions that fail in every way a function can (the `faulty` fixture): that request gets a
// 500 (504 after the function timeout), everything else keeps being served, and each failure is
// logged once, as one structured line naming the route. `next start` serves its own copy of the
// same build; where it answers, acme-next answers the same.

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { ensureBuilt } = require('./helpers/fixtures')
const { startOracle, startAcme, stop } = require('./helpers/runtime-servers')
const { rawExchange, parseResponses } = require('./helpers/raw-http')
const { request, view } = require('./helpers/differential')

const FUNCTION_TIMEOUT_MS = 1500
const BOUND_MS = 20_000

const get = (path) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`

/** The structured error lines the server wrote after `from` (its output offset). */
function errorLines(server, from) {
  return server.child.output
    .slice(from)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
    .filter((r) => r.level === 'error')
}

describe('faulty functions', () => {
  let acme
  let oracle
  before(async () => {
    ensureBuilt('faulty')
    acme = await startAcme('faulty', { env: { ACME_FUNCTION_TIMEOUT_MS: String(FUNCTION_TIMEOUT_MS) } })
    oracle = await startOracle('faulty')
  })
  after(async () => {
    await stop(acme)
    await stop(oracle)
  })

  /** The other routes still answer as before. */
  async function stillServing() {
    for (const [path, body] of [['/ok', 'ok'], ['/hello.txt', 'hello from public\n']]) {
      const res = await fetch(`${acme.origin}${path}`)
      assert.equal(res.status, 200, path)
      assert.equal(await res.text(), body)
    }
    const home = await fetch(`${acme.origin}/`)
    assert.equal(home.status, 200)
    assert.match(await home.text(), /faulty home/)
  }

  const FAILING = [
    { path: '/throws', status: 500, message: 'faulty: throws' },
    { path: '/rejects', status: 500, message: 'faulty: rejects' },
    { path: '/load-crash', status: 500, message: 'faulty: module load' },
    { path: '/page-throws', status: 500, message: 'faulty: page throws' },
    // an edge route handler (edge-runtime sandbox): logged under its output id
    { path: '/edge-throws', status: 500, message: 'faulty: edge throws', route: 'app/edge-throws/route' },
  ]
  // The failing responses themselves, compared as the runtime differential compares responses:
  // an edge function that throws is next start's plain-text 500 (acme served the 500 page until
  // the twenty-eighth session).
  test('the failing responses are the ones next start sends', async () => {
    for (const f of FAILING) {
      for (const method of ['GET', 'HEAD']) {
        const r = { method, path: f.path }
        const [a, n] = [await request(acme.origin, r), await request(oracle.origin, r)]
        assert.deepEqual({ ...view(a, method), etag: a.headers.etag }, { ...view(n, method), etag: n.headers.etag }, `${method} ${f.path}`)
      }
    }
  })

  for (const f of FAILING) {
    test(`${f.path}: ${f.status} like next start, logged once with the route, others keep being served`, async () => {
      for (let round = 0; round < 2; round++) {
        const from = acme.child.output.length
        const [a, n] = [await rawExchange(acme.origin, get(f.path), { timeoutMs: BOUND_MS }), await rawExchange(oracle.origin, get(f.path), { timeoutMs: BOUND_MS })]
        assert.equal(a.timedOut, false)
        assert.equal(parseResponses(a.text)[0].status, f.status)
        assert.equal(parseResponses(n.text)[0].status, f.status, 'next start')
        await stillServing()
        // every failing request is logged (round 2 too), each exactly once
        const lines = errorLines(acme, from)
        assert.equal(lines.length, 1, JSON.stringify(lines))
        assert.equal(lines[0].route, f.route || f.path)
        assert.match(lines[0].error, new RegExp(f.message))
        assert.ok(!acme.child.output.slice(from).split('\n').some((l) => !l.startsWith('{') && l.includes(f.message)), 'the error was also printed unstructured')
      }
    })
  }

  for (const [path, route] of [['/hangs', '/hangs'], ['/edge-hangs', 'app/edge-hangs/route']]) {
    test(`${path}: 504 after the function timeout; next start never answers`, async () => {
      const from = acme.child.output.length
      const pending = rawExchange(oracle.origin, get(path), { timeoutMs: FUNCTION_TIMEOUT_MS * 3 })
      const a = await rawExchange(acme.origin, get(path), { timeoutMs: BOUND_MS })
      assert.equal(a.timedOut, false)
      const res = parseResponses(a.text)[0]
      assert.equal(res.status, 504)
      assert.equal(res.body, 'Gateway Timeout')
      await stillServing()
      const lines = errorLines(acme, from)
      assert.deepEqual(lines.map((l) => [l.msg, l.route]), [['function timed out', route]])
      assert.equal((await pending).timedOut, true, 'next start answered a handler that never settles')
    })
  }

  test('/stream-throws: the started 200 is cut off (no clean end) in both, the server goes on', async () => {
    for (const server of [acme, oracle]) {
      const r = await rawExchange(server.origin, get('/stream-throws'), { timeoutMs: BOUND_MS })
      assert.equal(r.timedOut, false)
      assert.match(r.text, /^HTTP\/1\.1 200 /)
      assert.match(r.text, /first chunk/)
      assert.ok(!r.text.endsWith('\r\n0\r\n\r\n'), 'the failed stream ended like a complete response')
    }
    await stillServing()
  })

  test('/async-crash: an exception thrown from a timer is logged and the server keeps serving', async () => {
    const from = acme.child.output.length
    for (const server of [acme, oracle]) {
      const res = await fetch(`${server.origin}/async-crash`)
      assert.equal(res.status, 200)
      assert.equal(await res.text(), 'scheduled')
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
    assert.equal(acme.child.exitCode, null)
    assert.equal(oracle.child.exitCode, null)
    await stillServing()
    const lines = errorLines(acme, from)
    assert.equal(lines.length, 1, JSON.stringify(lines))
    assert.match(lines[0].error, /faulty: async crash/)
  })
})
