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
const { ensureBuilt } = require('./helpers/fixtures')
const { startOracle, startAcme, stop } = require('./helpers/runtime-servers')
const { request, view } = require('./helpers/differential')

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

  for (const r of REQUESTS) {
    const method = r.method || 'GET'
    test(`${method} ${r.path}${r.headers ? ` ${JSON.stringify(r.headers)}` : ''}`, async () => {
      const [a, n] = [await request(acme.origin, r), await request(oracle.origin, r)]
      assert.deepEqual(zooView(a, method), zooView(n, method))
    })
  }
})
