'use strict'

// Hostile requests against `acme-next start`, sent raw over `node:net` (request lines and heads
// exactly as written), each also sent to `next start` on the same build. Every case must be
// answered with its expected status and the connection closed within a generous socket timeout
// (a hang fails the test; no timing is asserted), and no answer may contain a secret planted
// beside the output (and inside it, outside what is served).
//
// Where acme-next deliberately answers differently from `next start`, the case says why.
// `HOSTILE_TABLE=1` prints the table the README's Hardening section shows.

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const { ensureBuilt } = require('./helpers/fixtures')
const { startOracle, startAcme, stop } = require('./helpers/runtime-servers')
const { rawExchange, parseResponses } = require('./helpers/raw-http')

const SECRET = `acme-secret-${crypto.randomBytes(12).toString('hex')}`
const BODY_LIMIT = 64 * 1024
const HEADERS_TIMEOUT_MS = 1500
const REQUEST_TIMEOUT_MS = 3000

const head = (line, headers = []) => `${line}\r\n${['Host: localhost', 'Connection: close', ...headers].join('\r\n')}\r\n\r\n`

/**
 * `acme`: the status acme-next answers; `next`: what `next start` answers (same when omitted);
 * `why`: the reason for a deliberate difference. `location`: the expected redirect target.
 */
const CASES = [
  { name: 'traversal ..', req: head('GET /../secret.txt HTTP/1.1'), acme: 404 },
  { name: 'traversal %2e%2e', req: head('GET /%2e%2e/secret.txt HTTP/1.1'), acme: 404 },
  { name: 'traversal %2E%2E under /_next/static', req: head('GET /_next/static/%2E%2E/%2E%2E/%2E%2E/secret.txt HTTP/1.1'), acme: 404 },
  { name: 'traversal double-encoded %252e', req: head('GET /%252e%252e/secret.txt HTTP/1.1'), acme: 404 },
  { name: 'traversal %2f', req: head('GET /_next/static/..%2f..%2f..%2fsecret.txt HTTP/1.1'), acme: 404 },
  { name: 'traversal %5c', req: head('GET /_next/static/..%5c..%5c..%5csecret.txt HTTP/1.1'), acme: 404 },
  { name: 'traversal raw dots under /_next/static', req: head('GET /_next/static/../../manifest.json HTTP/1.1'), acme: 404 },
  { name: 'backslashes', req: head('GET /..\\secret.txt HTTP/1.1'), acme: 308, location: '/secret.txt' },
  { name: 'backslash host', req: head('GET /\\evil.example/ok HTTP/1.1'), acme: 308, location: '/evil.example/ok' },
  { name: 'NUL encoded %00', req: head('GET /hello.txt%00 HTTP/1.1'), acme: 404 },
  { name: 'NUL encoded alone', req: head('GET /%00 HTTP/1.1'), acme: 404 },
  { name: 'NUL raw in request line', req: head('GET /hello.txt\0 HTTP/1.1'), acme: 400 },
  { name: 'output internals /manifest.json', req: head('GET /manifest.json HTTP/1.1'), acme: 404 },
  { name: 'output internals /server/...', req: head('GET /server/secret.txt HTTP/1.1'), acme: 404 },
  { name: 'planted file by name', req: head('GET /secret.txt HTTP/1.1'), acme: 404 },
  {
    name: 'absolute-form target',
    req: head('GET http://evil.example/hello.txt HTTP/1.1'),
    acme: 200,
    next: 308,
    why: 'RFC 9112 3.2.2: a server must accept the absolute form; acme-next serves its own file for the path. next start answers a 308 to http://evil.example/hello.txt: an open redirect to another host',
  },
  { name: '//host target', req: head('GET //evil.example/ok HTTP/1.1'), acme: 308, location: '/evil.example/ok' },
  { name: 'asterisk-form OPTIONS *', req: head('OPTIONS * HTTP/1.1'), acme: 400, next: 500, why: 'no server-wide OPTIONS here: a client error, not a server error' },
  { name: 'asterisk-form GET *', req: head('GET * HTTP/1.1'), acme: 400, next: 500, why: 'not a valid target for GET: a client error' },
  { name: 'relative target', req: head('GET hello.txt HTTP/1.1'), acme: 400 },
  {
    name: 'foreign Host on a trailing-slash redirect',
    req: 'GET /ok/ HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n',
    acme: 308,
    location: '/ok',
  },
  { name: 'invalid percent-encoding %zz', req: head('GET /%zz HTTP/1.1'), acme: 404 },
  { name: 'truncated percent-encoding', req: head('GET /%E0%A4%A HTTP/1.1'), acme: 404 },
  { name: 'invalid UTF-8 %ff', req: head('GET /ok%ff HTTP/1.1'), acme: 404 },
  { name: '100 KB header', req: head('GET /ok HTTP/1.1', [`X-Big: ${'a'.repeat(100 * 1024)}`]), acme: 431 },
  { name: '5,000 header lines', req: head('GET /ok HTTP/1.1', Array.from({ length: 5000 }, (_, i) => `X-H${i}: ${i}`)), acme: 431 },
  { name: 'long path (4 KB)', req: head(`GET /${'a'.repeat(4 * 1024)} HTTP/1.1`), acme: 404 },
  {
    name: 'overlong path (8 KB)',
    req: head(`GET /${'a'.repeat(8 * 1024)} HTTP/1.1`),
    acme: 414,
    next: 404,
    why: 'the Router runs no regex on a path over 8 KiB (its bound on per-request regex work): URI Too Long',
  },
  { name: 'overlong path (20 KB, over the head limit)', req: head(`GET /${'a'.repeat(20 * 1024)} HTTP/1.1`), acme: 431 },
  { name: '4,000 segments with a trailing slash', req: head(`GET /${'a/'.repeat(4000)} HTTP/1.1`), acme: 308 },
  { name: 'unknown method FOO', req: head('FOO /ok HTTP/1.1'), acme: 400 },
  { name: 'WebDAV method PROPFIND', req: head('PROPFIND /ok HTTP/1.1'), acme: 400 },
  {
    name: 'TRACE',
    req: head('TRACE /ok HTTP/1.1'),
    acme: 405,
    next: 500,
    why: 'TRACE reflects requests (cross-site tracing): refused before routing',
  },
  { name: 'DELETE on a prerendered page', req: head('DELETE / HTTP/1.1', ['Content-Length: 0']), acme: 405 },
  { name: 'POST on a prerendered page (not a server action)', req: head('POST / HTTP/1.1', ['Content-Length: 2', 'Content-Type: application/json']).replace(/\r\n\r\n$/, '\r\n\r\n{}'), acme: 405 },
  {
    name: 'POST on a public file',
    req: head('POST /hello.txt HTTP/1.1', ['Content-Length: 0']),
    acme: 405,
    next: 500,
    why: 'a wrong method is a client error: 405 with Allow, as next start answers for pages',
  },
  { name: 'DELETE on a route handler without DELETE', req: head('DELETE /ok HTTP/1.1', ['Content-Length: 0']), acme: 405 },
  { name: 'HTTP/1.1 without Host', req: 'GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n', acme: 400 },
  // No header routing reads at all: the Router is called with the URL alone.
  { name: 'HTTP/1.0 without Host', req: 'GET /ok HTTP/1.0\r\n\r\n', acme: 200 },
  { name: 'HTTP/1.0 without Host, public file', req: 'GET /hello.txt HTTP/1.0\r\n\r\n', acme: 200 },
  { name: 'Content-Length and Transfer-Encoding (smuggling)', req: head('POST /echo-body HTTP/1.1', ['Content-Length: 4', 'Transfer-Encoding: chunked']) + '0\r\n\r\n', acme: 400 },
  { name: 'two different Content-Lengths', req: head('POST /echo-body HTTP/1.1', ['Content-Length: 1', 'Content-Length: 2']) + 'ab', acme: 400 },
  { name: 'malformed chunked body', req: head('POST /echo-body HTTP/1.1', ['Transfer-Encoding: chunked']) + 'zz\r\nabc\r\n0\r\n\r\n', acme: 400 },
  {
    name: `body over the limit (content-length, limit ${BODY_LIMIT})`,
    req: head('POST /echo-body HTTP/1.1', [`Content-Length: ${BODY_LIMIT * 4}`]) + 'x'.repeat(BODY_LIMIT * 4),
    acme: 413,
    next: 200,
    why: 'the platform bounds request bodies (--max-body-bytes); next start reads any size into a route handler',
  },
  {
    name: 'body over the limit (chunked)',
    req: head('POST /echo-body HTTP/1.1', ['Transfer-Encoding: chunked']) + `${(BODY_LIMIT * 4).toString(16)}\r\n${'x'.repeat(BODY_LIMIT * 4)}\r\n0\r\n\r\n`,
    acme: 413,
    next: 200,
    why: 'the same limit, counted as the body streams in',
  },
  { name: 'body under the limit', req: head('POST /echo-body HTTP/1.1', ['Content-Length: 1000']) + 'x'.repeat(1000), acme: 200 },
]

const BOUND_MS = 20_000
let acme
let oracle

function plant(dirs) {
  for (const d of dirs) {
    fs.mkdirSync(d, { recursive: true })
    fs.writeFileSync(path.join(d, 'secret.txt'), SECRET)
  }
}

async function answer(server, req) {
  const r = await rawExchange(server.origin, req, { timeoutMs: BOUND_MS })
  return { ...r, responses: parseResponses(r.text) }
}

function statusOf(r) {
  return r.responses.length ? r.responses[0].status : `no response (${r.timedOut ? 'timed out' : r.error || 'closed'})`
}

describe('hostile requests: acme-next start against next start on the faulty fixture', () => {
  const table = []
  before(async () => {
    ensureBuilt('faulty')
    acme = await startAcme('faulty', {
      env: { ACME_MAX_BODY_BYTES: String(BODY_LIMIT), ACME_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), ACME_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) },
    })
    oracle = await startOracle('faulty')
    // Beside the output, inside it where nothing is served, and the same around the oracle's build.
    plant([acme.dir, path.join(acme.dir, 'output'), path.join(acme.dir, 'output', 'server'), path.join(acme.dir, 'output', 'static')])
    plant([oracle.dir, path.join(oracle.dir, '.next'), path.join(oracle.dir, '.next', 'server')])
  })
  after(async () => {
    await stop(acme)
    await stop(oracle)
    if (process.env.HOSTILE_TABLE) console.log(table.join('\n'))
  })

  for (const c of CASES) {
    test(c.name, async () => {
      const [a, n] = [await answer(acme, c.req), await answer(oracle, c.req)]
      assert.equal(a.timedOut, false, `acme-next did not answer and close within ${BOUND_MS} ms`)
      assert.equal(n.timedOut, false, `next start did not answer and close within ${BOUND_MS} ms`)
      assert.ok(!a.text.includes(SECRET), 'acme-next leaked the planted secret')
      assert.ok(!n.text.includes(SECRET), 'next start leaked the planted secret')
      const expectedNext = c.next === undefined ? c.acme : c.next
      table.push(`| ${c.name} | ${statusOf(a)} | ${statusOf(n)} | ${c.why || ''} |`)
      assert.equal(statusOf(a), c.acme, `acme-next: ${a.text.slice(0, 300)}`)
      assert.equal(statusOf(n), expectedNext, `next start: ${n.text.slice(0, 300)}`)
      if (c.location) {
        assert.equal(a.responses[0].headers.location, c.location)
        assert.equal(n.responses[0].headers.location, c.location)
      }
      if (c.acme === 200 && c.name.startsWith('body')) assert.deepEqual(JSON.parse(a.responses[0].body), { bytes: 1000 })
    })
  }

  test('pipelined requests are answered in order on one connection', async () => {
    const req =
      'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n' +
      'GET /ok HTTP/1.1\r\nHost: localhost\r\n\r\n' +
      'GET /missing HTTP/1.1\r\nHost: localhost\r\n\r\n' +
      'HEAD /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n' +
      'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
    for (const server of [acme, oracle]) {
      const r = await answer(server, req)
      assert.equal(r.timedOut, false)
      // a HEAD answer has a content-length but no body: read it by hand
      const statuses = [...r.text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))
      assert.deepEqual(statuses, [200, 200, 404, 200, 200], server === acme ? 'acme-next' : 'next start')
      assert.equal(r.responses[0].body, 'hello from public\n')
    }
  })

  test('a body that never finishes arriving gets 408 after the request timeout', async () => {
    const { port } = new URL(acme.origin)
    const net = require('node:net')
    const r = await new Promise((resolve) => {
      const socket = net.connect(Number(port), '127.0.0.1')
      const chunks = []
      socket.write('POST /echo-body HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n')
      const drip = setInterval(() => !socket.destroyed && socket.write('x'), 200)
      const timer = setTimeout(() => {
        clearInterval(drip)
        socket.destroy()
        resolve({ timedOut: true, text: '' })
      }, BOUND_MS)
      socket.on('data', (c) => chunks.push(c))
      socket.on('error', () => {})
      socket.on('close', () => {
        clearInterval(drip)
        clearTimeout(timer)
        resolve({ timedOut: false, text: Buffer.concat(chunks).toString('latin1') })
      })
    })
    assert.equal(r.timedOut, false, 'a slow body was not cut off by the request timeout')
    assert.match(r.text, /^HTTP\/1\.1 408 /)
  })

  test('slowloris clients get 408 and do not block others', async () => {
    // 30 clients send a head one byte at a time, never finishing it; meanwhile normal requests
    // are served, and each slow client is cut off by the headers timeout (acme-next only: next
    // start keeps Node's 60 s default).
    const slow = []
    for (let i = 0; i < 30; i++) {
      slow.push(
        (async () => {
          const { port } = new URL(acme.origin)
          const net = require('node:net')
          return new Promise((resolve) => {
            const socket = net.connect(Number(port), '127.0.0.1')
            const chunks = []
            const line = 'GET /ok HTTP/1.1\r\nHost: localhost\r\nX-Slow: '
            let i = 0
            const drip = setInterval(() => {
              if (!socket.destroyed) socket.write(i < line.length ? line[i++] : 'a')
            }, 100)
            const timer = setTimeout(() => {
              clearInterval(drip)
              socket.destroy()
              resolve({ timedOut: true, text: Buffer.concat(chunks).toString('latin1') })
            }, BOUND_MS)
            socket.on('data', (c) => chunks.push(c))
            socket.on('error', () => {})
            socket.on('close', () => {
              clearInterval(drip)
              clearTimeout(timer)
              resolve({ timedOut: false, text: Buffer.concat(chunks).toString('latin1') })
            })
          })
        })(),
      )
    }
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${acme.origin}/ok`)
      assert.equal(res.status, 200)
      assert.equal(await res.text(), 'ok')
    }
    const results = await Promise.all(slow)
    for (const r of results) {
      assert.equal(r.timedOut, false, 'a slow client was not cut off by the headers timeout')
      assert.match(r.text, /^HTTP\/1\.1 408 /)
    }
  })
})

// User regexes in next.config with catastrophic backtracking (`(?:a+)+b` on `aaa…c`; the same
// behind a lookahead, which keeps it out of linear-time engines; `^(a|aa)+$` as a `has` header
// value). `next start` (V8's backtracking engine) took 8.3 s here for one `/evil/` + 30 × `a` +
// `c` request, blocking its event loop: only short inputs go to it, to check that both agree on
// what matches. acme-next must answer every length up to the URL limit without stalling.
describe('pathological route patterns cannot stall the router', () => {
  const evil = (target, extra = []) => head(`GET ${target} HTTP/1.1`, extra)
  const cases = (n) => [
    { req: evil(`/evil/${'a'.repeat(n)}b`), status: 307 },
    { req: evil(`/evil/${'a'.repeat(n)}c`), status: 404 },
    { req: evil(`/evil2/${'a'.repeat(n)}b`), status: 307 },
    { req: evil(`/evil2/${'a'.repeat(n)}c`), status: 404 },
    { req: evil('/evil-header', [`X-Evil: ${'a'.repeat(n)}`]), status: 307 },
    { req: evil('/evil-header', [`X-Evil: ${'a'.repeat(n)}!`]), status: 404 },
  ]
  let server
  let next
  before(async () => {
    ensureBuilt('faulty')
    server = await startAcme('faulty')
    next = await startOracle('faulty')
  })
  after(async () => {
    await stop(server)
    await stop(next)
  })

  test('short inputs: acme-next and next start agree on what matches', async () => {
    for (const c of cases(12)) {
      const [a, n] = [await answer(server, c.req), await answer(next, c.req)]
      assert.equal(statusOf(a), c.status, c.req)
      assert.equal(statusOf(n), c.status, c.req)
    }
  })

  test('adversarial lengths up to 8 KB, all at once, beside a normal request', async () => {
    const all = [20, 30, 64, 1000, 8000 - 10].flatMap((n) => cases(n))
    const results = await Promise.all([...all.map((c) => answer(server, c.req)), answer(server, head('GET /ok HTTP/1.1'))])
    for (const [i, r] of results.entries()) {
      assert.equal(r.timedOut, false, `request ${i} was not answered within ${BOUND_MS} ms`)
      assert.equal(statusOf(r), i < all.length ? all[i].status : 200, i < all.length ? all[i].req.slice(0, 80) : '/ok')
    }
  })
})

// Headers that are internal to Next or to platforms, sent by a client: none may skip middleware
// (CVE-2025-29927 was `x-middleware-subrequest`), inject route params (`x-now-route-matches`,
// which minimal mode reads on platforms that strip it at their edge), pick another page
// (`x-matched-path`, `x-invoke-path`) or rewrite (`x-middleware-rewrite`). The app-router fixture
// has middleware on every path that marks the request (`fromMiddleware` in /api/hello).
describe('client-sent internal headers change nothing', () => {
  let server
  let next
  before(async () => {
    ensureBuilt('app-router')
    server = await startAcme('app-router')
    next = await startOracle('app-router')
  })
  after(async () => {
    await stop(server)
    await stop(next)
  })

  const h1 = (text) => ((/<h1[^>]*>([\s\S]*?)<\/h1>/.exec(text) || [])[1] || '').replace(/<!-- -->/g, '')
  const CASES = [
    ['/api/hello', { 'x-middleware-subrequest': 'middleware:middleware:middleware:middleware:middleware' }, (t) => JSON.parse(t).fromMiddleware === '1'],
    ['/api/hello', { 'x-middleware-subrequest': 'src/middleware:src/middleware:src/middleware:src/middleware:src/middleware' }, (t) => JSON.parse(t).fromMiddleware === '1'],
    ['/blog/zzz', { 'x-now-route-matches': 'nxtPslug=hacked' }, (t) => h1(t) === 'Blog: zzz'],
    ['/blog/zzz', { 'x-matched-path': '/about' }, (t) => h1(t) === 'Blog: zzz'],
    ['/about', { 'x-middleware-rewrite': '/api/hello' }, (t) => h1(t) === 'About'],
    ['/about', { 'x-invoke-path': '/api/hello', 'x-invoke-output': '/api/hello' }, (t) => h1(t) === 'About'],
  ]
  for (const [path, headers, ok] of CASES) {
    test(`${path} with ${Object.keys(headers).join(', ')}`, async () => {
      for (const s of [server, next]) {
        const res = await fetch(`${s.origin}${path}`, { headers, redirect: 'manual' })
        assert.equal(res.status, 200)
        const text = await res.text()
        assert.ok(ok(text), `${s === server ? 'acme-next' : 'next start'}: ${text.slice(0, 200)}`)
      }
    })
  }
})
