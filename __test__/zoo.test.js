'use strict'

// The `zoo` fixture: features of real apps the other fixtures leave out — metadata routes
// (sitemap, robots, manifest, icon), next/og images on the node and edge runtimes, notFound() /
// redirect() / permanentRedirect() from server components, streaming with loading.js, an edge
// page, after(), cookies set by a route handler, a force-static route handler, dynamicParams =
// false, and pages-router getServerSideProps pages (plain, redirect, notFound) beside the app
// router, URLs naming Flight outputs —
// `acme-next start` against `next start` on the same build.

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { ensureBuilt, fixtureDir } = require('./helpers/fixtures')
const { startOracle, startAcme, stop } = require('./helpers/runtime-servers')
const { request, view, renderTime } = require('./helpers/differential')

const RSC = { rsc: '1' }

const REQUESTS = [
  { path: '/' },
  { path: '/sitemap.xml' },
  { path: '/robots.txt' },
  { path: '/manifest.webmanifest' },
  { path: '/icon.png' },
  { path: '/og?title=hello' },
  { path: '/edge-og' },
  { path: '/gone' },
  { path: '/gone?_rsc', headers: RSC },
  { path: '/moved' },
  { path: '/moved?_rsc', headers: RSC },
  { path: '/perm' },
  { path: '/static-params/1' },
  { path: '/static-params/2?_rsc', headers: RSC },
  { path: '/static-params/3' },
  { path: '/streaming' },
  // experimental.validateRSCRequestHeaders is off in this app: no 307 to a `_rsc` URL.
  { path: '/streaming', headers: RSC },
  { path: '/static-params/1?_rsc=wrong', headers: { ...RSC, 'next-router-prefetch': '1' } },
  { path: '/edge-page?name=zed' },
  { path: '/api/after' },
  { path: '/api/cookies', headers: { cookie: 'incoming=1' } },
  { path: '/api/force-static' },
  { path: '/api/redirect' },
  { path: '/gssp-redirect' },
  { path: '/gssp-notfound' },
  // A subresource (an image, a script) at a page whose data says notFound: the plain 404 of a
  // matched route (with the router Vary, in an app with an app directory).
  { path: '/gssp-notfound', headers: { 'sec-fetch-dest': 'image' } },
  { path: '/gone', headers: { 'sec-fetch-dest': 'script' } },
  // URLs naming Flight outputs: a pages-router page's `.rsc` (`{}`), a dynamicParams = false
  // route's twin (the route's 404, as for a parameter never prerendered), a segment.
  { path: '/gssp-notfound.rsc' },
  { path: '/static-params/1.rsc' },
  { path: '/static-params/3.rsc' },
  { path: '/static-params/1.segments/_tree.segment.rsc' },
  { path: '/gssp-redirect', headers: RSC },
  { path: '/zoo.txt' },
  { path: '/nope' },
]

// Compared beyond the common view: what these features set.
const EXTRA = ['set-cookie']

function zooView(res, method) {
  const out = view(res, method)
  for (const name of EXTRA) if (res.headers[name] !== undefined) out[name] = [].concat(res.headers[name]).join('\n')
  return out
}

describe('zoo fixture against next start', () => {
  let acme
  let oracle
  before(async () => {
    ensureBuilt('zoo')
    acme = await startAcme('zoo')
    oracle = await startOracle('zoo')
  })
  after(async () => {
    await stop(acme)
    await stop(oracle)
  })

  // Next's minimal mode takes `nxtP<param>` query keys as the route's params, over the path's
  // (the platform sets them): a client's own must not reach the page. They did, and a stale
  // hit's regeneration stored the page rendered for the client's param under the path: after
  // `/isr-param/first?nxtPslug=evil`, every visitor of `/isr-param/first` got "ISR param evil".
  test("a client's nxtP query keys are not the route's params, also when they trigger a regeneration", async () => {
    const buildId = require(path.join(fixtureDir('zoo'), '.acme', 'output', 'manifest.json')).buildId
    const h1 = (res) => {
      const text = String(res.body)
      const m = text.match(/<h1[^>]*>([\s\S]*?)<\/h1>/)
      return m ? m[1].replace(/<!-- -->/g, '') : text.slice(0, 80)
    }
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
    const steps = [
      // The entry is stale a second after it was rendered (revalidate = 1): a request then is
      // answered from it and regenerates it, with the request's query.
      { path: '/isr-param/first' }, { wait: 1300 }, { path: '/isr-param/first?nxtPslug=evil' }, { wait: 1500 }, { path: '/isr-param/first' },
      { path: '/isr-param/first?nxt%50slug=evil&a=1' }, { wait: 1500 }, { path: '/isr-param/first' },
      { path: '/isr-param-pages/1' }, { wait: 1300 }, { path: '/isr-param-pages/1?nxtPid=9' }, { wait: 1500 }, { path: '/isr-param-pages/1' },
      { path: `/_next/data/${buildId}/isr-param-pages/1.json?nxtPid=8` }, { wait: 1500 }, { path: '/isr-param-pages/1' },
      // Not prerendered: the dynamic route's own param wins over the client's.
      { path: '/isr-param-pages/5?nxtPid=9' },
    ]
    const run = async (origin) => {
      const out = []
      for (const step of steps) {
        if (step.wait) await sleep(step.wait)
        else {
          const res = await request(origin, step)
          out.push(`${step.path} ${res.status} ${res.headers['content-type']?.includes('json') ? String(res.body).match(/"id":"[^"]*"/)?.[0] : h1(res)}`)
        }
      }
      return out
    }
    const [n, a] = [await run(oracle.origin), await run(acme.origin)]
    const rendered = (line) => line.split(' ').slice(2).join(' ')
    assert.ok(n.every((line) => !/evil|\b[89]\b/.test(rendered(line))), `next start renders the path's params: ${n.join(' | ')}`)
    assert.deepEqual(a, n)
  })

  // A URL can spell a page's param several ways; next start keys its cache by the decoded path, as
  // the build names its prerenders (`/encoded/café`, `/encoded/a b`). acme keyed by the URL as
  // sent until the twenty-ninth session: a browser's spelling (`caf%C3%A9`, `a%20b`) never found
  // the build's render (every such request rendered the page again, a MISS), and `a,b` and
  // `a%2Cb` were two entries. Compared with the render's time, which shows which entry answered.
  test('every spelling of a path is one cache entry, the build\'s for a prerendered one', async () => {
    const steps = [
      '/encoded/a%20b', '/encoded/a,b', '/encoded/a%2Cb', '/encoded/caf%C3%A9', '/encoded/%5Bx%5D', '/encoded/[x]',
      // Generated here: the second spelling is the first's entry; delimiters stay escaped.
      '/encoded/new,one', '/encoded/new%2Cone', '/encoded/new%2cone?_rsc', '/encoded/sl%2Fash', '/encoded/sl%2fash', '/encoded/pc%25t', '/encoded/pc%25t',
      '/encoded-pages/a%20b', '/encoded-pages/a%2Cb', '/encoded-pages/caf%C3%A9', '/encoded-pages/n,1', '/encoded-pages/n%2C1',
    ]
    const run = async (origin) => {
      const out = []
      const times = new Map()
      for (const path of steps) {
        const res = await request(origin, { path, headers: path.includes('_rsc') ? RSC : {} })
        // Times as first seen, numbered: the same number is the same render.
        const t = renderTime(res)
        if (t && !times.has(t)) times.set(t, times.size)
        out.push(`${path} ${res.status} ${res.headers['x-nextjs-cache']} render#${t ? times.get(t) : '-'}`)
      }
      return out
    }
    const [n, a] = [await run(oracle.origin), await run(acme.origin)]
    assert.ok(n.filter((line) => / HIT /.test(line)).length >= 10, `next start answers most spellings from one entry: ${n.join(' | ')}`)
    assert.deepEqual(a, n)
  })

  // A path that is no valid percent-encoding where a dynamic route matched: next start's router
  // cannot decode the params and renders its 400 with the error page (an RSC request's `_rsc`
  // checked first, as for any page). acme invoked the page, which threw: a 500.
  test('params that cannot be decoded: a 400 from the error page', async () => {
    for (const r of [
      { path: '/encoded/%E0%A4%A' }, { path: '/encoded/%E0%A4%A', method: 'HEAD' }, { path: '/encoded-pages/%E0%A4%A' },
      { path: '/static-params/%E0%A4%A' }, { path: '/isr-param/%E0%A4%A' }, { path: '/encoded/%E0%A4%A?_rsc', headers: RSC },
    ]) {
      const [a, n] = [await request(acme.origin, r), await request(oracle.origin, r)]
      assert.equal(n.status, 400, JSON.stringify(r))
      assert.deepEqual(zooView(a, r.method || 'GET'), zooView(n, r.method || 'GET'), JSON.stringify(r))
    }
  })

  // A route handler has no Flight form: an RSC request is answered from its cache entry, as any
  // request (acme rendered the handler for every RSC request until the twenty-eighth session).
  test('an RSC request to a cached route handler is a cache hit', async () => {
    const fresh = async (origin) => {
      for (let i = 0; i < 100; i++) {
        if ((await request(origin, { path: '/api/force-static' })).headers['x-nextjs-cache'] === 'HIT') return
        await new Promise((r) => setTimeout(r, 20))
      }
      assert.fail(`${origin}: /api/force-static never became a hit`)
    }
    await fresh(acme.origin)
    await fresh(oracle.origin)
    for (const r of [{ path: '/api/force-static?_rsc', headers: RSC }, { path: '/api/force-static', headers: { ...RSC, 'next-router-prefetch': '1', 'next-router-segment-prefetch': '/_tree' } }]) {
      const [a, n] = [await request(acme.origin, r), await request(oracle.origin, r)]
      assert.equal(a.headers['x-nextjs-cache'], 'HIT', JSON.stringify(r))
      assert.deepEqual(zooView(a, 'GET'), zooView(n, 'GET'))
    }
  })

  for (const r of REQUESTS) {
    const method = r.method || 'GET'
    test(`${method} ${r.path}${r.headers ? ` ${JSON.stringify(r.headers)}` : ''}`, async () => {
      const [a, n] = [await request(acme.origin, r), await request(oracle.origin, r)]
      assert.deepEqual(zooView(a, method), zooView(n, method))
    })
  }
})
