'use strict'

// Shared by __test__/routing.test.js and bench/routing.js: fixture builds, the deterministic
// request corpus, a simulated middleware, and the comparison of @next/routing's resolveRoutes
// (the oracle) with our napi Router.

const fs = require('node:fs')
const path = require('node:path')
const util = require('node:util')

const { ROOT, fixtureDir, ensureBuilt: ensureOutput } = require('./fixtures')

const FIXTURES = ['app-router', 'pages-router', 'i18n-basepath']
// Routed in the differential test too, not in the benchmark: a webpack build whose middleware
// sits beside the pages router (its `_next/data` URLs normalized), and files named with
// characters a URL encodes; middleware beside a pages router with i18n, basePath, trailingSlash;
// skipTrailingSlashRedirect and skipMiddlewareUrlNormalize with both routers and middleware; the
// app router below a basePath with trailingSlash and middleware.
const DIFFERENTIAL_FIXTURES = [...FIXTURES, 'webpack', 'i18n-middleware', 'config-flags', 'app-basepath']

/** Builds the fixture when its output is missing. Returns the manifest path. */
function ensureBuilt(name) {
  return path.join(ensureOutput(name), 'manifest.json')
}

/** The pathnames the oracle needs, computed independently of the Rust side. */
function oraclePathnames(m) {
  const out = new Set()
  for (const f of m.functions) if (f.kind !== 'middleware') out.add(f.pathname)
  for (const s of m.staticFiles) out.add(s.pathname)
  for (const p of m.prerenders) out.add(p.pathname)
  return [...out]
}

function loadFixture(name) {
  const file = ensureBuilt(name)
  const text = fs.readFileSync(file, 'utf8')
  const manifest = JSON.parse(text)
  return { name, text, manifest, pathnames: oraclePathnames(manifest) }
}

// --- deterministic PRNG (mulberry32) ---
function rng(seed) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    chance: (p) => next() < p,
  }
}

const HOSTILE = [
  '/..%2f..%2fetc/passwd', '/%2e%2e/%2e%2e/secret', '/a/../about', '/./about', '//about', '/about//',
  '/%00', '/%', '/%zz', '/%C3', '/%E2%82%AC', '/\u00e9t\u00e9', '/a b', '/a"b<c>', '/;x=1', '/about;jsessionid=1',
  '/\\about', '/about%2Fx', '/about%2f', '/ABOUT', '/About/', '/' + 'a'.repeat(600), '/' + 'a/'.repeat(200),
  '/' + '%41'.repeat(300), '/_next/../about', '/_next/static/../../about', '/favicon.ico/', '/robots.txt/',
  '/index', '/index.rsc', '/about.rsc', '/about.segments/_tree.segment.rsc', '/_next/image?url=%2Fimages%2Flogo.svg&w=64&q=75',
  '/api', '/api/', '/api/hello/', '/api/../api/hello', '/$1', '/:path*', '/[slug]', '/blog/[slug]', '/blog/%5Bslug%5D',
]

const QUERIES = [
  '', '', '', '?a=1', '?a=1&a=2', '?go=home', '?go=away', '?tag=abc', '?tag=ABC1', '?nxtPslug=evil', '?nxtPid=9',
  '?x=%20y', '?x=a+b', '?q=%E2%82%AC', '?empty=', '?=v', '?a=1&&b=2', '?path=zzz', '?p=1#frag', '?__proto__=1',
  '?nextInternalLocale=fr', '?val=no',
]

function pathsFor(fx) {
  const m = fx.manifest
  const bp = m.config.basePath || ''
  const id = m.buildId
  const base = [...fx.pathnames]
  const extra = {
    'app-router': [
      '/', '/about', '/old-blog/hello', '/old-blog/a/b', '/temp-redirect', '/legacy', '/before-files-about',
      '/after-files', '/after-files/a/b', '/header-rewrite', '/fallback-rewrite/first', '/fallback-rewrite/x/y',
      '/blog/first', '/blog/zzz', '/blog/zzz.rsc', '/products/1', '/products/9', '/rewrite-me', '/old',
      '/mw-response', '/mw-cookie', '/mw-external', '/about/', '/cached', '/dynamic', '/isr', '/does-not-exist',
      `/_next/data/${id}/about.json`, `/_next/data/${id}/index.json`, '/_next/static/chunks/missing.js',
      '/.well-known/security.txt', '/images/logo.svg', '/data/file.json',
    ],
    'pages-router': [
      '/', '/ssr', '/isr', '/posts/1', '/posts/3', '/posts/404', '/fallback/prebuilt', '/fallback/new', '/docs/intro',
      '/docs/other', '/api/hello', '/api/edge', '/hello.txt', `/_next/data/${id}/index.json`,
      `/_next/data/${id}/posts/1.json`, `/_next/data/${id}/posts/7.json`, `/_next/data/${id}/ssr.json`,
      `/_next/data/${id}/docs/intro.json`, `/_next/data/${id}/docs/nope.json`, `/_next/data/wrong/ssr.json`, '/nope',
    ],
    'i18n-basepath': [
      '', '/', '/about', '/about/', '/fr', '/fr/', '/fr/about', '/fr/about/', '/de-DE/about/', '/de-de/about/', '/DE-DE/',
      '/en/about/', '/ssr/', '/fr/ssr/', '/posts/1/', '/fr/posts/1/', '/de-DE/posts/2/', '/posts/99/', '/fr/posts/99',
      '/old/1/', '/fr/old/1/', '/en/old/2', '/fr/legacy/', '/before/x/', '/fr/before/a/b/', '/after/1/', '/fr/after/7/',
      '/fb/a/b/', '/fr/fb/z/', '/api/hello/', '/api/hello', '/hello.txt', '/hello.txt/', '/nope/', '/fr/nope/',
      `/_next/data/${id}/en/posts/1.json`, `/_next/data/${id}/fr.json`, '/_next/static/x.js', '/about/?tag=abc',
      `/_next/data/${id}/ssr.json`, `/_next/data/${id}/FR/ssr.json`, `/_next/data/${id}/De-de/posts/2.json`,
      `/_next/data/${id}/FR/posts/77.json`, `/_next/data/${id}/EN.json`, `/_next/data/${id}/posts/1.json`,
    ].map((p) => bp + p).concat(['/', '/about', '/basefoo', '/base-x/about/', '/fr/about/']),
    // Middleware beside a pages router with i18n, a basePath and trailingSlash.
    'i18n-middleware': [
      '/', '/about', '/about/', '/fr/about/', '/posts/1/', '/fr/posts/1/', '/posts/77/', '/ssr/', '/fr/ssr',
      `/_next/data/${id}/en/posts/1.json`, `/_next/data/${id}/fr/posts/77.json`, `/_next/data/${id}/posts/77.json`,
      `/_next/data/${id}/ssr.json`, `/_next/data/${id}/en/ssr.json`, `/_next/data/${id}/FR/ssr.json`,
      `/_next/data/${id}/en.json`, `/_next/data/${id}/fr.json`, `/_next/data/${id}/about.json`,
      `/_next/data/${id}/en/posts/1.json/`, `/_next/data/${id}/nope.json`,
    ].map((p) => bp + p).concat(['/', '/about']),
    // Middleware beside a pages router: `_next/data` URLs are normalized for middleware.
    webpack: [
      '/', '/blog/first', '/blog/second', '/posts/1', '/posts/77', '/docs/my%20file.txt', '/caf%C3%A9.txt',
      '/x%5B1%5D.txt', '/robots.txt', `/_next/data/${id}/posts/1.json`, `/_next/data/${id}/posts/77.json`,
      `/_next/data/${id}/posts/77.json/`, `/_next/data/${id}/index.json`, `/_next/data/${id}/blog/first.json`,
      `/_next/data/${id}/nope.json`, `/_next/data/wrong/posts/1.json`,
    ],
    // No trailing-slash redirect, middleware sees data URLs as sent, app and pages routers.
    'config-flags': [
      '/', '/about', '/about/', '/blog/first/', '/blog/new', '/posts/1/', '/posts/9', '/ssr/', '/headers/',
      '/api/time/', '/api/hello/', '/file.txt/', '/mw-rewrite', '/mw-rewrite/', '/go/x', '/go/x/', '/nope/',
      `/_next/data/${id}/ssr.json`, `/_next/data/${id}/posts/1.json`, `/_next/data/${id}/posts/9.json/`,
      `/_next/data/${id}/index.json`, `/_next/data/wrong/ssr.json`,
    ],
    // The app router below a basePath, with trailingSlash and middleware.
    'app-basepath': [
      '', '/', '/about', '/about/', '/blog/first/', '/blog/new', '/shop/', '/shop/a/b/', '/shop/c/', '/isr/', '/dynamic',
      '/api/hello/', '/api/edge', '/old/first/', '/r/second/', '/mw-rewrite/', '/mw-redirect/', '/note.txt', '/nope/',
      '/about.rsc', '/blog/first.segments/_tree.segment.rsc', `/_next/data/${id}/about.json`,
    ].map((p) => bp + p).concat(['/', '/about/', '/docsfoo/', '/_next/static/x.js']),
  }[fx.name]
  return { base, extra }
}

function mutate(r, p) {
  switch (r.int(10)) {
    case 0: return p.endsWith('/') ? p.slice(0, -1) : p + '/'
    case 1: return p.replace(/[a-z]/, (c) => c.toUpperCase())
    case 2: return p.replace(/[a-z]/, (c) => '%' + c.charCodeAt(0).toString(16))
    case 3: return p.replace(/\//, '//')
    case 4: return p + '/..'
    case 5: return p + '.rsc'
    case 6: return p + '/%2e%2e/x'
    case 7: return p + '/' + r.pick(['%E2%82%AC', 'x%20y', '%2F', 'x.json', 'index', '_next'])
    default: return p
  }
}

const ACCEPT = ['fr', 'fr-CA,fr;q=0.9', 'de', 'de-DE;q=0.8,en;q=0.5', 'en-US', 'es,de;q=0.1', '*', 'DE-de', 'fr;q=0', 'xx, fr ;q=0.5']

function headersFor(r, fx) {
  const h = {}
  if (r.chance(0.2)) h.rsc = '1'
  if (r.chance(0.1)) h['next-router-prefetch'] = '1'
  if (r.chance(0.1)) h['next-router-segment-prefetch'] = r.pick(['/_tree', '/_full', '/about/__PAGE__'])
  const cookies = []
  if (r.chance(0.15)) cookies.push('session=abc')
  if (r.chance(0.15)) cookies.push('NEXT_LOCALE=' + r.pick(['fr', 'de-DE', 'EN', 'xx', '%zz']))
  if (r.chance(0.05)) cookies.push('__prerender_bypass=' + r.pick(['nope', previewId(fx)]))
  if (r.chance(0.05)) cookies.push('weird')
  if (cookies.length) h.cookie = cookies.join('; ')
  if (r.chance(0.1)) h['x-rewrite-me'] = r.pick(['yes', 'true', 'no', 'yesyes'])
  if (r.chance(0.1)) h['x-no-cors'] = '1'
  if (r.chance(0.25)) h['accept-language'] = r.pick(ACCEPT)
  if (r.chance(0.05)) h['x-nextjs-data'] = '1'
  if (r.chance(0.03)) h['x-prerender-revalidate'] = previewId(fx)
  return h
}

function previewId(fx) {
  const mm = fx.manifest.middlewareMatchers[0]
  const v = mm && (mm.missing || []).find((c) => c.key === 'x-prerender-revalidate')
  return v ? v.value : 'none'
}

/** A deterministic corpus of `count` requests for one fixture. */
function corpus(fx, count, seed = 1) {
  const r = rng(seed)
  const { base, extra } = pathsFor(fx)
  const hosts = fx.name === 'i18n-basepath' ? ['localhost', 'fr.example.test', 'FR.example.test', 'other.test:3000'] : ['localhost', 'example.com']
  const out = []
  for (let i = 0; i < count; i++) {
    const roll = r.next()
    let p = roll < 0.35 ? r.pick(base) : roll < 0.85 ? r.pick(extra) : r.pick(HOSTILE)
    if (!p.startsWith('/')) p = '/' + p
    if (r.chance(0.35)) p = mutate(r, p)
    const q = p.includes('?') ? '' : r.pick(QUERIES)
    const host = r.pick(hosts)
    const headers = headersFor(r, fx)
    headers.host = host
    for (const k in headers) headers[k] = flat(headers[k])
    out.push({ method: r.pick(['GET', 'GET', 'GET', 'HEAD', 'POST', 'OPTIONS']), url: flat(`http://${host}${p}${q}`), headers })
  }
  return out
}

/**
 * `s` as a flat string, as Node's HTTP parser hands over `req.url` and header values. A string
 * built by concatenation (a template literal) is a cons string in V8, and every native read of
 * it (napi's included) follows it to its flattened copy: a second object, and a cache miss, per
 * read, which no request off the wire costs. (JSON keeps every UTF-16 unit, lone surrogates too.)
 */
function flat(s) {
  return JSON.parse(JSON.stringify(s))
}

// --- simulated middleware (app-router's middleware.js, plus two synthetic cases) ---
let nextServer
function simulateMiddleware(fx, ctx) {
  nextServer ??= require('next/server')
  const { NextResponse } = nextServer
  const { responseToMiddlewareResult } = require('@next/routing')
  const url = ctx.url
  const pathname = url.pathname
  let res
  if (pathname === '/rewrite-me') res = NextResponse.rewrite(new URL('/about', url))
  else if (pathname === '/old') res = NextResponse.redirect(new URL('/about', url))
  else if (pathname === '/mw-response') res = NextResponse.json({ from: 'middleware' }, { status: 200, headers: { 'x-mw': 'response' } })
  else if (pathname === '/mw-external') res = NextResponse.rewrite(new URL('https://upstream.example/x?y=1'))
  else {
    const headers = new Headers(ctx.headers)
    headers.set('x-from-middleware', '1')
    res = NextResponse.next({ request: { headers } })
    if (pathname === '/mw-cookie') {
      res.cookies.set('a', '1')
      res.cookies.set('b', '2')
    }
  }
  return responseToMiddlewareResult(res, new Headers(ctx.headers), url)
}

/** A plain headers object as Node's `rawHeaders` (flat `[name, value, …]`). */
function rawHeaders(h) {
  const out = []
  for (const k of Object.keys(h)) for (const v of [].concat(h[k])) out.push(k, v)
  return out
}

function flatHeaders(h) {
  const out = []
  if (!h) return out
  for (const [k, v] of h) out.push(k, v)
  return out
}

/** The oracle's MiddlewareResult as the napi MiddlewareOutcome. */
function toOutcome(mr) {
  return {
    bodySent: !!mr.bodySent,
    requestHeaders: mr.requestHeaders ? flatHeaders(mr.requestHeaders) : undefined,
    responseHeaders: mr.responseHeaders ? flatHeaders(mr.responseHeaders) : undefined,
    redirect: mr.redirect ? { url: mr.redirect.url.toString(), status: mr.redirect.status } : undefined,
    rewrite: mr.rewrite ? mr.rewrite.toString() : undefined,
  }
}

/** A MiddlewareResult as runtime/server.js hands it to `resume` (its `toRecord` of Headers). */
function serverOutcome(mr) {
  const record = (headers) => {
    if (!headers) return undefined
    const out = {}
    for (const [k, v] of headers.entries()) if (k !== 'set-cookie') out[k] = v
    const cookies = headers.getSetCookie()
    if (cookies.length) out['set-cookie'] = cookies
    return out
  }
  const o = { bodySent: !!mr.bodySent, requestHeaders: record(mr.requestHeaders), responseHeaders: record(mr.responseHeaders) }
  if (mr.redirect) o.redirect = { url: String(mr.redirect.url), status: mr.redirect.status }
  if (mr.rewrite) o.rewrite = String(mr.rewrite)
  return o
}

function sortedEntries(obj) {
  if (!obj) return null
  return Object.keys(obj).sort().filter((k) => obj[k] !== undefined).map((k) => [k, obj[k]])
}

function headerEntries(h) {
  if (!h) return []
  const out = []
  if (typeof h.forEach === 'function' && !(h instanceof Array) && typeof h.get === 'function') {
    for (const [k, v] of h) out.push([k, v])
  } else {
    for (const k of Object.keys(h)) for (const v of [].concat(h[k])) out.push([k, v])
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
}

/** Runs one request through the oracle. Returns a normalised result. */
async function runOracle(fx, req, resolveRoutes) {
  const m = fx.manifest
  let mwUrl = null
  let mwResult = null
  let result
  const routes = { ...m.routing, middlewareMatchers: m.middlewareMatchers }
  try {
    const url = new URL(req.url)
    result = await resolveRoutes({
      url,
      buildId: m.buildId,
      basePath: m.config.basePath || '',
      i18n: m.config.i18n,
      headers: new Headers(req.headers),
      requestBody: null,
      pathnames: fx.pathnames,
      routes: fx.anchoredConditions ? anchoredConditions(routes) : routes,
      invokeMiddleware: async (ctx) => {
        mwUrl = ctx.url.toString()
        mwResult = simulateMiddleware(fx, ctx)
        return mwResult
      },
    })
  } catch (e) {
    return { error: String(e && e.message), mwUrl, mwResult }
  }
  // Where a route's condition value reads otherwise for `next start` than for the oracle, the
  // oracle's answer with each value made `(?:^<value>$)`, which it then reads as `next start`
  // does (the `has-value-anchored` rule).
  const nextReading = !fx.anchoredConditions && conditionReadOtherwise(fx, req) ? await runOracle({ ...fx, anchoredConditions: true }, req, resolveRoutes) : undefined
  return {
    nextReading: nextReading && { norm: nextReading.norm, mwUrl: nextReading.mwUrl },
    norm: {
      pathname: result.resolvedPathname ?? null,
      invocation: result.invocationTarget ? result.invocationTarget.pathname : null,
      query: result.resolvedPathname ? sortedEntries(result.resolvedQuery) : null,
      status: result.status ?? null,
      redirect: result.redirect ? { location: result.redirect.url.toString(), status: result.redirect.status } : null,
      external: result.externalRewrite ? result.externalRewrite.toString() : null,
      middlewareResponded: !!result.middlewareResponded,
      headers: result.middlewareResponded ? [] : headerEntries(result.resolvedHeaders),
      // (A route without params matched, `{}`, reads as none: the Router's decision names no
      // params either way; an edge page's data route of a webpack build is such a route.)
      routeMatches: emptyAsNone(sortedEntries(result.routeMatches)),
    },
    mwUrl,
    mwResult,
  }
}

/**
 * Runs one request through our Router as the runtime calls it (`runtime/router.js`
 * `createRouter`), feeding it the oracle's middleware result.
 */
function runOurs(router, req, oracle) {
  let d = router.resolve(req)
  let mwUrl = null
  if (d.kind === 'middleware') {
    mwUrl = d.middlewareUrl
    // Where the oracle ran no middleware (it matches case-insensitively), ours continues as the
    // fixture's middleware does for such paths: NextResponse.next() without routing effects.
    d = router.resume(d.continuation, oracle.mwResult ? toOutcome(oracle.mwResult) : {})
  }
  return { mwUrl, decision: d, norm: normOurs(d, oracle.norm) }
}

function normOurs(d, o) {
  const query = {}
  for (const k of Object.keys(d.query || {})) query[k] = d.query[k]
  return {
    pathname: d.resolvedPathname ?? null,
    invocation: d.invocationPathname ?? null,
    query: d.resolvedPathname ? sortedEntries(query) : null,
    status: d.status ?? null,
    // The oracle reports `redirect` only for destination and locale redirects; Location-header
    // redirects appear as status + headers in both.
    redirect: o && o.redirect && d.redirect ? { location: d.redirect.location, status: d.redirect.status } : null,
    external: d.externalUrl ?? null,
    middlewareResponded: d.kind === 'middlewareResponded',
    headers: headerEntries(d.headers),
    routeMatches: emptyAsNone(sortedEntries(d.routeMatches)),
  }
}

function emptyAsNone(entries) {
  return entries && entries.length ? entries : null
}

// Where @next/routing differs from `next start` (NOTES.md; `next start` is the authority).
// `follows: 'next start'` rules describe where our Router deliberately differs from the oracle:
// `covers(fx, req, oracle, ours, { pathHasPrefix })` is only asked for requests where the two
// decisions differ, and must not look at more of ours than the rule names. `follows: 'oracle'`
// rules are known oracle bugs the Router still copies (those requests must agree with the oracle).
const DEVIATIONS = [
  {
    name: 'locale-segment-any-case',
    follows: 'next start',
    nextStart: 'finds a page under a locale spelled in another case (`/base/FR/about/`, `/base/de-de/posts/99/`, `/base/FR/` as the prerendered `/base/fr`): its filesystem lookup and dynamic routes take the path without the locale that `normalizeLocalePath` removes ignoring case; the oracle looks the path up as it is and 404s (or finds the function without the locale)',
    covers: (fx, req, o, ours, { pathHasPrefix }) => {
      const i18n = fx.manifest.config.i18n
      const bp = fx.manifest.config.basePath || ''
      let p = new URL(req.url).pathname
      if (!i18n || (bp && !pathHasPrefix(p, bp))) return false
      const seg = p.slice(bp.length).split('/')[1] || ''
      const locale = configuredLocale(i18n, seg)
      return !!locale && locale !== seg && !!ours.norm.pathname && ours.norm.pathname !== o.norm.pathname
    },
  },
  {
    name: 'internal-pages-404',
    follows: 'next start',
    nextStart: "404 for an output it keeps out of its routes, at its own URL (below the basePath and a locale): `/_error`, `/_app`, `/_document` (Next's BLOCKED_PAGES), the app router's `/_not-found`, a pages-router `/index` (its page is `/`), and without i18n `/500` (with i18n the localized `/en/500` is a page of its own, served with status 500); the oracle finds them among its pathnames",
    covers: (fx, req, o, ours, { pathHasPrefix }) => {
      const bp = fx.manifest.config.basePath || ''
      let p = new URL(req.url).pathname.replace(/\/$/, '')
      if (bp && !pathHasPrefix(p, bp)) return false
      p = p.slice(bp.length)
      const locale = (fx.manifest.config.i18n?.locales || []).find((l) => p.startsWith(`/${l}/`))
      if (locale) p = p.slice(locale.length + 1)
      const internal = ['/_error', '/_app', '/_document', '/_not-found', '/index'].includes(p) || (p === '/500' && !fx.manifest.config.i18n)
      return internal && !!o.norm.pathname && !ours.norm.pathname && !ours.norm.redirect
    },
  },
  {
    name: 'not-found-route-template-url',
    follows: 'next start',
    nextStart: "404s a URL naming the template of a route whose paths are all prerendered (`/products/[id]` with `dynamicParams = false`, `/docs/[slug]` and its data URL with `fallback: false`): the route's request for the param `[id]`, which it does not have; the oracle finds the template's own output among its pathnames and resolves it",
    covers: (fx, req, o, ours) => /\[[^/]+\]/.test(o.norm.pathname || '') && ours.decision.kind === 'notFound' && !!ours.decision.matchedRoute,
  },
  {
    name: 'redirect-query-as-next-start',
    follows: 'next start',
    nextStart: "writes a redirect's query again instead of copying it (resolve-routes.js: the request's query parsed by searchParamsToUrlQuery into an object, written by server-route-utils.js stringifyQuery with Node's querystring, encoding only the keys and values the request had): `?x=a+b` is `?x=a%20b`, `?a=1&&b=2` is `?a=1&b=2`, `?q=75/` is `?q=75%2F`, integer keys first, `__proto__` dropped; a Location the route wrote absolute stays absolute on the request's own origin (`http://fr.example.test/base/posts/1?x=1` asked for on fr.example.test); the oracle appends the query as it is and makes a same-origin Location relative. Checked here against Next's own two functions",
    covers: (fx, req, o, ours) => {
      const loc = (n) => n.headers.filter(([k]) => k === 'location').map(([, v]) => v)
      const [theirs, mine] = [loc(o.norm), loc(ours.norm)]
      if (theirs.length !== 1 || mine.length !== 1 || theirs[0] === mine[0]) return false
      const rest = (n) => ({ ...n, headers: n.headers.filter(([k]) => k !== 'location') })
      // (A Location the route wrote absolute stays so on the request's own origin, where the
      // oracle makes it relative: an i18n domain's redirect asked for on that domain.)
      const origin = new URL(req.url).origin
      const want = nextRedirectLocation(theirs[0])
      const same = mine[0] === want || (want.startsWith('/') && !want.startsWith('//') && mine[0] === origin + want)
      return util.isDeepStrictEqual(rest(o.norm), rest(ours.norm)) && same
    },
  },
  {
    name: 'data-url-dynamic-route',
    follows: 'next start',
    nextStart: "answers a `_next/data` URL of a dynamic pages-router route with the route's data output (`/_next/data/<id>/posts/1.json` is `…/posts/[id].json`, JSON) in an app with middleware, whose data URLs are normalized for middleware; the oracle matches the dynamic routes on the normalized path and resolves the page (`/posts/[id]`, its HTML): a client navigation to a getServerSideProps page got the document",
    covers: (fx, req, o, ours) => {
      const prefix = dataPrefix(fx)
      const p = new URL(req.url).pathname
      return fx.manifest.middlewareMatchers.length > 0 && p.startsWith(prefix) && p.endsWith('.json') &&
        !!ours.norm.pathname && ours.norm.pathname.startsWith(prefix) && !!o.norm.pathname && !o.norm.pathname.startsWith(prefix)
    },
  },
  {
    name: 'data-url-trailing-slash-normalized',
    follows: 'next start',
    nextStart: "normalizes a `_next/data` URL, in an app with middleware and trailingSlash, to its page path with a trailing slash and, without a locale, the default locale's (`…/<id>/posts/77.json` is `/base/en/posts/77/`: its `middleware_next_data` route, `maybeAddTrailingSlash`), so that its own trailing-slash redirect, which runs next, leaves the data request alone: the data output answers (JSON); the oracle normalizes without the slash, and its redirect sends every such data URL to the page (308 `/base/posts/77/`)",
    covers: (fx, req, o) => {
      const prefix = dataPrefix(fx)
      const p = new URL(req.url).pathname
      return fx.manifest.middlewareMatchers.length > 0 && !!fx.manifest.config.trailingSlash && p.startsWith(prefix) && p.endsWith('.json') && o.norm.status === 308
    },
  },
  {
    name: 'data-url-without-json',
    follows: 'next start',
    nextStart: "routes a path below `/_next/data/<buildId>/` that does not end in `.json` as it is spelled, in an app with middleware (its `middleware_next_data` route, which runs before the redirects, normalizes data URLs only): `…/posts/x` is a 404, `…/posts/1.json/` redirects to `…/posts/1.json`; the oracle normalizes every path below the prefix (renders `/posts/x`, redirects to `/posts/1.json`, runs middleware for `/posts/`)",
    covers: (fx, req) => {
      const prefix = dataPrefix(fx)
      const p = new URL(req.url).pathname
      return fx.manifest.middlewareMatchers.length > 0 && p.startsWith(prefix) && !p.endsWith('.json')
    },
  },
  {
    name: 'encoded-file-url',
    follows: 'next start',
    nextStart: "serves a file (of `public/` or `_next/static`) whose URL spells it percent-encoded otherwise than its name reads: filesystem.js getItem looks the path, then the path decoded, up among the files' names encoded by `encodeURIPath` (`/%64ata/file.json` and `/data/file%2Ejson` are `/data/file.json`; `/docs/my%20file.txt` is `public/docs/my file.txt`, webpack's `%5Bid%5D` chunks are `[id]`); the oracle compares the path with the names as they are and 404s",
    covers: (fx, req, o, ours, { pathHasPrefix }) => {
      const bp = fx.manifest.config.basePath || ''
      const p = new URL(req.url).pathname.replace(/(.)\/$/, '$1')
      const file = ours.norm.pathname
      if (!p.includes('%') || o.norm.pathname || !file || (bp && !pathHasPrefix(p, bp))) return false
      const named = encodeURIPath(file)
      let decoded
      try {
        decoded = decodeURIComponent(p)
      } catch {}
      return named === p || named === decoded
    },
  },
  {
    name: 'filesystem-lookup',
    follows: 'next start',
    nextStart: "serves a file or page the way filesystem.js getItem finds it: without a trailing slash, `/` as `/index`, without the locale prefix (public files only under a default locale); the oracle 404s (e.g. pages `/`, i18n `/base/about/`, `/base/hello.txt`, `/base/fb/x/`)",
    // (A filesystem hit carries no route matches: a dynamic route's resolution is no such lookup.)
    covers: (fx, req, o, ours) => !o.norm.pathname && !o.norm.redirect && !(o.norm.status >= 300 && o.norm.status < 400) && !!ours.norm.pathname && !ours.norm.routeMatches,
  },
  {
    name: 'concrete-prerender',
    follows: 'next start',
    nextStart: 'serves the prerendered path (`/base/en/posts/1`), found on disk before dynamic routes; the oracle resolves the template (`/base/en/posts/[id]`) because it misses the trailing-slash path',
    covers: (fx, req, o, ours) => /\[[^/]+\]/.test(o.norm.pathname || '') && !!ours.norm.pathname && !/\[[^/]+\]/.test(ours.norm.pathname),
  },
  {
    name: 'i18n-internal-redirects-without-default-locale',
    follows: 'next start',
    nextStart: 'matches its internal (priority) trailing-slash redirects against the path without the default locale: `/base` -> 308 `/base/`, `/base/en/about` -> 308 `/base/about/`; the oracle matches the locale-prefixed path (`/base/en/about/`, or 404 for `/base`)',
    covers: (fx, req, o, ours) => !!fx.manifest.config.i18n && ours.norm.status === 308,
  },
  {
    name: 'i18n-outside-basepath',
    follows: 'next start',
    nextStart: 'does not add the basePath to a request outside it (`/`, `/about/`, `/basefoo`): the locale goes in front of the path as it is, so no basePath rule matches; the oracle routes it as if it had the basePath',
    covers: (fx, req, o, ours, { pathHasPrefix }) => !!fx.manifest.config.i18n && !!fx.manifest.config.basePath && !pathHasPrefix(new URL(req.url).pathname, fx.manifest.config.basePath),
  },
  {
    name: 'trailing-slash-redirect-runs-middleware-first',
    follows: 'next start',
    nextStart: 'answers a redirect route matched before middleware (the priority trailing-slash 308s, user redirects such as `/temp-redirect`) without invoking middleware (resolve-routes.js: headers, redirects, then middleware); the oracle runs middleware first',
    covers: (fx, req, o, ours) => {
      const location = (n) => (n.headers.find(([k]) => k === 'location') || [])[1]
      return o.mwUrl !== null && ours.mwUrl === null && ours.norm.status >= 300 && ours.norm.status < 400 &&
        ours.norm.status === o.norm.status && location(ours.norm) !== undefined && location(ours.norm) === location(o.norm)
    },
  },
  {
    name: 'case-insensitive-middleware-match',
    follows: 'next start',
    nextStart: 'matches middleware matchers case-sensitively (`new RegExp(regexp)`): no middleware for a path that matches only case-insensitively (`/ABOUT` for a matcher `/about`), middleware for `/_Next/static/x` (outside the lower-case exclusion of the app-router matcher); the oracle matches with the `i` flag. Only whether middleware runs differs: the decision itself must be the same',
    covers: (fx, req, o, ours) => (o.mwUrl === null) !== (ours.mwUrl === null) && /[A-Z]/.test(new URL(req.url).pathname) && util.isDeepStrictEqual(o.norm, ours.norm),
  },
  {
    name: 'case-sensitive-dynamic-routes',
    follows: 'next start',
    nextStart: "matches dynamic routes (pages and their data routes) case-sensitively (filesystem.js: `getRouteMatcher` of `new RegExp(re)`): `/Blog/first` and `/BLOG/zzz` are 404s, not `/blog/[slug]`, and `/Products/9` is not the 404 of `/products/[id]`; the oracle matches them with the `i` flag (custom routes stay case-insensitive in both)",
    // (The build id, which has capitals of its own, left out.)
    covers: (fx, req, o, ours) => /[A-Z]/.test(new URL(req.url).pathname.replace(fx.manifest.buildId, '')) && !ours.norm.redirect && !ours.norm.external && ours.norm.pathname !== o.norm.pathname,
  },
  {
    name: 'i18n-root-locale-redirect',
    follows: 'next start',
    nextStart: "decides the root's locale redirect as get-locale-redirect.js does: on a locale's domain that domain's locale is the one detected (`NEXT_LOCALE` and Accept-Language do not redirect `/base/` on fr.example.test), only an Accept-Language preferring another domain's locale sends the request to that domain's root; elsewhere the cookie, then Accept-Language, choose the locale, and the redirect stays on the host with a Location of the path and query alone (`/base/fr/`); `/base/index` and `/base/index/` are the root too (denormalizePagePath); the oracle reads the cookie first everywhere, sends a locale that has a domain to that domain, and writes absolute Locations",
    covers: (fx, req, o, ours, { pathHasPrefix }) => {
      const i18n = fx.manifest.config.i18n
      const bp = fx.manifest.config.basePath || ''
      const p = new URL(req.url).pathname
      const rest = bp && pathHasPrefix(p, bp) ? p.slice(bp.length) || '/' : p
      const locale307 = (r) => !!r && r.status === 307
      // (Ours from the decision: the normalized view keeps a redirect only where the oracle has one.)
      // (`/index` and `/index/` are the root too: get-locale-redirect.js asks denormalizePagePath.)
      const root = rest === '/' || rest === '/index' || rest === '/index/'
      return !!i18n && root && (locale307(o.norm.redirect) || locale307(ours.decision.redirect)) && !ours.norm.external
    },
  },
  {
    name: 'i18n-data-url-locale',
    follows: 'next start',
    nextStart: "takes a `_next/data` URL's locale in any case (`…/<buildId>/FR/ssr.json` is `fr`'s data, `…/FR/posts/77.json` generates `fr`'s page) and, in an app without middleware, answers one whose page path has no locale with a 404 (base-server `handleNextDataRequest`), though the build has an output at that URL (`…/<buildId>/ssr.json` of a getServerSideProps page); the oracle looks the URL up as it is spelled",
    covers: (fx, req, o, ours) => {
      const i18n = fx.manifest.config.i18n
      const prefix = dataPrefix(fx)
      const p = new URL(req.url).pathname
      if (!i18n || !p.startsWith(prefix) || ours.norm.redirect || ours.norm.external) return false
      const first = p.slice(prefix.length).replace(/\.json$/, '').split('/')[0]
      const locale = configuredLocale(i18n, first)
      if (!locale) return fx.manifest.middlewareMatchers.length === 0 && !ours.norm.pathname && !!o.norm.pathname
      return locale !== first && !!ours.norm.pathname && ours.norm.pathname !== o.norm.pathname
    },
  },
  {
    name: 'next-data-url-404',
    follows: 'oracle',
    nextStart: "200 for /_next/data/<buildId>/<page>.json of an existing app-router page (`/about`, `/`, `/blog/first`): it serves the page's HTML, where the oracle and the Router 404 (pages-router data URLs agree: 200 JSON for a page with data, 404 otherwise)",
  },
  {
    name: 'rsc-suffix-url-resolves',
    follows: 'next start',
    nextStart: "404 for a URL naming a page's Flight twin (`/about.rsc`, `/index.rsc`, a pages-router page's `{}` twin where both routers are used) that no dynamic route's regex takes, and for a URL naming a segment (`/blog/first.segments/_tree.segment.rsc`: next start matches routes against the path as it is, and `[^/]+?` takes no `/`); the oracle finds the output among its pathnames and resolves it. (Where a dynamic route's regex takes the `.rsc` suffix, `/blog/first.rsc`, the Router resolves the twin as the oracle does, and next start renders `/blog/[slug]` for the slug `first.rsc`: a known difference of the runtime test.)",
    covers: (fx, req, o, ours) => /\.rsc$/.test(o.norm.pathname || '') && !ours.norm.pathname && !ours.norm.redirect && !ours.norm.external && !(ours.norm.status >= 300 && ours.norm.status < 400),
  },
  {
    name: 'has-value-anchored',
    follows: 'next start',
    nextStart: "matches a `has` / `missing` value as `new RegExp('^' + value + '$')` against the request's value and nothing else (prepare-destination.js `matchHas`): `x-rewrite-me: yesyes` is not `(?<val>yes|true)`, so `/header-rewrite` 404s; the oracle (`matchesCondition`) also tries the value unanchored and as a literal text, and rewrote it",
    covers: (fx, req, o, ours) => !!o.nextReading && util.isDeepStrictEqual(o.nextReading.norm, ours.norm) && o.nextReading.mwUrl === ours.mwUrl,
  },
  // (NOTES.md also lists "next start applies a middleware rewrite's destination header rules".
  // That was next start started with `-H 127.0.0.1` proxying the rewrite to itself, Next naming
  // the loopback host `localhost` inside middleware: on localhost next start does not apply
  // them either (/about's cookie rule on `/rewrite-me`, compared in `__test__/runtime.test.js`),
  // as the Router and the oracle.)
]

/**
 * Whether a `has` / `missing` value of any of the fixture's routes matches this request's value
 * otherwise for `next start` (`^<value>$`) than for the oracle (`^(?:<value>)$`, then the value
 * unanchored, then as a literal): the request's own header, cookie, query or host, as the
 * oracle reads them.
 */
function conditionReadOtherwise(fx, req) {
  const m = fx.manifest
  const url = new URL(req.url)
  const headers = new Headers(req.headers)
  const cookies = {}
  for (const part of (headers.get('cookie') || '').split(';')) {
    const [k, ...v] = part.trim().split('=')
    if (k) cookies[k] = v.join('=')
  }
  const valueOf = (c) => {
    if (c.type === 'header') return headers.get(c.key) || undefined
    if (c.type === 'cookie') return cookies[c.key]
    if (c.type === 'query') return url.searchParams.get(c.key) || undefined
    return url.hostname
  }
  const routes = [...Object.values(m.routing).filter(Array.isArray).flat(), ...(m.middlewareMatchers || [])]
  for (const r of routes) {
    for (const c of [...(r.has || []), ...(r.missing || [])]) {
      const v = c.value === undefined ? undefined : valueOf(c)
      if (!v) continue
      const next = new RegExp(`^${c.value}$`).test(v)
      const oracle = new RegExp(`^(?:${c.value})$`).test(v) || new RegExp(c.value).test(v) || v === c.value
      if (next !== oracle) return true
    }
  }
  return false
}

/** `routes` with every `has` / `missing` value `v` made `(?:^v$)`: the oracle's tries (anchored,
 * unanchored, literal) all read it as `next start`'s `^v$`. */
function anchoredConditions(routes) {
  const conds = (list) => list && list.map((c) => (c.value === undefined ? c : { ...c, value: `(?:^${c.value}$)` }))
  const out = {}
  for (const [k, v] of Object.entries(routes)) out[k] = Array.isArray(v) ? v.map((r) => ({ ...r, has: conds(r.has), missing: conds(r.missing) })) : v
  return out
}

/**
 * A redirect's Location as `next start` writes its query, by Next's own functions: the query
 * made an object (`searchParamsToUrlQuery`) and written by `stringifyQuery`, whose encoder reads
 * the request's query from the request meta (`initQuery`).
 */
function nextRedirectLocation(location) {
  const { searchParamsToUrlQuery } = require('next/dist/shared/lib/router/utils/querystring')
  const { stringifyQuery } = require('next/dist/server/server-route-utils')
  const at = location.indexOf('?')
  if (at < 0) return location
  const query = searchParamsToUrlQuery(new URLSearchParams(location.slice(at + 1)))
  const req = { [Symbol.for('NextInternalRequestMeta')]: { initQuery: { ...query } } }
  const search = stringifyQuery(req, { ...query })
  return `${location.slice(0, at)}${search ? `?${search}` : ''}`
}

/** `<basePath>/_next/data/<buildId>/`: where a fixture's data URLs begin. */
function dataPrefix(fx) {
  return `${fx.manifest.config.basePath || ''}/_next/data/${fx.manifest.buildId}/`
}

/** Next's `encodeURIPath`: each `/`-separated segment as `encodeURIComponent` writes it. */
function encodeURIPath(p) {
  return p.split('/').map(encodeURIComponent).join('/')
}

/** The locale `segment` names, in any case, as the config spells it; undefined for none. */
function configuredLocale(i18n, segment) {
  return i18n.locales.find((l) => l.toLowerCase() === segment.toLowerCase())
}

function pathHasPrefix(p, prefix) {
  return p === prefix || p.startsWith(`${prefix}/`)
}

/** Whether our decision agrees with the oracle's, or differs only where a 'next start' rule says. */
function agrees(fx, req, o, ours) {
  if (util.isDeepStrictEqual(o.norm, ours.norm) && o.mwUrl === ours.mwUrl) return true
  return DEVIATIONS.some((d) => d.follows === 'next start' && d.covers(fx, req, o, ours, { pathHasPrefix }))
}

module.exports = {
  DEVIATIONS, agrees,
  ROOT, FIXTURES, DIFFERENTIAL_FIXTURES, fixtureDir, ensureBuilt, loadFixture, corpus, runOracle, runOurs, simulateMiddleware, toOutcome, serverOutcome,
  oraclePathnames, headerEntries, rawHeaders, encodeURIPath,
}
