'use strict'

// Node middleware (`proxy.js`, Next 16's Node.js-runtime middleware) through `acme-next start`,
// compared with `next start` on the same build (the `proxy` fixture): continue with response
// headers, request-header overrides seen by the page and by routing after the proxy, rewrites
// (static and dynamic targets, with query), redirects (307/308), full responses, cookies, a
// matcher that skips paths, and a proxy that throws. The proxy uses Node-only APIs (node:crypto,
// process.versions), so it only answers right when it runs as Node code in the server process.

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { ensureBuilt } = require('./helpers/fixtures')
const { startOracle, startAcme, stop } = require('./helpers/runtime-servers')
const { request, view, renderTime } = require('./helpers/differential')
const http = require('node:http')
const zlib = require('node:zlib')
const { freePort } = require('./helpers/net')

/**
 * The upstream of the external rewrites: echoes what reached it (method, path, host,
 * x-forwarded-host, body) with upstream headers and cookies; `/redirect` answers a redirect the
 * proxy must not follow, `/gzip` an encoded body it must pass through as is.
 */
function startUpstream() {
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      if (req.url.startsWith('/redirect')) {
        res.writeHead(302, { location: '/elsewhere', 'x-upstream': '1' })
        return res.end()
      }
      const echo = JSON.stringify({
        method: req.method,
        url: req.url,
        host: req.headers.host,
        forwardedHost: req.headers['x-forwarded-host'],
        body: Buffer.concat(chunks).toString(),
        cookie: req.headers.cookie,
      })
      const headers = { 'content-type': 'application/json', 'x-upstream': '1', 'set-cookie': ['up1=a; Path=/', 'up2=b; Path=/'] }
      if (req.url.startsWith('/gzip')) {
        res.writeHead(201, { ...headers, 'content-encoding': 'gzip' })
        return res.end(zlib.gzipSync(echo))
      }
      res.writeHead(200, headers)
      res.end(echo)
    })
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

const REQUESTS = [
  { path: '/' },
  { path: '/?_rsc', headers: { rsc: '1' } },
  { path: '/show' },
  { path: '/show?x=1&x=2' },
  { path: '/rewrite' },
  { path: '/rewrite', headers: { rsc: '1' } },
  { path: '/rewrite-dynamic' },
  { path: '/items/5?a=b' },
  { path: '/redirect' },
  { path: '/redirect-permanent' },
  { path: '/json' },
  { path: '/teapot' },
  { path: '/cookie' },
  { path: '/show?block=1' },
  { path: '/api/echo', headers: { cookie: 'a=1' } },
  { path: '/hello.txt' },
  { path: '/skip.txt' },
  { path: '/nope' },
  { path: '/throws' },
  { path: '/json', method: 'HEAD' },
  // Rewrites whose `has`/`missing` read x-tier, as the request sent it or as the proxy left it.
  { path: '/tier' },
  { path: '/tier', headers: { 'x-tier': 'gold' } },
  { path: '/tier?set=gold' },
  { path: '/tier?set=silver', headers: { 'x-tier': 'gold' } },
  { path: '/tier?drop=1', headers: { 'x-tier': 'gold' } },
  { path: '/tier?set=gold', headers: { 'x-tier': 'gold' } },
]

// Headers the proxy sets or that show how its answer was applied; the origin of an absolute URL
// is the server's own and differs by port.
const PROXY_HEADERS = ['x-proxy-ran', 'set-cookie', 'x-middleware-rewrite', 'refresh', 'x-upstream', 'content-encoding']

function proxyView(res, method, origin) {
  const out = view(res, method)
  for (const name of PROXY_HEADERS) {
    const v = res.headers[name]
    if (v !== undefined) out[name] = [].concat(v).join('\n').replace(new RegExp(`//[^/]+:${new URL(origin).port}\\b`, 'g'), '//<host>')
  }
  // The upstream echoes the x-forwarded-host it got: the server's own host, which differs by port.
  out.body = String(out.body).replace(new RegExp(`(localhost|127\\.0\\.0\\.1):${new URL(origin).port}`, 'g'), '<host>')
  return out
}

describe('proxy.js (Node middleware) against next start', () => {
  let acme
  let oracle
  before(async () => {
    ensureBuilt('proxy')
    acme = await startAcme('proxy')
    // On localhost, next start's default: there the URL middleware sees has the host Next names
    // a loopback request by, so a rewrite built from it is internal (with `-H 127.0.0.1` next
    // start would take it for an external one and proxy it to itself).
    oracle = await startOracle('proxy', { hostname: 'localhost' })
  })
  after(async () => {
    await stop(acme)
    await stop(oracle)
  })

  test('the build has Node middleware', () => {
    const manifest = require(require('node:path').join(ensureBuilt('proxy'), 'manifest.json'))
    const mw = manifest.functions.find((f) => f.kind === 'middleware')
    assert.equal(mw && mw.runtime, 'nodejs')
  })

  // An A/B split by cookie: the proxy rewrites `/ab` to `/variant-b` for `variant=b`, else to
  // `/variant-a`, two ISR pages (revalidate = 1). A stale hit's regeneration is routed again,
  // through the proxy: until the twenty-eighth session it went without the request's cookies, so
  // it regenerated `/variant-a` and `/variant-b` stayed stale with the build's render for good.
  // The same by a request header, in a rewrite's `has` (`/ab-tier`, `x-tier: gold`): until the
  // same session the regeneration carried only a few headers, not this one.
  const SPLITS = [
    { path: '/ab', headers: { cookie: 'theme=dark; variant=b' } },
    { path: '/ab-tier', headers: { 'x-tier': 'gold' } },
  ]
  for (const b of SPLITS) test(`a page reached through a rewrite by ${b.headers.cookie ? 'cookie' : 'header'} regenerates, as on next start`, { timeout: 60_000 }, async () => {
    for (const server of [oracle, acme]) {
      const first = await request(server.origin, b)
      assert.match(String(first.body), /Variant b/, server.origin)
      const built = renderTime(first)
      // Stale once its revalidate has passed: served stale, regenerated in the background.
      await new Promise((r) => setTimeout(r, 1300))
      assert.equal((await request(server.origin, b)).headers['x-nextjs-cache'], 'STALE', server.origin)
      let fresh
      for (let i = 0; i < 50 && !fresh; i++) {
        await new Promise((r) => setTimeout(r, 100))
        const res = await request(server.origin, b)
        if (renderTime(res) !== built && /Variant b/.test(String(res.body))) fresh = res
      }
      assert.ok(fresh, `${server.origin}: /variant-b was regenerated`)
    }
  })

  // A stale hit's regeneration renders the page the request was routed to: next start renders it
  // in the request's own handler, after the proxy ran once. acme's regeneration is a request to
  // itself, which until the twenty-ninth session was routed again, through the proxy: a proxy
  // with side effects (a log, a rate limit, a counter) ran twice for one stale hit.
  test('a stale hit runs the proxy once, its regeneration does not run it again', { timeout: 60_000 }, async () => {
    const countOf = async (server) => JSON.parse(String((await request(server.origin, { path: '/proxy-count' })).body)).counted
    for (const server of [oracle, acme]) {
      const before = await countOf(server)
      const first = await request(server.origin, { path: '/counted' })
      const built = renderTime(first)
      await new Promise((r) => setTimeout(r, 1300))
      assert.equal((await request(server.origin, { path: '/counted' })).headers['x-nextjs-cache'], 'STALE', server.origin)
      let sent = 2
      let fresh
      for (let i = 0; i < 50 && !fresh; i++) {
        await new Promise((r) => setTimeout(r, 100))
        const res = await request(server.origin, { path: '/counted' })
        sent++
        if (renderTime(res) !== built) fresh = res
      }
      assert.ok(fresh, `${server.origin}: /counted was regenerated`)
      assert.equal((await countOf(server)) - before, sent, `${server.origin}: the proxy ran once per request`)
    }
  })

  // The route a regeneration carries is taken from the server itself only (with its secret): a
  // client naming a route is routed as any request, through the proxy.
  test('a route named by a client is not taken', async () => {
    const { createRouter } = require('../runtime/router')
    const dir = ensureBuilt('proxy')
    const router = createRouter(require('node:fs').readFileSync(require('node:path').join(dir, 'manifest.json'), 'utf8'))
    const show = router.resolve({ url: '/show', headers: {} })
    const packed = (show.kind === 'middleware' ? router.resume(show.continuation, {}) : show).packed
    const headers = { 'x-acme-revalidate': 'guessed', 'x-acme-regen-route': encodeURIComponent(packed) }
    for (const path of ['/nope', '/show?block=1']) {
      const expected = proxyView(await request(oracle.origin, { path }), 'GET', oracle.origin)
      assert.deepEqual(proxyView(await request(acme.origin, { path, headers }), 'GET', acme.origin), expected, path)
    }
  })

  for (const r of REQUESTS) {
    const method = r.method || 'GET'
    test(`${method} ${r.path}${r.headers ? ` ${JSON.stringify(r.headers)}` : ''}`, async () => {
      const headers = { ...r.headers }
      const [a, n] = [await request(acme.origin, { ...r, headers }), await request(oracle.origin, { ...r, headers })]
      assert.deepEqual(proxyView(a, method, acme.origin), proxyView(n, method, oracle.origin))
    })
  }

  describe('external rewrites (proxied like next start)', () => {
    let upstream
    let upstreamOrigin
    let closedOrigin
    before(async () => {
      upstream = await startUpstream()
      upstreamOrigin = `http://127.0.0.1:${upstream.address().port}`
      closedOrigin = `http://127.0.0.1:${await freePort()}`
    })
    after(() => new Promise((resolve) => upstream.close(resolve)))

    const CASES = [
      { path: '/ext/echo?a=1&b=%20x' },
      { path: '/ext/echo', headers: { cookie: 'c=1' } },
      { path: '/ext/echo', method: 'POST', body: 'posted body' },
      { path: '/ext/echo', method: 'HEAD' },
      { path: '/ext/redirect' },
      { path: '/ext/gzip', headers: { 'accept-encoding': 'gzip' } },
    ]
    for (const c of CASES) {
      const method = c.method || 'GET'
      test(`${method} ${c.path}${c.body ? ' with a body' : ''}`, async () => {
        const headers = { 'x-upstream': upstreamOrigin, ...c.headers }
        const [a, n] = [await request(acme.origin, { ...c, headers }), await request(oracle.origin, { ...c, headers })]
        assert.deepEqual(proxyView(a, method, acme.origin), proxyView(n, method, oracle.origin))
        if (method === 'GET' && c.path.startsWith('/ext/echo')) {
          const echo = JSON.parse(a.body.toString())
          assert.equal(echo.host, new URL(upstreamOrigin).host, 'host is the upstream')
        }
      })
    }

    test('an upstream that is down: 500, and the server keeps serving', async () => {
      const headers = { 'x-upstream': closedOrigin }
      const [a, n] = [await request(acme.origin, { path: '/ext/echo', headers }), await request(oracle.origin, { path: '/ext/echo', headers })]
      assert.equal(a.status, 500)
      assert.deepEqual(proxyView(a, 'GET', acme.origin), proxyView(n, 'GET', oracle.origin))
      assert.equal((await fetch(`${acme.origin}/`)).status, 200)
    })
  })

  test('the proxy ran as Node code, and its failure was logged once with its id', async () => {
    const res = await fetch(`${acme.origin}/json`)
    assert.equal((await res.json()).runtime, 'nodejs')
    const errors = acme.child.output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .filter((l) => l.level === 'error' && /proxy: throws/.test(l.error || ''))
    assert.equal(errors.length, 1, JSON.stringify(errors))
    assert.equal(errors[0].route, '/_middleware')
  })
})
