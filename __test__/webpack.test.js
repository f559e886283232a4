'use strict'

// The `webpack` fixture, built with `next build --webpack`: webpack names the client chunks of
// dynamic routes after their folders (`chunks/pages/posts/[id]-….js`,
// `chunks/app/blog/[slug]/page-….js`) and pages reference them percent-encoded (`%5Bid%5D`),
// as browsers then ask for them; its `public/` has files whose names a URL must encode (a
// space, a non-ASCII letter, brackets). `acme-next start` against `next start` on the same
// build: the pages (edge-rendered ones too), every asset they reference, and the files by the
// URLs a browser sends.
// (Until the twenty-fifth session such URLs were 404s: a webpack-built page's own script never
// loaded, so it never hydrated.)

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { ensureBuilt, fixtureDir } = require('./helpers/fixtures')
const { startOracle, startAcme, stop } = require('./helpers/runtime-servers')
const { request, compareEach } = require('./helpers/differential')
const { encodeURIPath } = require('./helpers/routing-harness')

const PAGES = [
  { path: '/' },
  { path: '/blog/first' },
  { path: '/blog/second' },
  { path: '/posts/1' },
  { path: '/blog/first', headers: { rsc: '1' } },
  // The edge runtime as webpack bundles it: a pages-router API route (its entry exports only
  // `default`, Next's older edge signature: it answered 500), a pages-router page, an app route.
  { path: '/api/edge?q=1' },
  { method: 'POST', path: '/api/edge', headers: { 'content-type': 'text/plain' }, body: 'posted' },
  { path: '/edge-page?name=zed' },
  { path: '/api/edge-route?q=2' },
  // An app page on the edge (its entry ran before its chunks and registered nothing: 500) and
  // `next/og` on the edge (its font, a webpack asset, was not found: the connection closed).
  { path: '/edge-app-page?name=ada' },
  { path: '/edge-og' },
]

/** `/_next/static/…` URLs a page's HTML or Flight payload names (in scripts, links and the
 * Flight rows that load client components: `"static/chunks/…js"`), as the browser asks. */
function assetUrls(text) {
  const out = new Set()
  for (const m of text.matchAll(/\/_next\/static\/[^"'\\\s<>)]+/g)) out.add(m[0])
  for (const m of text.matchAll(/"(static\/(?:chunks|css|media)\/[^"\\]+)\\?"/g)) out.add(`/_next/${m[1]}`)
  return [...out]
}

describe('a webpack build against next start', () => {
  let acme
  let oracle
  before(async () => {
    ensureBuilt('webpack')
    acme = await startAcme('webpack')
    oracle = await startOracle('webpack')
  })
  after(async () => {
    await stop(acme)
    await stop(oracle)
  })

  /** The requests whose answers differ between the two servers. */
  async function differing(reqs) {
    return (await compareEach(oracle.origin, acme.origin, reqs)).filter((r) => !r.same)
  }

  test('the build is webpack', () => {
    // Webpack's chunk folder of the dynamic route (Turbopack names chunks by hash only).
    const chunks = path.join(fixtureDir('webpack'), '.next', 'static', 'chunks')
    assert.ok(fs.existsSync(path.join(chunks, 'app', 'blog', '[slug]')), 'chunks/app/blog/[slug]/ exists')
  })

  test('pages answer as on next start', async () => {
    assert.deepEqual(await differing(PAGES), [])
    const mw = await request(acme.origin, { path: '/posts/1' })
    assert.equal(mw.headers['x-webpack-middleware'], '1', "webpack's edge middleware ran")
  })

  // Middleware beside the pages router: Next normalizes `_next/data` URLs for it. A client
  // navigation's data URL of a dynamic getServerSideProps page got the page's HTML (the dynamic
  // routes were matched on the normalized path), and `…/posts/1.json/` was redirected to
  // `/posts/1.json`.
  test('data URLs of the pages router, with middleware, as on next start', async () => {
    const buildId = fs.readFileSync(path.join(fixtureDir('webpack'), '.next', 'BUILD_ID'), 'utf8').trim()
    const data = `/_next/data/${buildId}`
    const reqs = [
      { path: `${data}/posts/1.json`, headers: { 'x-nextjs-data': '1' } },
      { path: `${data}/posts/2.json?a=1` },
      { path: `${data}/posts/1.json/` },
      { path: `${data}/posts/1` },
      { path: `${data}/posts/` },
      { path: `${data}/nope.json` },
      // No data output: next start's filesystem check takes the page path, and finds app pages
      // and routes (a 404 before): the client of a pages page navigating to one gets its HTML.
      { path: `${data}/index.json`, headers: { 'x-nextjs-data': '1' } },
      { path: `${data}/edge-app-page.json`, headers: { 'x-nextjs-data': '1' } },
      { path: `${data}/edge-og.json` },
      { path: `${data}/blog/first.json`, headers: { 'x-nextjs-data': '1' } },
    ]
    assert.deepEqual(await differing(reqs), [])
    const res = await request(acme.origin, reqs[0])
    assert.match(String(res.headers['content-type']), /json/)
    assert.deepEqual(JSON.parse(String(res.body)).pageProps, { id: '1' })
  })

  test('every asset the pages reference loads as on next start', async () => {
    const urls = new Set()
    for (const req of PAGES) {
      const res = await request(oracle.origin, req)
      for (const u of assetUrls(String(res.body))) urls.add(u)
    }
    const encoded = [...urls].filter((u) => u.includes('%5B'))
    // The pages-router page's own script and the app page's client component chunk.
    assert.ok(encoded.some((u) => u.includes('/pages/posts/%5Bid%5D')), `a pages script named %5Bid%5D among ${[...urls].join(' ')}`)
    assert.ok(encoded.some((u) => u.includes('/app/blog/%5Bslug%5D/')), `an app chunk named %5Bslug%5D among ${[...urls].join(' ')}`)
    const results = await compareEach(oracle.origin, acme.origin, [...urls].map((u) => ({ path: u })))
    for (const r of results) assert.equal(r.next.status, 200, `next start serves ${r.req.path}`)
    assert.deepEqual(results.filter((r) => !r.same), [])
  })

  test('files whose names a URL encodes, by the URLs browsers send, as on next start', async () => {
    const pub = path.join(fixtureDir('webpack'), 'public')
    const names = fs.readdirSync(pub, { recursive: true }).filter((f) => fs.statSync(path.join(pub, f)).isFile())
    const reqs = []
    for (const name of names) {
      const url = encodeURIPath(`/${name.split(path.sep).join('/')}`)
      reqs.push({ path: url }, { path: url, method: 'HEAD' })
    }
    // Other spellings next start takes or refuses: an escape of a plain character, a name
    // encoded twice, a `/` escaped inside a name, escapes in lower case, `_next/static` spelled
    // with an escape, a malformed escape.
    reqs.push(
      { path: '/robots%2Etxt' },
      { path: '/%72obots.txt' },
      { path: '/docs/my%2520file.txt' },
      { path: '/docs%2Fmy%20file.txt' },
      { path: '/caf%c3%a9.txt' },
      { path: '/x[1].txt' },
      { path: '/robots%2.txt' },
      { path: '/robots%2Etxt/' },
    )
    const chunk = fs.readdirSync(path.join(fixtureDir('webpack'), '.next', 'static', 'chunks', 'pages', 'posts'))[0]
    reqs.push(
      { path: `/_next/static/chunks/pages/posts/${encodeURIComponent(chunk)}` },
      { path: `/_next/%73tatic/chunks/pages/posts/${encodeURIComponent(chunk)}` },
      { path: `/_next/static/chunks/pages/posts/${encodeURIComponent(encodeURIComponent(chunk))}` },
    )
    const results = await compareEach(oracle.origin, acme.origin, reqs)
    const served = results.filter((r) => r.next.status === 200).length
    assert.ok(served >= 2 * names.length, `next start serves every file by its encoded URL (${served} of ${results.length} served)`)
    assert.deepEqual(results.filter((r) => !r.same), [])
  })
})
