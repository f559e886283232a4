'use strict'

// The `i18n-middleware` fixture: middleware beside a pages router with i18n, a basePath and
// trailingSlash. Next normalizes a `_next/data` URL for middleware to its page path, with a
// trailing slash and, without a locale, the default locale's; its trailing-slash redirect then
// leaves data requests alone. Until the twenty-fifth session every data URL of such an app was
// a 308 to its page (client navigations got no data), and one without a locale a 404.
// `acme-next start` against `next start` on the same build.

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { ensureBuilt, fixtureDir } = require('./helpers/fixtures')
const { startOracle, startAcme, stop } = require('./helpers/runtime-servers')
const { request, view, compareEach } = require('./helpers/differential')

describe('i18n, basePath, trailingSlash and middleware against next start', () => {
  let acme
  let oracle
  let buildId
  before(async () => {
    ensureBuilt('i18n-middleware')
    buildId = fs.readFileSync(path.join(fixtureDir('i18n-middleware'), '.next', 'BUILD_ID'), 'utf8').trim()
    acme = await startAcme('i18n-middleware')
    oracle = await startOracle('i18n-middleware')
  })
  after(async () => {
    await stop(acme)
    await stop(oracle)
  })

  test('pages and their data URLs answer as on next start', async () => {
    const data = `/base/_next/data/${buildId}`
    const nav = { 'x-nextjs-data': '1' }
    // (Not compared: the root, `/base/` and `/base/fr/`, and its data URLs, `…/en.json`, which
    // next start 16.4.6 answers in this app with an empty 200 and no content type; without
    // middleware it serves the page, as acme does here: see the last assertions.)
    const reqs = [
      { path: '/base/about/' },
      { path: '/base/posts/1/' },
      { path: '/base/fr/posts/7/' },
      { path: '/base/ssr' },
      { path: `${data}/en/posts/1.json`, headers: nav },
      { path: `${data}/fr/posts/77.json`, headers: nav },
      // Without a locale: the default locale's.
      { path: `${data}/posts/78.json`, headers: nav },
      { path: `${data}/ssr.json`, headers: nav },
      { path: `${data}/fr/ssr.json?a=1`, headers: nav },
      { path: `${data}/FR/about.json`, headers: nav },
      { path: `${data}/en/posts/1.json/` },
      { path: `${data}/nope.json`, headers: nav },
      // Next's index data route (`(?<nextLocale>[^/]{1,}).json`, no `$`, the dot any character)
      // took these, and served `en`'s, `en`'s and the SSR page's data; next start 404s them.
      { path: `${data}/en.json.rsc` },
      { path: `${data}/fr.jsonx` },
      { path: `${data}/ssr.json.rsc` },
    ]
    assert.deepEqual((await compareEach(oracle.origin, acme.origin, reqs)).filter((r) => !r.same), [])
    const res = await request(acme.origin, { path: `${data}/posts/78.json`, headers: nav })
    assert.equal(res.status, 200)
    assert.deepEqual(JSON.parse(String(res.body)).pageProps, { id: '78', locale: 'en' })
    const root = await request(acme.origin, { path: '/base/fr/' })
    assert.match(String(root.body), /<h1>Home \(<!-- -->fr<!-- -->\)<\/h1>|<h1>Home \(fr\)<\/h1>/)
    const rootData = await request(acme.origin, { path: `${data}/fr.json`, headers: nav })
    assert.deepEqual(JSON.parse(String(rootData.body)).pageProps, { locale: 'fr' })
  })

  test('a fallback: false route beside middleware answers its paths, and 404s the rest with the 404 page, as on next start', async () => {
    const data = `/base/_next/data/${buildId}`
    const nav = { 'x-nextjs-data': '1' }
    // (A route's own 404 is the 404 page, without cache-control, its data URL's too: the data
    // URL's was `{}`, the router's answer where no route matches, and the pages' no-store.)
    const reqs = [
      { path: '/base/only/a/' },
      { path: '/base/fr/only/b/' },
      { path: '/base/only/c/' },
      { path: '/base/fr/only/a/' },
      { path: `${data}/en/only/a.json`, headers: nav },
      { path: `${data}/fr/only/b.json`, headers: nav },
      { path: `${data}/en/only/c.json`, headers: nav },
      { path: `${data}/fr/only/a.json` },
      { path: '/base/only/[slug]/' },
      { path: `${data}/en/only/[slug].json`, headers: nav },
    ]
    const results = await compareEach(oracle.origin, acme.origin, reqs)
    assert.deepEqual(results.filter((r) => !r.same), [])
    assert.deepEqual(results.map((r) => r.next.status), [200, 200, 404, 404, 200, 200, 404, 404, 404, 404])
  })

  test("a data URL's 404 names the path next start matched: this build's normalized, another build's as it is", async () => {
    const nav = { 'x-nextjs-data': '1' }
    const reqs = [
      { path: `/base/_next/data/${buildId}/nope.json`, headers: nav },
      { path: `/base/_next/data/${buildId}/fr/nope.json`, headers: nav },
      // (Another build's: it was normalized as this build's, `/base/en/_next/data/OTHER/nope.json/`.)
      { path: '/base/_next/data/OTHER/fr/nope.json', headers: nav },
      { path: '/base/_next/data/OTHER/nope.json' },
    ]
    const see = (res, method) => ({ ...view(res, method), matched: res.headers['x-nextjs-matched-path'] })
    const results = await compareEach(oracle.origin, acme.origin, reqs, { see })
    assert.deepEqual(results.filter((r) => !r.same), [])
    assert.deepEqual(results.map((r) => r.next.matched), ['/base/en/nope/', '/base/fr/nope/', '/base/_next/data/OTHER/fr/nope.json', '/base/_next/data/OTHER/nope.json'])
  })
})
