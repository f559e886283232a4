'use strict'

// The `app-basepath` fixture: the app router below a basePath (`/docs`) with trailingSlash and
// middleware — pages, payloads, an optional catch-all whose paths are all prerendered, a route
// handler, redirects, rewrites and headers of next.config, the not-found page — `acme-next start`
// against `next start` on the same build, in one sequence (the not-found page is a cached page:
// what one request renders, later ones serve).

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { ensureBuilt } = require('./helpers/fixtures')
const { startOracle, startAcme, stop } = require('./helpers/runtime-servers')
const { request, compareEach } = require('./helpers/differential')

const RSC = { rsc: '1' }

const requests = (buildId) => [
  // Outside the basePath: next start's 404 from the not-found page's cache entry. acme looked for
  // the build's 404 page at `/404` (it is `/docs/404`), found none, and rendered the page anew
  // for every 404 of a basePath app, keeping that render (later payloads were of it).
  { path: '/_middleware/' },
  { path: '/nope/' },
  { path: '/docs/nope/' },
  { path: '/docs/nope/', headers: RSC },
  { path: '/docs/about.rsc' },
  { path: '/docs/about/' },
  { path: '/docs/about' },
  { path: '/docs/about/?_rsc', headers: RSC },
  { path: '/docs/blog/first/' },
  { path: '/docs/blog/new/' },
  { path: '/docs/blog/new/' },
  { path: '/docs/shop/' },
  { path: '/docs/shop/a/b/' },
  { path: '/docs/shop/c/' },
  { path: '/docs/isr/' },
  // The `x-forwarded-*` headers next start's server adds to what it renders (acme added none).
  { path: '/docs/dynamic/' },
  { path: '/docs/api/hello/' },
  { path: '/docs/api/hello/', headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'example.com' } },
  { path: '/docs/api/edge/' },
  { path: '/docs/old/first/' },
  { path: '/docs/r/second/' },
  { path: '/docs/mw-rewrite/' },
  { path: '/docs/mw-redirect/' },
  { path: '/docs/note.txt' },
  { path: '/docs/note.txt/' },
  { path: '/docs' },
  // A missing build asset outside the basePath: next start's plain 404 (acme rendered the page).
  { path: '/_next/static/x.js' },
  // Data URLs, below the basePath or not, no route matched, middleware present: next start's
  // `{}` (its router finds no not-found page for them below a basePath) naming the page path
  // the URL normalizes to (acme answered the not-found page).
  { path: '/_next/data/x/a.json' },
  { path: '/docs/_next/data/x/a.json' },
  { path: `/_next/data/${buildId}/nope.json` },
  { path: `/docs/_next/data/${buildId}/nope.json` },
  { path: `/_next/data/${buildId}/about.json` },
]

describe('app-basepath fixture against next start', () => {
  let acme
  let oracle
  let buildId
  before(async () => {
    buildId = require(require('node:path').join(ensureBuilt('app-basepath'), 'manifest.json')).buildId
    acme = await startAcme('app-basepath')
    oracle = await startOracle('app-basepath', { hostname: 'localhost' })
  })
  after(async () => {
    await stop(acme)
    await stop(oracle)
  })

  test('answers the sequence as next start does', async () => {
    const results = await compareEach(oracle.origin, acme.origin, requests(buildId))
    assert.deepEqual(results.filter((r) => !r.same), [])
  })

  test("next start's answers show what is compared", async () => {
    assert.equal((await request(oracle.origin, { path: '/_next/data/x/a.json' })).headers['x-nextjs-matched-path'], '/_next/data/x/a.json')
    const outside = await request(oracle.origin, { path: '/elsewhere/' })
    assert.equal(outside.status, 404)
    assert.equal(outside.headers['x-nextjs-cache'], 'HIT', 'the not-found page from its cache entry')
    assert.match(String((await request(oracle.origin, { path: '/docs/api/hello/' })).body), /"forwardedHost":true/)
    assert.match(String((await request(oracle.origin, { path: '/docs/api/edge/' })).body), /"forwardedHost":true/)
  })
})
