'use strict'

// Differential test of the napi Router against @next/routing's resolveRoutes (the oracle) on a
// deterministic corpus of >= 10,000 requests over three fixture apps (app router + middleware,
// pages router, pages router with i18n + basePath + trailingSlash + a locale domain).
//
// Run: npm run test:routing   (needs the native binding: npm run build:native)

const test = require('node:test')
const assert = require('node:assert')
const util = require('node:util')

const h = require('./helpers/routing-harness.js')
const { Router } = require('../binding.js')
const { resolveRoutes } = require('@next/routing')

const PER_FIXTURE = 4000

// Where @next/routing is known to differ from `next start` (NOTES.md). `next start` is the
// authority. Our Router currently follows the oracle on these requests (so they are part of the
// agreement count); each rule names the requests it covers and what `next start` does instead.
// They were NOT yet checked against a live `next start` by this harness (timebox): see the todo.
const DEVIATIONS = [
  {
    name: 'trailing-slash-redirect-runs-middleware-first',
    nextStart: 'redirects (308) without invoking middleware',
    applies: (fx, req, o) => o.mwUrl !== null && o.norm && o.norm.status === 308 && !o.norm.pathname,
  },
  {
    name: 'case-insensitive-middleware-match',
    nextStart: '404 without invoking middleware for paths that only match case-insensitively',
    applies: (fx, req, o) => o.mwUrl !== null && /[A-Z]/.test(new URL(req.url).pathname),
  },
  {
    name: 'next-data-url-404',
    nextStart: '200 for /_next/data/<buildId>/<page>.json of an existing page',
    applies: (fx, req) => new URL(req.url).pathname.includes('/_next/data/') && !fx.manifest.routing.shouldNormalizeNextData,
  },
  {
    name: 'rsc-suffix-url-resolves',
    nextStart: '404 for a literal /<page>.rsc URL',
    applies: (fx, req, o) => new URL(req.url).pathname.endsWith('.rsc') && o.norm && o.norm.pathname,
  },
  {
    name: 'trailing-slash-static-page-404',
    nextStart: 'serves /base/fr/about/ (trailingSlash) from the /base/fr/about output; the oracle 404s',
    applies: (fx, req, o) => fx.manifest.config.trailingSlash && new URL(req.url).pathname.endsWith('/') && o.norm && !o.norm.pathname && !o.norm.status,
  },
  {
    name: 'middleware-rewrite-skips-destination-headers',
    nextStart: "also applies the rewrite destination's header rules",
    applies: (fx, req, o) => !!(o.mwResult && o.mwResult.rewrite),
  },
]

async function compareFixture(name) {
  const fx = h.loadFixture(name)
  const router = new Router(fx.text)
  const reqs = h.corpus(fx, PER_FIXTURE, 7)
  const mismatches = []
  const deviationCounts = Object.fromEntries(DEVIATIONS.map((d) => [d.name, 0]))
  let agree = 0
  for (const req of reqs) {
    const o = await h.runOracle(fx, req, resolveRoutes)
    let same
    let ours
    if (o.error) {
      ours = router.resolve(req.method, req.url, req.headers)
      same = ours.kind === 'badRequest'
    } else {
      ours = h.runOurs(router, req, o)
      same = util.isDeepStrictEqual(o.norm, ours.norm) && o.mwUrl === ours.mwUrl
      for (const d of DEVIATIONS) if (d.applies(fx, req, o)) deviationCounts[d.name]++
    }
    if (same) agree++
    else if (mismatches.length < 5) mismatches.push({ req, oracle: o.norm || o.error, oracleMw: o.mwUrl, ours: ours.norm, oursMw: ours.mwUrl })
  }
  return { agree, total: reqs.length, mismatches, deviationCounts }
}

let grand = { agree: 0, total: 0 }

for (const name of h.FIXTURES) {
  test(`router agrees with @next/routing on ${name}`, async (t) => {
    const r = await compareFixture(name)
    grand.agree += r.agree
    grand.total += r.total
    t.diagnostic(`${name}: agreement ${r.agree}/${r.total}`)
    t.diagnostic(`${name}: oracle-vs-next-start deviation rules hit: ${JSON.stringify(r.deviationCounts)}`)
    assert.deepStrictEqual(r.mismatches, [], `${r.total - r.agree} mismatches, first ones shown`)
    assert.strictEqual(r.agree, r.total)
  })
}

test('corpus size and total agreement', () => {
  assert.ok(grand.total >= 10000, `corpus has ${grand.total} requests`)
  console.log(`ROUTING agreement=${grand.agree}/${grand.total}`)
  assert.strictEqual(grand.agree, grand.total)
})

test('decision shape: kinds, targets, RSC, middleware round trip', () => {
  const app = new Router(h.loadFixture('app-router').text)
  const d = app.resolve('GET', '/about', { host: 'localhost', rsc: '1' })
  assert.strictEqual(d.kind, 'middleware')
  assert.strictEqual(d.middlewareUrl, 'http://localhost/about')
  assert.strictEqual(typeof d.continuation, 'number')
  assert.deepStrictEqual(Object.keys(d).sort(), ['continuation', 'kind', 'middlewareUrl'], 'only set fields')
  const r = app.resumeAfterMiddleware(d.continuation, { requestHeaders: ['host', 'localhost', 'rsc', '1'] })
  assert.strictEqual(r.kind, 'resolved')
  assert.strictEqual(r.resolvedPathname, '/about')
  assert.strictEqual(r.target.kind, 'prerender')
  assert.strictEqual(r.rscPathname, '/about.rsc')
  assert.strictEqual(r.headers['x-acme-fixture'], 'app-router')
  assert.throws(() => app.resumeAfterMiddleware(d.continuation, {}), /INVALID_CONTINUATION/, 'single use')
  const again = () => app.resolve('GET', '/about', ['host', 'localhost', 'rsc', '1']).continuation
  const seg = app.resumeAfterMiddleware(again(), {
    requestHeaders: { host: 'localhost', rsc: '1', 'next-router-segment-prefetch': '/_tree' },
  })
  assert.strictEqual(seg.rscPathname, '/about.segments/_tree.segment.rsc')
  const red = app.resumeAfterMiddleware(again(), { redirect: { url: 'http://localhost/x', status: 307 } })
  assert.strictEqual(red.kind, 'redirect')
  assert.deepStrictEqual(red.redirect, { location: 'http://localhost/x', status: 307 })
  assert.strictEqual(app.resumeAfterMiddleware(again(), { bodySent: true }).kind, 'middlewareResponded')
  const ext = app.resumeAfterMiddleware(again(), { rewrite: 'https://upstream.example/y' })
  assert.strictEqual(ext.kind, 'externalRewrite')
  assert.strictEqual(ext.externalUrl, 'https://upstream.example/y')
  assert.throws(() => app.resumeAfterMiddleware(123456789, {}), /INVALID_CONTINUATION/)

  const pages = new Router(h.loadFixture('pages-router').text)
  const p = pages.resolve('GET', '/posts/7', ['Host', 'localhost'])
  assert.strictEqual(p.kind, 'resolved')
  assert.strictEqual(p.resolvedPathname, '/posts/[id]')
  assert.strictEqual(p.invocationPathname, '/posts/7')
  assert.strictEqual(p.query.nxtPid, '7')
  assert.strictEqual(pages.resolve('GET', '/nope', {}).kind, 'notFound')
  assert.strictEqual(pages.resolve(undefined, '/nope').kind, 'notFound')

  const i18n = new Router(h.loadFixture('i18n-basepath').text)
  const root = i18n.resolve('GET', '/base/', { host: 'localhost', 'accept-language': 'fr' })
  assert.strictEqual(root.kind, 'redirect')
  assert.deepStrictEqual(root.redirect, { location: 'http://fr.example.test/base/', status: 307 })
  const about = i18n.resolve('GET', '/base/fr/about', { host: 'localhost' })
  assert.deepStrictEqual(about.redirect, { location: '/base/fr/about/', status: 308 })
  const post = i18n.resolve('GET', '/base/fr/posts/1/', ['host', 'localhost'])
  assert.strictEqual(post.resolvedPathname, '/base/fr/posts/[id]')
  assert.throws(() => new Router('{}'), /INVALID_MANIFEST/)
})

test.todo('check each DEVIATIONS rule against a live `next start` on a copy of the build')
