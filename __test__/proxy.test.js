'use strict'

// Node middleware (`proxy.js`, Next 16's Node.js-runtime middleware) through `acme-next start`,
// compared with `next start` on the same build (the `proxy` fixture): continue with response
// headers, request-header overrides seen by the page, rewrites (static and dynamic targets, with
// query), redirects (307/308), full responses, cookies, a matcher that skips paths, and a proxy
// that throws. The proxy uses Node-only APIs (node:crypto, process.versions), so it only answers
// right when it runs as Node code in the server process.

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { ensureBuilt } = require('./helpers/fixtures')
const { startOracle, startAcme, stop } = require('./helpers/runtime-servers')
const { request, view } = require('./helpers/differential')

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
]

// Headers the proxy sets or that show how its answer was applied; the origin of an absolute URL
// is the server's own and differs by port.
const PROXY_HEADERS = ['x-proxy-ran', 'set-cookie', 'x-middleware-rewrite', 'refresh']

function proxyView(res, method, origin) {
  const out = view(res, method)
  for (const name of PROXY_HEADERS) {
    const v = res.headers[name]
    if (v !== undefined) out[name] = [].concat(v).join('\n').replace(new RegExp(`//[^/]+:${new URL(origin).port}\\b`, 'g'), '//<host>')
  }
  return out
}

describe('proxy.js (Node middleware) against next start', () => {
  let acme
  let oracle
  before(async () => {
    ensureBuilt('proxy')
    acme = await startAcme('proxy')
    oracle = await startOracle('proxy')
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

  for (const r of REQUESTS) {
    const method = r.method || 'GET'
    test(`${method} ${r.path}${r.headers ? ` ${JSON.stringify(r.headers)}` : ''}`, async () => {
      const headers = { ...r.headers }
      const [a, n] = [await request(acme.origin, { ...r, headers }), await request(oracle.origin, { ...r, headers })]
      assert.deepEqual(proxyView(a, method, acme.origin), proxyView(n, method, oracle.origin))
    })
  }

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
