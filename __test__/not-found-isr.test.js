'use strict'

// The app router's not-found page, which answers every unmatched URL, is a cached page on
// `next start` (`/_not-found`, its Flight payload `/_not-found.rsc`, both from one render) and
// revalidates as prerendered pages do. Until the twenty-seventh session acme served the build's
// render forever: a root layout's `revalidate` never refreshed the 404 page, and an on-demand
// revalidation (`x-prerender-revalidate` with the preview id, what `res.revalidate()` of an
// unmatched path sends) rendered it anew without keeping the render.
// `acme-next start` against `next start` on the same builds.

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const util = require('node:util')
const { ensureBuilt } = require('./helpers/fixtures')
const { startOracle, startAcme, stop } = require('./helpers/runtime-servers')
const { request, view, compareEach } = require('./helpers/differential')

const NO_STORE = 'private, no-cache, no-store, max-age=0, must-revalidate'

/** The render time the `not-found-isr` fixture's not-found page prints. */
function renderedAt(res) {
  const m = /rendered-at:(?:<!-- -->|",)?(\d+)/.exec(String(res.body))
  assert.ok(m, `no render time in ${res.status} ${String(res.body).slice(0, 200)}`)
  return Number(m[1])
}

describe("a not-found page under a root layout's revalidate, against next start", () => {
  let acme
  let oracle
  let built
  let previewId
  before(async () => {
    const out = ensureBuilt('not-found-isr')
    // The build's render of the page: the static 404 page, prerendered with it.
    built = renderedAt({ body: fs.readFileSync(path.join(out, 'static', '404.html')) })
    previewId = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')).cacheConfigs.find((c) => c && c.bypassToken).bypassToken
    acme = await startAcme('not-found-isr')
    oracle = await startOracle('not-found-isr')
  })
  after(async () => {
    await stop(acme)
    await stop(oracle)
  })

  for (const server of ['next start', 'acme-next start']) {
    test(`${server}: an unmatched URL's 404 is served stale, then from a new render, its document and Flight payload alike`, async () => {
      const origin = server === 'next start' ? oracle.origin : acme.origin
      // (The build is older than the route's revalidate, 1 s, by the time the server is up.)
      await new Promise((r) => setTimeout(r, 1100))
      const first = await request(origin, { path: '/missing' })
      assert.equal(first.status, 404)
      assert.equal(first.headers['x-nextjs-cache'], 'STALE')
      assert.equal(first.headers['cache-control'], NO_STORE)
      assert.equal(renderedAt(first), built, "the build's render, stale")
      // The regeneration it started is kept: a later 404, of any unmatched URL, is a newer render.
      let doc
      for (let i = 0; i < 50; i++) {
        doc = await request(origin, { path: '/elsewhere' })
        if (renderedAt(doc) !== built) break
        await new Promise((r) => setTimeout(r, 100))
      }
      assert.notEqual(renderedAt(doc), built, 'the page was rendered anew')
      assert.equal(doc.status, 404)
      assert.equal(doc.headers['cache-control'], NO_STORE)
      assert.match(String(doc.body), /<meta name="robots" content="noindex"\/>/)
      const flight = await request(origin, { path: '/elsewhere', headers: { rsc: '1' } })
      assert.equal(flight.status, 404)
      assert.equal(flight.headers['content-type'], 'text/x-component')
      // One render made both: the payload the client navigates with is the document's, and the
      // segments a prefetch asks for.
      assert.ok(renderedAt(flight) >= renderedAt(doc), 'the Flight payload is of the same render or a later one')
      const segment = await request(origin, { path: '/elsewhere', headers: { rsc: '1', 'next-router-prefetch': '1', 'next-router-segment-prefetch': '/_full' } })
      assert.equal(segment.status, 404)
      assert.ok(renderedAt(segment) >= renderedAt(doc), 'the segment is of the same render or a later one')
    })
  }
  // A route whose paths are all prerendered (`/items/[id]`, `dynamicParams = false`) answers any
  // other path with the same not-found page from the same cache entry, with the route's
  // cache-control. acme sent the build's render there until the twenty-ninth session (never the
  // kept one), and a revalidation at such a path rendered the page without keeping it.
  test("a route's own 404 serves the kept not-found render, and revalidating one keeps a new render", async () => {
    const revalidate = { 'x-prerender-revalidate': previewId }
    const reqs = [
      { path: '/nope', headers: revalidate },
      { path: '/items/9' },
      { path: '/items/8', headers: revalidate },
      { path: '/nope' },
      { path: '/nope', headers: { rsc: '1' } },
      { path: '/items/9' },
      { path: '/items/9?_rsc', headers: { rsc: '1' } },
    ]
    const run = async (origin) => {
      const out = []
      for (const r of reqs) {
        const res = await request(origin, r)
        out.push({ status: res.status, 'cache-control': res.headers['cache-control'], at: renderedAt(res) })
      }
      return out
    }
    const [n, a] = [await run(oracle.origin), await run(acme.origin)]
    // (Which render each served, numbered by first appearance: the times differ by server.)
    const numbered = (rows) => {
      const seen = []
      return rows.map((r) => ({ ...r, at: seen.includes(r.at) ? seen.indexOf(r.at) : seen.push(r.at) - 1 }))
    }
    assert.deepEqual(numbered(n).map((r) => r.at), [0, 0, 1, 1, 1, 1, 1], `next start: ${JSON.stringify(n)}`)
    assert.deepEqual(numbered(a), numbered(n))
  })

})

describe('an on-demand revalidation of an unmatched URL, against next start', () => {
  let acme
  let oracle
  let previewId
  before(async () => {
    const out = ensureBuilt('app-router')
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'))
    previewId = manifest.cacheConfigs.find((c) => c && c.bypassToken).bypassToken
    acme = await startAcme('app-router')
    oracle = await startOracle('app-router')
  })
  after(async () => {
    await stop(acme)
    await stop(oracle)
  })

  test("keeps the not-found page's new render, which later 404s serve (its payload names the URL it was rendered for)", async () => {
    const rsc = { path: '/nope', headers: { rsc: '1' } }
    const draft = { cookie: `__prerender_bypass=${previewId}` }
    const reqs = [
      // The build's render: the document with Next's ETag of it; draft mode renders anew, keeping nothing.
      { path: '/nope' },
      { path: '/nope', headers: { rsc: '1', ...draft } },
      rsc,
      { path: '/gone?p=1', headers: { 'x-prerender-revalidate': previewId } },
      rsc,
      { path: '/other' },
      { path: '/other', headers: { rsc: '1' } },
      // Its segments, kept with it (by header and by URL), and a route's Flight 404, which is
      // the page's whole payload as a segment.
      { path: '/other', headers: { rsc: '1', 'next-router-prefetch': '1', 'next-router-segment-prefetch': '/_full' } },
      { path: '/other', headers: { rsc: '1', 'next-router-prefetch': '1', 'next-router-segment-prefetch': '/_not-found/__PAGE__' } },
      { path: '/nope.segments/_tree.segment.rsc' },
      { path: '/products/1.rsc' },
    ]
    const see = (res, method) => ({ ...view(res, method), etag: res.headers.etag, raw: String(res.body) })
    const results = await compareEach(oracle.origin, acme.origin, reqs, { see })
    const bodiesAside = (v) => ({ ...v, raw: undefined })
    assert.deepEqual(results.filter((r) => !util.isDeepStrictEqual(bodiesAside(r.next), bodiesAside(r.acme))).map((r) => r.req), [])
    const [page, , before, revalidated, after] = results.map((r) => r.acme)
    assert.ok(page.etag, 'an ETag on the build\'s document')
    assert.equal(revalidated.status, 404)
    assert.equal(revalidated['x-nextjs-cache'], 'REVALIDATED')
    assert.equal(after.status, 404)
    assert.doesNotMatch(before.raw, /gone\?p=1/)
    assert.match(after.raw, /"gone\?p=1"/, "the kept render's payload")
    for (const i of [7, 10]) assert.match(results[i].acme.raw, /gone\?p=1/, `${JSON.stringify(reqs[i])}: of the kept render`)
  })

  test('sent as a segment request (by header or URL) renders the page anew and answers with the new segment; draft mode renders segments per request', async () => {
    const revalidate = { 'x-prerender-revalidate': previewId }
    const draft = { cookie: `__prerender_bypass=${previewId}` }
    const segment = (name) => ({ rsc: '1', 'next-router-prefetch': '1', 'next-router-segment-prefetch': name })
    const reqs = [
      { path: '/zz.segments/_tree.segment.rsc?q=seg', headers: revalidate },
      { path: '/nope', headers: { rsc: '1' } },
      // A segment URL under a route (a page of its own), and the whole payload as a segment.
      { path: '/blog/third.segments/_full.segment.rsc?q=under', headers: revalidate },
      { path: '/nope', headers: { rsc: '1' } },
      { path: '/later', headers: { ...segment('/_full'), ...revalidate } },
      { path: '/nope', headers: { rsc: '1' } },
      // A segment the page has not: an empty 404, the page rendered anew all the same.
      { path: '/nope.segments/bogus.segment.rsc', headers: revalidate },
      { path: '/nope', headers: { rsc: '1' } },
      // Draft mode: the segment of a render for this request (next start's tree-only payload).
      { path: '/nope', headers: { ...segment('/_tree'), ...draft } },
      { path: '/nope.segments/_full.segment.rsc', headers: draft },
      { path: '/products/1.segments/_full.segment.rsc', headers: { rsc: '1', ...draft } },
      { path: '/nope', headers: segment('/_tree') },
      // A segment the not-found page has not, in draft mode: rendered all the same.
      { path: '/about.segments/about/__PAGE__.segment.rsc', headers: draft },
    ]
    const see = (res, method) => ({ ...view(res, method), raw: String(res.body) })
    const results = await compareEach(oracle.origin, acme.origin, reqs, { see })
    const bodiesAside = (v) => ({ ...v, raw: undefined })
    assert.deepEqual(results.filter((r) => !util.isDeepStrictEqual(bodiesAside(r.next), bodiesAside(r.acme))).map((r) => r.req), [])
    const acmeOf = (i) => results[i].acme
    for (const i of [0, 2, 4, 6]) assert.equal(acmeOf(i)['x-nextjs-cache'], 'REVALIDATED', JSON.stringify(reqs[i]))
    // Each revalidation kept a render for the page's URL (the payload names it), which the next 404 serves.
    assert.match(acmeOf(1).raw, /"zz\?q=seg"/)
    assert.match(acmeOf(3).raw, /"third\?q=under"/)
    assert.match(acmeOf(5).raw, /"later"/)
    assert.equal(acmeOf(4).raw, acmeOf(5).raw, 'the whole payload as a segment is the kept payload')
    assert.equal(acmeOf(6).raw, '')
    assert.notEqual(acmeOf(8).raw, acmeOf(11).raw, "draft mode's segment is not the kept one")
    assert.ok(acmeOf(12).raw.length > 0, 'any segment name is rendered in draft mode')
  })
})
