'use strict'

// Differential test of the napi Router against @next/routing's resolveRoutes (the oracle) on a
// deterministic corpus of >= 10,000 requests over three fixture apps (app router + middleware,
// pages router, pages router with i18n + basePath + trailingSlash + a locale domain).
//
// Run: npm run test:routing   (needs the native binding: npm run build:native)

const test = require('node:test')
const assert = require('node:assert')
const util = require('node:util')

const http = require('node:http')
const h = require('./helpers/routing-harness.js')
const { startOracle, stop } = require('./helpers/runtime-servers.js')
const { Router } = require('../binding.js')
const { createRouter } = require('../runtime/router.js')
const { resolveRoutes } = require('@next/routing')

const PER_FIXTURE = 4000
const SAMPLES_PER_RULE = 6

/**
 * Requests whose answer from a live `next start` does not depend on state they would change,
 * and that reach its routing: a path with repeated slashes or a backslash is redirected before
 * (router-server.js; `cleanTargetRedirect` in runtime/limits.js does the same before the Router).
 */
function liveCheckable(req) {
  const h = req.headers
  const rawPath = req.url.replace(/^[a-z]+:\/\/[^/]*/i, '').split('?', 1)[0]
  return !/(\\|\/\/)/.test(rawPath) && !h['x-prerender-revalidate'] && !/__prerender_bypass/.test(h.cookie || '') && !h.rsc && !h['next-router-prefetch'] && !h['next-router-segment-prefetch']
}

// Where @next/routing is known to differ from `next start` (NOTES.md). `next start` is the
// authority. `follows` says which one our Router does on the requests a rule covers:
// - 'next start': the Router deliberately differs from the oracle; the request counts as agreeing
//   when the rule covers it, and the live test below checks samples against a real `next start`.
// - 'oracle': the Router still does what @next/routing does (not fixed yet); the request must
//   agree with the oracle like any other.
const DEVIATIONS = h.DEVIATIONS

function pathHasPrefix(p, prefix) {
  return p === prefix || p.startsWith(`${prefix}/`)
}

/** The first 'next start' rule that covers a request where our decision differs from the oracle. */
function coveringRule(fx, req, o, ours) {
  return DEVIATIONS.find((d) => d.follows === 'next start' && d.covers(fx, req, o, ours, { pathHasPrefix }))
}

async function compareFixture(name) {
  const fx = h.loadFixture(name)
  const router = createRouter(fx.text)
  const reqs = h.corpus(fx, PER_FIXTURE, 7)
  const mismatches = []
  const deviationCounts = Object.fromEntries(DEVIATIONS.filter((d) => d.follows === 'next start').map((d) => [d.name, 0]))
  const samples = {}
  let agree = 0
  for (const req of reqs) {
    const o = await h.runOracle(fx, req, resolveRoutes)
    let same
    let ours
    if (o.error) {
      ours = router.resolve(req)
      same = ours.kind === 'badRequest'
    } else {
      ours = h.runOurs(router, req, o)
      same = util.isDeepStrictEqual(o.norm, ours.norm) && o.mwUrl === ours.mwUrl
      if (!same) {
        const rule = coveringRule(fx, req, o, ours)
        if (rule) {
          same = true
          deviationCounts[rule.name]++
          const list = (samples[rule.name] ??= [])
          if (list.length < SAMPLES_PER_RULE && liveCheckable(req) && !list.some((s) => s.req.url === req.url)) list.push({ req, decision: ours.decision })
        }
      }
    }
    if (same) agree++
    else if (mismatches.length < 5) mismatches.push({ req, oracle: o.norm || o.error, oracleMw: o.mwUrl, ours: ours.norm, oursMw: ours.mwUrl })
  }
  return { agree, total: reqs.length, mismatches, deviationCounts, samples }
}

let grand = { agree: 0, total: 0 }
const liveSamples = {}

for (const name of h.DIFFERENTIAL_FIXTURES) {
  test(`router agrees with @next/routing on ${name}`, async (t) => {
    const r = await compareFixture(name)
    liveSamples[name] = r.samples
    grand.agree += r.agree
    grand.total += r.total
    t.diagnostic(`${name}: agreement ${r.agree}/${r.total}`)
    t.diagnostic(`${name}: requests where the Router follows next start instead of the oracle, by rule: ${JSON.stringify(r.deviationCounts)}`)
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
  // As next start: from a host that is no locale's domain, to the locale's path on this host
  // (the oracle sends it to fr's domain).
  assert.deepStrictEqual(root.redirect, { location: '/base/fr/', status: 307 })
  // On fr's domain the domain's locale is the one detected: no redirect.
  assert.strictEqual(i18n.resolve('GET', '/base/', { host: 'fr.example.test', cookie: 'NEXT_LOCALE=de-DE' }).kind, 'resolved')
  const about = i18n.resolve('GET', '/base/fr/about', { host: 'localhost' })
  assert.deepStrictEqual(about.redirect, { location: '/base/fr/about/', status: 308 })
  const post = i18n.resolve('GET', '/base/fr/posts/1/', ['host', 'localhost'])
  assert.strictEqual(post.resolvedPathname, '/base/fr/posts/1', 'the concrete prerender, as next start')
  assert.strictEqual(post.target.kind, 'prerender')
  assert.deepStrictEqual(i18n.resolve('GET', '/base', { host: 'localhost' }).redirect, { location: '/base/', status: 308 })
  assert.strictEqual(i18n.resolve('GET', '/base/hello.txt', { host: 'localhost' }).resolvedPathname, '/base/hello.txt')
  assert.strictEqual(pages.resolve('GET', '/', { host: 'localhost' }).resolvedPathname, '/index')
  assert.strictEqual(pages.resolve('GET', '/docs/nope', { host: 'localhost' }).matchedRoute, '/docs/[slug]')
  assert.strictEqual(pages.resolve('GET', '/nope', { host: 'localhost' }).matchedRoute, undefined)
  assert.throws(() => new Router('{}'), /INVALID_MANIFEST/)
})

test('the packed decisions of runtime/router.js equal the object decisions, corpus-wide', () => {
  for (const name of h.FIXTURES) {
    const fx = h.loadFixture(name)
    const objects = new Router(fx.text)
    const packed = createRouter(fx.text)
    const plain = (d) => JSON.parse(JSON.stringify(d))
    const strip = ({ continuation: _continuation, ...rest }) => rest
    // Each request also with its headers in reverse order: the continuation keeps the headers
    // routing read by their position among the request's own, and `host` comes last in the
    // corpus (a snapshot that lost a later pair must show).
    const reqs = h.corpus(fx, 1500, 11).flatMap((req) => [req, { ...req, headers: Object.fromEntries(Object.entries(req.headers).reverse()) }])
    for (const [i, req] of reqs.entries()) {
      let a = objects.resolve(req.method, req.url, req.headers)
      let b = packed.resolve(req)
      assert.deepStrictEqual(strip(plain(b)), strip(a), `${name} ${req.url}`)
      if (a.kind !== 'middleware') continue
      // Alternate outcomes so that every field of the packed form is exercised.
      const outcome = [
        { requestHeaders: h.rawHeaders({ ...req.headers, 'x-from-middleware': '1' }), responseHeaders: ['set-cookie', 'a=1', 'set-cookie', 'b=2', 'x-mw', 'v'] },
        { rewrite: '/blog/x?y=1&y=2&z=%00' },
        { redirect: { url: 'http://localhost/r', status: 307 }, responseHeaders: ['x-r', '1'] },
        { bodySent: true, responseHeaders: ['x-mw', 'response'] },
        { rewrite: 'https://upstream.example/x' },
        // Passing through: answered from the decision resolve packed, without a second call.
        {},
        { requestHeaders: { ...req.headers, 'x-from-middleware': '1' }, responseHeaders: {} },
        // Headers routing reads, changed: routing runs again with them.
        { requestHeaders: { ...req.headers, rsc: '1', 'x-rewrite-me': 'yes', cookie: 'NEXT_LOCALE=fr' } },
      ][i % 8]
      a = objects.resumeAfterMiddleware(a.continuation, outcome)
      const continuation = b.continuation
      b = packed.resume(continuation, outcome)
      assert.deepStrictEqual(plain(b), a, `${name} ${req.url} after ${JSON.stringify(outcome)}`)
      assert.throws(() => packed.resume(continuation, outcome), /INVALID_CONTINUATION/, 'single use')
    }
  }
})

test('a decision value holding a NUL packs with another separator and reads back whole', () => {
  // A header route whose value is a capture of a decoded query value: the one way a NUL reaches
  // a decision (queries cross as their text, `%00` and all).
  const m = JSON.parse(h.loadFixture('pages-router').text)
  m.routing.beforeMiddleware.unshift({
    source: '/nul', sourceRegex: '^\\/nul(?:\\/)?$', headers: { 'x-v': '$v' },
    has: [{ type: 'query', key: 'v', value: '(?<v>.*)' }],
  })
  const text = JSON.stringify(m)
  const objects = new Router(text)
  const packed = createRouter(text)
  for (const url of ['http://localhost/nul?v=a%00b', 'http://localhost/nul?v=plain']) {
    const a = objects.resolve('GET', url, { host: 'localhost' })
    const b = packed.resolve({ url, headers: { host: 'localhost' } })
    assert.deepStrictEqual(JSON.parse(JSON.stringify(b)), a, url)
    assert.equal(b.headers['x-v'], url.endsWith('a%00b') ? 'a\u0000b' : 'plain')
    assert.equal(b._p[1] === '\0', !url.endsWith('a%00b'), `separator of ${url}`)
  }
})

test('has values beyond the BMP match as V8 matches them: UTF-16 code units without the u flag', async () => {
  // A query condition's value regex on a decoded value holding characters beyond the BMP (each
  // two UTF-16 code units to a JavaScript regex without the `u` flag), against @next/routing,
  // whose regexes are V8's. The capture goes into a rewrite's query, where a lone surrogate (a
  // capture cutting a character in two) is written as U+FFFD by both (a header would not take
  // such a value at all).
  const m = JSON.parse(h.loadFixture('pages-router').text)
  const PATTERNS = [
    '(?<v>.)', '(?<v>..)', '(?<v>.{3})', 'a(?<v>[^/]{2})b', '(?<v>\\S\\S)', '(?<v>.+)', '(?<v>[a-z]*..)',
    '(?<v>.?.?.?.?)', '(?<v>(?:..)+)', '(?!..$)(?<v>.+)', '(?<v>\\W{2})', '(?<v>[\\u0000-\\uffff]{2})',
  ]
  m.routing.beforeFiles.unshift(
    ...PATTERNS.map((value, i) => ({
      source: `/u${i}`, sourceRegex: `^\\/u${i}(?:\\/)?$`, destination: `/ssr?m=${i}&v=$v`,
      has: [{ type: 'query', key: 'q', value }],
    })),
  )
  const fx = { name: 'beyond-bmp', text: JSON.stringify(m), manifest: m, pathnames: h.oraclePathnames(m) }
  const router = createRouter(fx.text)
  const TEXTS = ['😀', 'a😀b', 'é😀', '😀😀', '😀😀😀', 'x', 'ab', 'abc', '\u{E000}😀', 'a😀', '𝒳y', '€😀']
  assert.ok(fx.pathnames.includes('/ssr'))
  let matched = 0
  let unitsDiffer = 0
  let unanchored = 0
  for (const [i, p] of PATTERNS.entries()) {
    for (const t of TEXTS) {
      const req = { method: 'GET', url: `http://localhost/u${i}?q=${encodeURIComponent(t)}`, headers: { host: 'localhost' } }
      const o = await h.runOracle(fx, req, resolveRoutes)
      const ours = h.runOurs(router, req, o)
      // next start matches a condition's value as `^<value>$` only (the `has-value-anchored`
      // rule); the oracle tries the value unanchored too, and so takes `😀` for `(?<v>.)` (its
      // first code unit). Where the two read the text alike, ours is the oracle's answer.
      const nextMatches = new RegExp(`^${p}$`).test(t)
      if (nextMatches === (new RegExp(`^(?:${p})$`).test(t) || new RegExp(p).test(t))) {
        assert.deepStrictEqual(ours.norm, o.norm, `/${p}/ on ${JSON.stringify(t)}`)
      } else {
        assert.equal(ours.norm.pathname, null, `/${p}/ on ${JSON.stringify(t)}: no match, as on next start`)
        unanchored++
      }
      const js = nextMatches
      if (js) matched++
      if (js !== new RegExp(`^(?:${p})$`, 'u').test(t)) unitsDiffer++
    }
  }
  // Both answers occur, and many texts are answered otherwise when read as code points.
  assert.ok(matched > 20 && matched < PATTERNS.length * TEXTS.length - 20, `${matched} matched`)
  assert.ok(unitsDiffer >= 25, `${unitsDiffer} differ by the u flag`)
  // (Both branches: texts the two read alike, compared with the oracle, and texts only the
  // oracle's unanchored try takes.)
  const alike = PATTERNS.length * TEXTS.length - unanchored
  assert.ok(unanchored > 0 && alike > 40, `${unanchored} matched by the oracle only unanchored, ${alike} alike`)
})

test('the packed path reads inputs of any length and encoding whole (its read buffers are kept between calls)', () => {
  const fx = h.loadFixture('pages-router')
  const objects = new Router(fx.text)
  const plain = (d) => JSON.parse(JSON.stringify(d))
  const strip = ({ continuation: _continuation, ...rest }) => rest
  const SEGMENT = 'next-router-segment-prefetch'
  assert.ok(objects.headerNames().includes(SEGMENT))
  const base = 'http://localhost/posts/'
  // A URL whose character `fill` (1 to 4 UTF-8 bytes, or a lone surrogate) starts at byte `at`,
  // then `tail` more bytes.
  const urlWith = (fill, at, tail) => base + 'x'.repeat(at - base.length) + fill + 'y'.repeat(tail)
  const same = (router, req, what) =>
    assert.deepStrictEqual(strip(plain(router.resolve(req))), strip(objects.resolve(req.method, req.url, req.headers)), what)
  let checked = 0
  for (const fill of ['a', 'é', '€', '😀', '\ud800']) {
    // Around the end of a new router's first buffer (1024 bytes), then of the buffer it grew to
    // (the length of the longer text it last read, and its NUL), with a short request between.
    for (let at = 1016; at <= 1026; at++) {
      const router = createRouter(fx.text)
      const first = urlWith(fill, at, 400)
      // Header values as arguments (a header routing reads first, at the buffer's start), then
      // packed (rawHeaders: that value after its 2-character prefix).
      same(router, { method: 'GET', url: first, headers: { [SEGMENT]: `s=${'c'.repeat(at - 2)}${fill}`, host: 'localhost' } }, `${fill} at ${at}`)
      same(createRouter(fx.text), { method: 'GET', url: first, headers: ['Next-Router-Segment-Prefetch', `s=${'c'.repeat(at - 4)}${fill}`, 'Host', 'localhost'] }, `${fill} at ${at}, packed`)
      same(router, { method: 'GET', url: base + '1', headers: { host: 'localhost' } }, `${fill} short after ${at}`)
      const grown = Buffer.byteLength(first)
      for (let again = grown - 6; again <= grown + 2; again++) {
        same(router, { method: 'GET', url: urlWith(fill, again, 50), headers: { host: 'localhost' } }, `${fill} at ${again} after ${at}`)
        checked++
      }
      checked += 2
    }
  }
  assert.strictEqual(checked, 5 * 11 * 11)
})

test('header values read one after another into the kept buffer are read whole wherever the buffer ends', () => {
  // The NEXT_LOCALE cookie decides the locale redirect: cut short ('de-D'), it would not redirect.
  const fx = h.loadFixture('i18n-basepath')
  const objects = new Router(fx.text)
  const strip = ({ continuation: _continuation, ...rest }) => rest
  const cookie = 'NEXT_LOCALE=de-DE'
  let redirects = 0
  // A first value of k bytes puts the cookie's value at k, on both sides of the end of a new
  // router's 1024-byte buffer.
  for (let k = 1024 - cookie.length - 6; k <= 1026; k++) {
    for (const fill of ['x', 'é', '😀']) {
      const first = fill.repeat(Math.ceil(k / Buffer.byteLength(fill))).slice(0, k)
      const headers = { 'accept-language': first, cookie, host: 'localhost' }
      const want = strip(JSON.parse(JSON.stringify(objects.resolve('GET', 'http://localhost/base/', headers))))
      const got = strip(JSON.parse(JSON.stringify(createRouter(fx.text).resolve({ url: 'http://localhost/base/', headers }))))
      assert.deepStrictEqual(got, want, `${fill} x ${k}`)
      if (got.kind === 'redirect' && got.redirect.location.includes('/de-DE/')) redirects++
    }
  }
  assert.strictEqual(redirects, 3 * (cookie.length + 9))
})

test('packedCalls().resolve takes a URL and header index/value pairs or packed values; anything else throws a coded error and the next call routes', () => {
  const fx = h.loadFixture('app-router')
  const native = new Router(fx.text)
  const calls = native.packedCalls()
  // A middleware decision: both packed decisions, and `rsc` changes the pass-through one.
  const url = 'http://localhost/about'
  const names = native.headerNames()
  const at = (name) => {
    const i = names.indexOf(name)
    assert.ok(i >= 0, name)
    return i
  }
  const packedValues = (pairs) => pairs.map(([i, v]) => `\0${String.fromCharCode(0x21 + i)}${v}`).join('')
  const pairs = [[at('host'), 'localhost'], [at('x-no-cors'), '1'], [at('rsc'), '1'], [at('x-rewrite-me'), 'fr']]
  const want = calls.resolve(url, packedValues(pairs))
  assert.strictEqual(want[0], 'm')
  assert.ok(want.includes('/about.rsc'))
  assert.strictEqual(calls.resolve(url, ...pairs.flat()), want, 'pairs as arguments')
  assert.strictEqual(calls.resolve(url, ...pairs.slice().reverse().flat()), want, 'in any order')
  // No header values: absent, undefined, null, an empty packed string.
  const bare = calls.resolve(url)
  assert.notStrictEqual(bare, want)
  assert.strictEqual(calls.resolve(url, undefined), bare)
  assert.strictEqual(calls.resolve(url, null), bare)
  assert.strictEqual(calls.resolve(url, ''), bare)
  // Six pairs are the most; a repeated index is a repeated header.
  const six = [...pairs, [at('host'), 'localhost'], [at('rsc'), '1']]
  assert.strictEqual(calls.resolve(url, ...six.flat()), calls.resolve(url, packedValues(six)))
  const bad = [
    [[], 'no URL'],
    [[42], 'a number URL'],
    [[undefined], 'an undefined URL'],
    [[url, 5], 'number values'],
    [[url, {}], 'object values'],
    [[url, 'x', 'localhost'], 'an index that is not a number'],
    [[url, at('host'), 7], 'a value that is not a string'],
    [[url, at('host'), undefined], 'an undefined value'],
    [[url, at('host'), 'localhost', 3], 'an index without its value'],
    [[url, ...[...six, [at('host'), 'localhost']].flat()], 'seven pairs'],
  ]
  for (const [args, what] of bad) {
    assert.throws(() => calls.resolve(...args), (e) => e.code === 'ROUTER_INPUT' && /^\[ROUTER_INPUT\] /.test(e.message), what)
    // The kept buffers are released after a failed call: the next call routes as before.
    assert.strictEqual(calls.resolve(url, ...pairs.flat()), want, `after ${what}`)
  }
  // A long decision, then a short one: the kept output buffer holds only the latest.
  const long = calls.resolve(`http://localhost/blog/${'p'.repeat(5000)}?${'q=1&'.repeat(500)}`, ...pairs.flat())
  assert.ok(long.length > 5000)
  assert.strictEqual(calls.resolve(url, ...pairs.flat()), want)
})

test('packedCalls().resume answers as the object API resumes, keeps no decision between calls, and throws coded errors after which the next call resumes', () => {
  const fx = h.loadFixture('app-router')
  const native = new Router(fx.text)
  const calls = native.packedCalls()
  const names = native.headerNames()
  const values = (pairs) => pairs.map(([name, v]) => `\0${String.fromCharCode(0x21 + names.indexOf(name))}${v}`).join('')
  const host = values([['host', 'localhost']])
  const objectResume = (url, outcome) => {
    const d = native.resolve('GET', url, { host: 'localhost' })
    assert.strictEqual(d.kind, 'middleware', url)
    return native.resumeAfterMiddleware(d.continuation, outcome)
  }
  const packed = (url, outcome) => {
    const other = `${outcome.bodySent ? 1 : 0}\0${outcome.redirect ? outcome.redirect.status : ''}\0${outcome.redirect ? outcome.redirect.url : ''}\0${outcome.rewrite || ''}`
    const rh = outcome.responseHeaders ? Object.entries(outcome.responseHeaders).flat().join('\0') : undefined
    return calls.resume(url, host, undefined, rh, other)
  }
  const kinds = { R: 'redirect', r: 'resolved', M: 'middlewareResponded', x: 'externalRewrite', n: 'notFound' }
  // Every kind of outcome, long ones then short ones: each answer is its own.
  const cases = [
    ['http://localhost/old', { redirect: { url: 'http://localhost/about', status: 307 } }],
    ['http://localhost/rewrite-me', { rewrite: 'http://localhost/about' }],
    ['http://localhost/mw-response', { bodySent: true, responseHeaders: { 'x-mw': 'response' } }],
    ['http://localhost/about', { rewrite: `http://localhost/blog/${'p'.repeat(3000)}` }],
    ['http://localhost/about', { responseHeaders: { 'set-cookie': 'a=1', 'x-one': '1' } }],
    ['http://localhost/about', { rewrite: 'https://elsewhere.example/x' }],
    ['http://localhost/old', { redirect: { url: 'http://localhost/about', status: 307 } }],
  ]
  for (const [url, outcome] of cases) {
    const want = objectResume(url, outcome)
    const got = packed(url, outcome)
    assert.strictEqual(kinds[got[0]], want.kind, `${url} ${JSON.stringify(outcome).slice(0, 80)}`)
    const sep = got[1]
    const location = want.redirect ? want.redirect.location : want.externalUrl || want.resolvedPathname
    if (location) assert.ok(got.split(sep).includes(location), `${want.kind}: ${location} in ${got.slice(0, 120)}`)
    assert.strictEqual(packed(url, outcome), got, 'the same call answers the same')
  }
  const good = () => packed('http://localhost/old', { redirect: { url: 'http://localhost/about', status: 307 } })
  const want = good()
  const bad = [
    [[], 'ROUTER_INPUT', 'no URL'],
    [[7, host], 'ROUTER_INPUT', 'a number URL'],
    [['http://localhost/about', {}], 'ROUTER_INPUT', 'object values'],
    [['http://localhost/about', host, undefined, undefined, undefined, 'extra'], 'ROUTER_INPUT', 'six arguments'],
    // Not a request that pauses for middleware: there is nothing to resume.
    [['http://localhost/_next/static/chunks/x.js', host, undefined, undefined, '0\0\0\0'], 'INVALID_CONTINUATION', 'no middleware'],
  ]
  for (const [args, code, what] of bad) {
    assert.throws(() => calls.resume(...args), (e) => e.code === code && e.message.startsWith(`[${code}] `), what)
    assert.strictEqual(good(), want, `after ${what}`)
  }
})

test('a continuation of runtime/router.js is its middleware decision, resumed once, by its own router', () => {
  const text = h.loadFixture('app-router').text
  const a = createRouter(text)
  const b = createRouter(text)
  const req = { url: 'http://localhost/about', headers: { host: 'localhost' } }
  const d = a.resolve(req)
  assert.strictEqual(d.kind, 'middleware')
  assert.strictEqual(d.continuation, d)
  assert.deepStrictEqual(Object.keys(JSON.parse(JSON.stringify(d))).sort(), ['kind', 'middlewareUrl'])
  assert.throws(() => b.resume(d.continuation, {}), /INVALID_CONTINUATION/, 'another router')
  assert.throws(() => a.resume(123, {}), /INVALID_CONTINUATION/, 'not a continuation')
  assert.throws(() => a.resume(a.resolve({ url: 'http://localhost/_next/static/x.js', headers: {} }), {}), /INVALID_CONTINUATION/, 'not a middleware decision')
  assert.strictEqual(a.resume(d.continuation, {}).resolvedPathname, '/about')
  assert.throws(() => a.resume(d.continuation, {}), /INVALID_CONTINUATION/, 'single use')
})

test('resume reads the request as resolve read it, even when the runtime changed its header object in place meanwhile', () => {
  // runtime/server.js applies middleware's request headers to `req.headers` itself before
  // resuming; `/header-rewrite` rewrites only with `x-rewrite-me: yes|true`.
  const text = h.loadFixture('app-router').text
  const url = 'http://localhost/header-rewrite'
  const after = { host: 'localhost', 'x-rewrite-me': 'yes' }
  for (const before of [{ host: 'localhost', 'x-rewrite-me': 'no' }, { host: 'localhost' }]) {
    const fresh = createRouter(text)
    const d = fresh.resolve({ url, headers: { ...before } })
    assert.strictEqual(d.kind, 'middleware')
    const want = fresh.resume(d.continuation, { requestHeaders: { ...after } }).toJSON()
    assert.strictEqual(want.resolvedPathname, '/about', 'the changed header rewrites')

    const router = createRouter(text)
    const headers = { ...before }
    const paused = router.resolve({ url, headers })
    for (const k of Object.keys(headers)) if (!(k in after)) delete headers[k]
    Object.assign(headers, after)
    assert.deepStrictEqual(router.resume(paused.continuation, { requestHeaders: headers }).toJSON(), want, JSON.stringify(before))
  }
})

test('a request carrying none of the headers routing reads resolves (HTTP/1.0 without Host)', () => {
  for (const name of h.FIXTURES) {
    const fx = h.loadFixture(name)
    const objects = new Router(fx.text)
    const packed = createRouter(fx.text)
    for (const headers of [{}, { 'x-unread': '1' }, ['X-Unread', '1']]) {
      for (const url of ['/', '/blog/a', '/_next/static/x.js']) {
        const strip = ({ continuation: _continuation, ...rest }) => rest
        const want = strip(JSON.parse(JSON.stringify(objects.resolve('GET', url, headers))))
        const got = packed.resolve({ method: 'GET', url, headers })
        assert.ok(got.kind, `${name} ${url}`)
        assert.deepStrictEqual(strip(JSON.parse(JSON.stringify(got))), want, `${name} ${url} ${JSON.stringify(headers)}`)
      }
    }
  }
})

test('text outside Latin-1 crosses intact: packed decisions equal object decisions and the oracle', async () => {
  // The packed calls read strings as UTF-16 and the object methods as UTF-8: both must give the
  // Router the same text, lone surrogates included (U+FFFD, as the WHATWG URL parser makes them).
  const fx = h.loadFixture('app-router')
  const objects = new Router(fx.text)
  const packed = createRouter(fx.text)
  const plain = (d) => JSON.parse(JSON.stringify(d))
  const strip = ({ continuation: _continuation, ...rest }) => rest
  const urls = [
    'http://localhost/blog/\u20ac', 'http://localhost/blog/\u{1f600}?q=\u{1f600}', 'http://localhost/blog/a\ud800b',
    'http://localhost/\u00e9t\u00e9/\udc00?x=\ud83d', '/blog/\u20ac?y=\u00ff', 'http://localhost/old-blog/\u4e2d\u6587',
  ]
  let compared = 0
  for (const url of urls) {
    const req = { method: 'GET', url, headers: { host: 'localhost' } }
    const o = await h.runOracle(fx, { ...req, url: url.startsWith('/') ? `http://localhost${url}` : url }, resolveRoutes)
    assert.ok(!o.error, `${url}: the oracle resolves it`)
    const ours = h.runOurs(packed, req, o)
    assert.ok(h.agrees(fx, req, o, ours), `${url}: ${util.inspect(o.norm)} vs ${util.inspect(ours.norm)}`)
    for (const headers of [req.headers, { host: 'localhost', cookie: 'a=\u20ac; b=\ud83d', 'x-rewrite-me': 'yes\u{1f600}' }]) {
      assert.deepStrictEqual(strip(plain(packed.resolve({ url, headers }))), strip(plain(objects.resolve('GET', url, headers))), url)
      compared++
    }
  }
  assert.strictEqual(compared, 2 * urls.length)
})

/** One GET to a live server, the path and headers as the corpus request has them. */
function liveGet(origin, req) {
  const u = new URL(req.url)
  const { hostname, port } = new URL(origin)
  return new Promise((resolve, reject) => {
    const r = http.request({ hostname, port, method: 'GET', path: u.pathname + u.search, headers: { ...req.headers, host: req.headers.host } }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode, location: res.headers.location }))
    })
    r.on('error', reject)
    r.end()
  })
}

/** What `next start` must answer for our decision: same redirect, 404, or served (not 404). */
function agreesWithNextStart(decision, res) {
  if (decision.kind === 'redirect') return res.status === decision.redirect.status && res.location === decision.redirect.location
  if (decision.kind === 'notFound') return res.status === 404
  if (decision.kind === 'resolved') return res.status !== 404 && res.status < 500
  return false
}

for (const name of h.DIFFERENTIAL_FIXTURES) {
  test(`deviation rules hold against a live next start: ${name}`, { timeout: 180_000 }, async (t) => {
    const samples = liveSamples[name]
    assert.ok(samples, 'the agreement test of this fixture ran first')
    const rules = Object.keys(samples)
    if (!rules.length) return t.diagnostic(`${name}: no request is covered by a next-start rule`)
    // (`next start` serves the fixture's `.next`: loadFixture's ensureBuilt made it the build of
    // the output the agreement test read.)
    const server = await startOracle(name)
    const failures = []
    let checked = 0
    try {
      for (const rule of rules) {
        for (const { req, decision } of samples[rule]) {
          const res = await liveGet(server.origin, req)
          checked++
          if (!agreesWithNextStart(decision, res)) {
            failures.push(`${rule}: GET ${req.url} ${JSON.stringify(req.headers)} -> next start ${res.status} ${res.location || ''}; ours ${decision.kind} ${JSON.stringify(decision.redirect || decision.resolvedPathname || '')}`)
          }
        }
      }
    } finally {
      await stop(server)
    }
    t.diagnostic(`${name}: ${checked} sample requests of ${rules.length} rules checked against next start`)
    assert.deepStrictEqual(failures, [])
  })
}
