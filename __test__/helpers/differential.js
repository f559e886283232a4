'use strict'

// The differential comparison of `acme-next start` against `next start`: the request lists per
// fixture, the compared view of a response and the accepted differences. Used by
// `__test__/runtime.test.js` (the repo's Next) and `__test__/matrix/matrix.test.js` (every
// supported Next minor).

const crypto = require('node:crypto')
const http = require('node:http')
const zlib = require('node:zlib')

/**
 * One raw HTTP request (the path is sent as written: no URL normalization), with an optional
 * body. Resolves `{ status, headers, body, raw }`: `body` decoded from gzip or deflate, `raw` the
 * bytes as they came.
 */
function request(origin, { method = 'GET', path, headers = {}, body }) {
  const { hostname, port } = new URL(origin)
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, method, path, headers: { 'accept-encoding': 'identity', ...headers } }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        const raw = Buffer.concat(chunks)
        const encoding = res.headers['content-encoding']
        let decoded = raw
        if (raw.length && encoding === 'gzip') decoded = zlib.gunzipSync(raw)
        else if (raw.length && encoding === 'deflate') decoded = zlib.inflateSync(raw)
        resolve({ status: res.statusCode, headers: res.headers, body: decoded, raw })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** A multipart/form-data body of `fields` ([name, value] pairs). */
function multipart(fields) {
  const boundary = '----acme-differential'
  let body = ''
  for (const [k, v] of fields) body += `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`
  return { body: `${body}--${boundary}--\r\n`, contentType: `multipart/form-data; boundary=${boundary}` }
}

/** The server action id of the app-router fixture's `/action` form (its no-JS `$ACTION_ID_` field). */
async function actionIdOf(origin) {
  const res = await request(origin, { path: '/action' })
  const m = /name="\$ACTION_ID_([0-9a-f]+)"/.exec(res.body.toString('utf8'))
  if (!m) throw new Error(`no server action id in ${origin}/action`)
  return m[1]
}

/** Server-action POSTs to `/action`: from JavaScript (`next-action`), from a plain form, an unknown id. */
function actionRequests(actionId) {
  const fromJs = multipart([['1_name', 'acme'], ['0', '["$K1"]']])
  const fromForm = multipart([[`$ACTION_ID_${actionId}`, ''], ['name', 'acme']])
  const tree = '%5B%22%22%2C%7B%22children%22%3A%5B%22action%22%2C%7B%22children%22%3A%5B%22__PAGE__%22%2C%7B%7D%5D%7D%5D%7D%2Cnull%2Cnull%2Ctrue%5D'
  return [
    { method: 'POST', path: '/action', headers: { 'next-action': actionId, accept: 'text/x-component', 'content-type': fromJs.contentType, 'next-router-state-tree': tree }, body: fromJs.body },
    { method: 'POST', path: '/action', headers: { 'content-type': fromForm.contentType }, body: fromForm.body },
    { method: 'POST', path: '/action', headers: { 'next-action': 'ff'.repeat(21), accept: 'text/x-component', 'content-type': fromJs.contentType }, body: fromJs.body },
  ]
}

const VOLATILE = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z|\b1\d{12}\b/g
// A dynamic RSC render keys its viewport and metadata elements with the render's request id, a
// fresh nanoid per request (`getFlightViewportKey`/`getFlightMetadataKey` in Next's
// app-render.js: `requestId + 'v'` / `requestId + 'm'`): three `next start` responses to
// `/dynamic?_rsc` carried three different keys there and were otherwise identical. The keyed
// element is a lazy reference (`"$L9"`) on 16.4 and a `"div"` on 16.2/16.3. On the edge runtime
// the request id is a UUID (`/edge-app-page?_rsc` of the webpack fixture).
const RSC_REQUEST_ID = /("(?:\$L?[0-9a-z]+|div)",)"(?:[A-Za-z0-9_-]{21}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})([vm])"/g

/** What is compared of a body: the `<h1>` (HTML), JSON without times, a hash otherwise. */
function bodyDigest(contentType, body) {
  const text = body.toString('utf8')
  if (/text\/html/.test(contentType)) {
    const h1 = [...text.matchAll(/<h1[^>]*>([\s\S]*?)<\/h1>/g)].map((m) => m[1].replace(/<!-- -->/g, ''))
    const loading = /id="loading"/.test(text) ? ' [fallback shell]' : ''
    return `h1=${JSON.stringify(h1)}${loading}`
  }
  if (/json/.test(contentType)) {
    try {
      return `json=${JSON.stringify(JSON.parse(text.replace(VOLATILE, 'T')))}`
    } catch {
      return `text=${text.replace(VOLATILE, 'T')}`
    }
  }
  if (/x-component/.test(contentType)) {
    const masked = text.replace(VOLATILE, 'T').replace(RSC_REQUEST_ID, '$1"<request-id>$2"')
    return `rsc=${crypto.createHash('sha256').update(masked).digest('hex').slice(0, 16)}`
  }
  return `sha256=${crypto.createHash('sha256').update(body).digest('hex').slice(0, 16)} bytes=${body.length}`
}

function normContentType(v) {
  if (!v) return undefined
  return String(v).toLowerCase().replace('application/javascript', 'text/javascript').replace(/\s+/g, '')
}

function normCacheControl(v) {
  return v === undefined ? undefined : String(v).split(',').map((s) => s.trim()).join(', ')
}

/** The compared view of a response. */
function view(res, method) {
  return {
    status: res.status,
    location: res.headers.location,
    'content-type': normContentType(res.headers['content-type']),
    'cache-control': normCacheControl(res.headers['cache-control']),
    'x-nextjs-cache': res.headers['x-nextjs-cache'],
    vary: res.headers.vary,
    'x-action-revalidated': res.headers['x-action-revalidated'],
    // The page a data URL reached, which a pages-router client with middleware renders by.
    'x-nextjs-matched-path': res.headers['x-nextjs-matched-path'],
    body: method === 'HEAD' || res.status === 304 ? '' : bodyDigest(String(res.headers['content-type'] || ''), res.body),
  }
}

const RSC = { rsc: '1' }

const REQUESTS = {
  'app-router': (buildId, { actionId } = {}) => [
    { path: '/' },
    { path: '/about' },
    // A redirect's query as next start writes it again: parsed, then encoded (`+` as `%20`, a
    // `/` in a value as `%2F`), empty pairs and `__proto__` dropped, integer keys first.
    { path: '/about/?x=a+b&u=%2Fimg%2Fa.png&q=75/' },
    { path: '/temp-redirect?b=1&&2=y' },
    { path: '/About/?__proto__=1' },
    // A data fetch's header on a page request: middleware's redirect is a plain one there.
    { path: '/old', headers: { 'x-nextjs-data': '1' } },
    { path: '/about?_rsc', headers: RSC },
    { path: '/about?_rsc=_i_aeImnuN6u1u1r', headers: { ...RSC, 'next-router-prefetch': '1', 'next-router-segment-prefetch': '/_tree' } },
    { path: '/isr' },
    { path: '/blog/first' },
    { path: '/blog/second?_rsc', headers: RSC },
    { path: '/blog/new-post' },
    { path: '/blog/new-post' },
    { path: '/blog/head-first', method: 'HEAD' },
    { path: '/blog/head-first' },
    // A data URL of a page not generated yet (an app page, middleware present): its render is
    // kept, and the page's next request carries no `x-nextjs-matched-path` of the data request
    // (acme kept the header with the render until the twenty-ninth session).
    { path: `/_next/data/${buildId}/blog/data-first.json` },
    { path: '/blog/data-first' },
    // A segment prefetch's headers without `rsc` (anyone can send them) on a page not generated
    // yet: answered with the segment, as next start answers it, and the page's document is kept,
    // not that payload (acme kept the Flight payload as the page's document until the
    // twenty-seventh session: every later request for the page got it).
    // (`sinceNext`: next start 16.2 never answers these two, so the matrix leaves them out there.)
    { path: '/blog/poison-me', headers: { 'next-router-prefetch': '1', 'next-router-segment-prefetch': '/_tree' }, sinceNext: '16.3' },
    { path: '/blog/poison-me', sinceNext: '16.3' },
    // A segment prefetch of a page not generated yet: next start renders the whole page and
    // keeps it (acme rendered the segment alone until the twenty-eighth session: the page's
    // document then rendered again, a MISS where next start says HIT).
    { path: '/blog/segment-first?_rsc=_i_aeImnuN6u1u1r', headers: { ...RSC, 'next-router-prefetch': '1', 'next-router-segment-prefetch': '/_tree' } },
    { path: '/blog/segment-first' },
    // A segment prefetch's headers without `rsc: 1` on a prerendered page: the segment from its
    // cache entry, or the miss (acme answered the document).
    { path: '/products/1', headers: { 'next-router-prefetch': '1', 'next-router-segment-prefetch': '/_tree' } },
    { path: '/about', headers: { 'next-router-prefetch': '1', 'next-router-segment-prefetch': '/foo' } },
    { path: '/products/1' },
    { path: '/products/3' },
    { path: '/dynamic' },
    { path: '/dynamic?_rsc', headers: RSC },
    { path: '/cached' },
    { path: '/nope' },
    { path: '/nope?_rsc', headers: RSC },
    // `_rsc` must match the headers it hashes, or next start redirects to the URL with the right one.
    { path: '/about', headers: RSC },
    { path: '/about?_rsc=wrong', headers: RSC },
    { path: '/about?_rsc=1r34m', headers: { ...RSC, 'next-router-prefetch': '1', 'next-router-segment-prefetch': '/_tree' } },
    { path: '/dynamic?x=a%20b', headers: { ...RSC, 'next-router-state-tree': '%5B%22%22%5D', 'next-url': '/about' } },
    { path: '/blog/first?_rsc=x&y=1', headers: { ...RSC, 'next-router-prefetch': '1' } },
    { path: '/nope', headers: RSC },
    { path: '/api/hello', headers: RSC },
    { path: '/api/edge', headers: RSC },
    { path: '/robots.txt', headers: RSC },
    { path: '/rewrite-me', headers: RSC },
    // URLs naming a Flight twin: 404 (RSC) unless a dynamic route takes the suffix; one naming
    // a segment: the not-found page's segment (the route's regex does not take a `/`).
    { path: '/about.rsc' },
    { path: '/nope.rsc' },
    { path: '/blog/first.rsc' },
    { path: '/blog/first.segments/_tree.segment.rsc' },
    { path: '/about.segments/_tree.segment.rsc' },
    { path: '/nope.segments/foo.segment.rsc' },
    // A segment the page (prerendered by segment) does not have: an empty 404.
    { path: '/about?_rsc=jaWag_9zXGtMBqeC', headers: { ...RSC, 'next-router-prefetch': '1', 'next-router-segment-prefetch': '/foo' } },
    { path: '/nope', headers: { ...RSC, 'next-router-prefetch': '1', 'next-router-segment-prefetch': '/foo' } },
    // A segment prefetch's headers without `rsc: 1` at an unmatched URL: the not-found page's
    // segment (or the miss) all the same; an empty segment name is a segment it has not.
    { path: '/nope', headers: { 'next-router-prefetch': '1', 'next-router-segment-prefetch': '/_tree' } },
    { path: '/nope', headers: { 'next-router-prefetch': '1', 'next-router-segment-prefetch': '/foo' } },
    { path: '/nope', headers: { ...RSC, 'next-router-prefetch': '1', 'next-router-segment-prefetch': '' } },
    // Through a rewrite to a dynamic route (the Router answers with the template's twin): the
    // page's own segment, or the miss.
    { path: '/fallback-rewrite/first?_rsc=_i_aeImnuN6u1u1r', headers: { ...RSC, 'next-router-prefetch': '1', 'next-router-segment-prefetch': '/_tree' } },
    { path: '/fallback-rewrite/first?_rsc=jaWag_9zXGtMBqeC', headers: { ...RSC, 'next-router-prefetch': '1', 'next-router-segment-prefetch': '/foo' } },
    // A cookie that is not valid percent-encoding (any site on the domain may set one): kept
    // as it is, as Next's cookie parser keeps it (a prerendered, an ISR and a dynamic page).
    { path: '/about', headers: { cookie: 'a=%zz' } },
    { path: '/blog/first', headers: { cookie: 'NEXT_LOCALE=%zz; b="%E2%82"' } },
    { path: '/dynamic', headers: { cookie: 'a=%zz' } },
    // Dynamic routes match case-sensitively (custom routes do not): 404s, and the plain 404 for
    // a path only a dynamicParams = false route takes in another case.
    { path: '/Blog/first' },
    { path: '/BLOG/zzz' },
    { path: '/Products/9' },
    { path: '/Fallback-rewrite/first' },
    // A missing image, script or font asked for by a browser: a plain 404, not the page.
    { path: '/nope.png', headers: { 'sec-fetch-dest': 'image' } },
    { path: '/blog/a/b', headers: { 'sec-fetch-dest': 'script' } },
    { path: '/nope', headers: { 'sec-fetch-dest': 'document' } },
    { path: '/products/9', headers: { 'sec-fetch-dest': 'image' } },
    // A route's template by URL: `/products/[id]` (dynamicParams = false) has no param `[id]`,
    // a 404 (the template's fallback rendered before); `/blog/[slug]` renders the slug `[slug]`.
    { path: '/products/[id]' },
    { path: '/blog/[slug]' },
    // Data URLs in an app with middleware and no pages router: normalized all the same, as
    // next start's router does (its build says not to), so an app page's renders the page
    // (they were 404s).
    { path: `/_next/data/${buildId}/about.json` },
    { path: `/_next/data/${buildId}/index.json` },
    { path: `/_next/data/${buildId}/blog/first.json` },
    // Outputs next start keeps out of its routes: not found at their own URL.
    { path: '/_not-found' },
    { path: '/500' },
    { path: '/_error' },
    { path: '/api/hello?x=1' },
    { path: '/api/hello', headers: { 'x-no-cors': '1' } },
    { path: '/api/static' },
    { path: '/api/edge?q=1' },
    { path: '/robots.txt' },
    { path: '/robots.txt', method: 'HEAD' },
    { path: '/robots.txt', headers: { range: 'bytes=0-3' } },
    { path: '/robots.txt', headers: { range: 'bytes=500-600' } },
    { path: '/images/logo.svg' },
    { path: '/data/file.json' },
    { path: '/.well-known/security.txt' },
    { path: '/favicon.ico' },
    { path: `/_next/static/${buildId}/_buildManifest.js` },
    { path: `/_next/static/${buildId}/nope.js` },
    { path: '/old-blog/hello' },
    { path: '/temp-redirect' },
    { path: '/legacy?go=home' },
    { path: '/legacy' },
    { path: '/about/' },
    { path: '/before-files-about' },
    { path: '/after-files/x' },
    { path: '/header-rewrite', headers: { 'x-rewrite-me': 'yes' } },
    { path: '/header-rewrite' },
    // A condition's value is `^<value>$` to next start, and only that: `yesyes` is not
    // `(?<val>yes|true)` (the Router took it, as @next/routing does, until the twenty-seventh
    // session: the page instead of a 404).
    { path: '/header-rewrite', headers: { 'x-rewrite-me': 'yesyes' } },
    { path: '/fallback-rewrite/first' },
    { path: '/rewrite-me' },
    { path: '/old' },
    { path: '/mw-response' },
    { path: '/%2e%2e/%2e%2e/etc/passwd' },
    { path: '/_next/static/../../package.json' },
    { path: '/_next/static/%2e%2e/%2e%2e/package.json' },
    { path: '/manifest.json' },
    { path: '/server/node_modules/next/package.json' },
    // A param that is no valid percent-encoding: next start cannot decode it, and without a
    // pages-router error page to render its 400 answers a plain-text 500, before any RSC check
    // (acme invoked the page: its 500 page, or the RSC check's redirect; a 404 where all the
    // route's paths are prerendered).
    { path: '/blog/%E0%A4%A' },
    { path: '/blog/%E0%A4%A', headers: RSC },
    { path: '/products/%E0%A4%A' },
    ...(actionId ? actionRequests(actionId) : []),
  ],
  'pages-router': (buildId) => [
    { path: '/' },
    { path: '/index' },
    // `fallback: false`: no page for the param `[slug]` (the template rendered before).
    { path: '/docs/[slug]' },
    { path: `/_next/data/${buildId}/docs/[slug].json` },
    { path: '/nope.css', headers: { 'sec-fetch-dest': 'style' } },
    { path: '/_error' },
    { path: '/500' },
    { path: '/ssr?a=1' },
    // Queries spelled so that decoding and encoding them again would change their text (`%20`
    // and `+`, a bare key, an empty piece, a stray `%`, a repeated key): the page and the API
    // route echo the query they were handed.
    { path: '/ssr?a=%20b&c&&d=x+y&e=%zz&a=2&f=%C3%A9' },
    { path: `/_next/data/${buildId}/ssr.json?q=a%2Fb+c&q=%3D` },
    { path: '/api/hello?x=%41%2b&y=a+b&&z&x=' },
    { path: '/posts/5?nxtPid=9&p=%26' },
    { path: `/_next/data/${buildId}/ssr.json` },
    { path: '/isr' },
    { path: `/_next/data/${buildId}/isr.json` },
    { path: '/posts/1' },
    { path: '/posts/3' },
    { path: '/posts/3' },
    // A page a HEAD request generated is kept, as any render: the GET after it is a HIT (acme's
    // HEAD render stored nothing until the twenty-seventh session: MISS).
    { path: '/posts/6', method: 'HEAD' },
    { path: '/posts/6' },
    { path: `/_next/data/${buildId}/posts/2.json` },
    { path: '/posts/404' },
    // Its cached notFound result to a subresource: a plain 404, as next start's 404 path answers.
    { path: '/posts/404', headers: { 'sec-fetch-dest': 'image' } },
    { path: '/docs/intro' },
    { path: '/docs/nope' },
    { path: '/fallback/prebuilt' },
    { path: '/fallback/new' },
    { path: '/api/hello?q=1' },
    { path: '/api/edge' },
    { path: '/hello.txt' },
    { path: '/hello.txt', method: 'HEAD' },
    { path: '/404' },
    { path: '/nope' },
    { path: '/%2e%2e/%2e%2e/etc/passwd' },
    { path: '/_next/static/../../package.json' },
    { path: '/ssr', headers: RSC },
    { path: '/isr', headers: RSC },
    { path: '/api/hello', headers: RSC },
    // A param that is no valid percent-encoding: next start's router cannot decode it and
    // renders the error page's 400 (an RSC request's `_rsc` checked first, the redirect no-store;
    // `fallback: false` alike). acme invoked the page, which threw: a 500.
    { path: '/posts/%E0%A4%A' },
    { path: '/posts/%E0%A4%A', headers: RSC },
    { path: '/posts/%E0%A4%A?_rsc', headers: RSC },
    { path: '/docs/%E0%A4%A' },
    { path: `/_next/data/${buildId}/posts/%E0%A4%A.json` },
  ],
  'i18n-basepath': (buildId) => [
    { path: '/base/' },
    { path: '/base' },
    { path: '/base/fr/' },
    { path: '/base/about/' },
    { path: '/base/about/?tag=x' },
    { path: '/base/fr/about/' },
    { path: '/base/posts/1/' },
    { path: '/base/fr/posts/1/' },
    { path: '/base/posts/9/' },
    { path: '/base/ssr/' },
    { path: '/base/api/hello/' },
    { path: '/base/hello.txt' },
    { path: '/base/old/1/' },
    { path: '/base/before/x/' },
    { path: '/base/after/1/' },
    { path: '/base/fb/x/' },
    { path: '/' },
    { path: '/about/' },
    { path: '/base/nope/' },
    // An RSC request's 404 varies on the router headers, in an app without the app router too.
    { path: '/base/fr/nope/', headers: { rsc: '1' } },
    // A locale typed in another case: the page under that locale, from the same cache entry
    // (a prerendered page, a static one, the locale's index, a dynamic page rendered here).
    { path: '/base/FR/posts/1/' },
    { path: '/base/EN/about/' },
    { path: '/base/FR/' },
    { path: '/base/de-de/posts/99/' },
    { path: '/base/de-DE/posts/99/' },
    // With i18n the localized 500 page is a page of next start's: served, with status 500.
    { path: '/base/500/' },
    { path: '/base/_error/' },
    // The pages router's `/index` at its own URL, though a function renders it here: a 404.
    { path: '/base/index/' },
    // Data URLs: without a locale a 404 (no middleware here), though the build has an output
    // for the getServerSideProps page's; a locale in another case is the locale's data, a page
    // generated by its data URL is cached for its document too (one entry on next start).
    { path: `/base/_next/data/${buildId}/ssr.json` },
    { path: `/base/_next/data/${buildId}/FR/ssr.json` },
    { path: `/base/_next/data/${buildId}/EN.json` },
    { path: `/base/_next/data/${buildId}/De-de/posts/2.json` },
    { path: `/base/_next/data/${buildId}/FR/posts/77.json` },
    { path: '/base/fr/posts/77/' },
    // The root's locale redirect: none on fr's domain (its locale is the one detected), the
    // cookie's locale on this host, with the path and query alone as the Location.
    { path: '/base/', headers: { host: 'fr.example.test', cookie: 'NEXT_LOCALE=de-DE' } },
    { path: '/', headers: { host: 'fr.example.test', 'accept-language': 'de-DE' } },
    { path: '/base/?a=1', headers: { 'accept-language': 'fr', cookie: 'NEXT_LOCALE=de-DE' } },
    // Accept-Language as next start's acceptLanguage reads it: a language prefix names a
    // locale (`de` is `de-DE`) before a later exact match, spaces are dropped, `*` stands for
    // the locales not named, a weight outside 0.001..1 counts as 1, and a header its parser
    // refuses prefers nothing (each went elsewhere before: fr, none, none, none, fr).
    { path: '/base/', headers: { 'accept-language': 'de, fr;q=0.9' } },
    { path: '/base/', headers: { 'accept-language': 'xx, fr ;q=0.5' } },
    { path: '/base/', headers: { 'accept-language': '*, en;q=0.5' } },
    { path: '/base/', headers: { 'accept-language': 'en;q=0.001, fr;q=0.0001' } },
    { path: '/base/', headers: { 'accept-language': 'fr;q=0.5;level=1' } },
    // A redirect the route wrote absolute (fr's domain) stays absolute with the request's query,
    // on that domain too, in any case (it was made relative there).
    { path: '/base/fr/old/1/?x=a+b', headers: { host: 'fr.example.test' } },
    { path: '/base/fr/old/1/?x=1', headers: { host: 'FR.example.test' } },
    // `/index` is the root too (get-locale-redirect.js asks denormalizePagePath), with or
    // without its slash: before, a 308 to `/base/index/` and a 404.
    { path: '/base/index?a=1', headers: { 'accept-language': 'fr' } },
    { path: '/base/index/', headers: { cookie: 'NEXT_LOCALE=de-DE' } },
  ],
}

// Differences between `next start` and `acme-next start` that are accepted, with the reason.
// Keyed by `<fixture> <method> <path>[ <headers>]`; the value is the reason (any field may
// differ) or `{ fields, reason }` (only those fields may differ; the others are still compared).
// The app router's not-found page asked for by URL (`/_not-found`, and `/500` without i18n).
const NOT_FOUND_PAGE_URL = {
  fields: ['cache-control'],
  reason:
    "both 404 with the not-found page; next start sends the page's own cache entry with its cache-control (s-maxage=31536000), " +
    'acme the 404 of an unknown path (private, no-store): a URL that only names an internal page is not cached at the edge',
}

const KNOWN_DIFFERENCES = {
  'app-router GET /_not-found': NOT_FOUND_PAGE_URL,
  'app-router GET /500': NOT_FOUND_PAGE_URL,
  'app-router GET /robots.txt {"range":"bytes=500-600"}':
    'next start answers an unsatisfiable Range with 500 (an error in its static handler); acme answers 416 + content-range as RFC 9110 asks',
  'app-router GET /rewrite-me {"rsc":"1"}': {
    fields: ['location'],
    reason:
      "next start started with -H 127.0.0.1 (as these tests start it) takes middleware's rewrite to `localhost` (Next names a loopback host so) " +
      'for an external one and proxies it to itself, whose `_rsc` redirect then names /about; acme keeps the rewrite internal and redirects to ' +
      'the URL asked for, as next start on localhost does (runtime.test.js compares that case with such a next start)',
  },
  'app-router GET /blog/first.rsc': {
    fields: ['x-nextjs-cache', 'body'],
    reason:
      'next start matches /blog/[slug] with slug `first.rsc` and renders that page as Flight, cached as a page of its own (MISS, ' +
      'then HIT); acme serves the prerendered Flight twin of /blog/first, as @next/routing resolves it (the dynamic route\'s regex ' +
      'takes the `.rsc` suffix)',
  },
}

// Differences with one Next minor's `next start` only (the version matrix), keyed by minor.
// Before 16.4, next start sent route-handler and edge responses around its compression: no
// `Accept-Encoding` in their Vary (16.4 adds it, as acme does for every compressible response).
const VARY_BEFORE_16_4 = {
  fields: ['vary'],
  reason: "next start before 16.4 leaves route handlers' and edge functions' responses out of its compression (no Vary: Accept-Encoding); 16.4 and acme add it",
}
const ROUTE_HANDLER_VARY = Object.fromEntries(
  [
    'app-router GET /api/edge {"rsc":"1"}',
    'app-router GET /api/hello?x=1',
    'app-router GET /api/hello {"x-no-cors":"1"}',
    'app-router GET /api/static',
    'app-router GET /api/edge?q=1',
    'app-router GET /after-files/x',
    'pages-router GET /api/edge',
  ].map((k) => [k, VARY_BEFORE_16_4]),
)

// next@16.2 answers a segment its cache does not have with 204, 16.3 and 16.4 with 404 (as acme).
const SEGMENT_MISS_204 = { fields: ['status'], reason: "next@16.2's next start answers a segment prefetch its cache lacks with 204; 16.3 and 16.4, and acme, with 404" }

// next@16.2 reads a segment prefetch only with `rsc: 1`; 16.3 and 16.4 (and acme) read the
// prefetch headers alone.
const SEGMENT_HEADERS_WITHOUT_RSC_BEFORE_16_3 = {
  fields: ['status', 'content-type', 'vary', 'body'],
  reason: "next@16.2's next start answers the document to a segment prefetch's headers without `rsc: 1`; 16.3 and 16.4, and acme, the segment (or the miss)",
}

// next@16.2 renders the not-found page for a missing subresource; 16.3 and 16.4 (and acme)
// answer a plain `Not Found`.
const SUBRESOURCE_404_BEFORE_16_3 = {
  fields: ['content-type', 'cache-control', 'x-nextjs-cache', 'vary', 'body'],
  reason: "next@16.2's next start renders the not-found page for a request whose Sec-Fetch-Dest cannot display HTML; 16.3 and 16.4, and acme, answer a plain `Not Found`",
}

const KNOWN_DIFFERENCES_BY_MINOR = {
  '16.3': ROUTE_HANDLER_VARY,
  '16.2': {
    ...ROUTE_HANDLER_VARY,
    'app-router GET /nope.png {"sec-fetch-dest":"image"}': SUBRESOURCE_404_BEFORE_16_3,
    'app-router GET /blog/a/b {"sec-fetch-dest":"script"}': SUBRESOURCE_404_BEFORE_16_3,
    'app-router GET /products/9 {"sec-fetch-dest":"image"}': SUBRESOURCE_404_BEFORE_16_3,
    'pages-router GET /nope.css {"sec-fetch-dest":"style"}': SUBRESOURCE_404_BEFORE_16_3,
    'pages-router GET /posts/404 {"sec-fetch-dest":"image"}': SUBRESOURCE_404_BEFORE_16_3,
    'app-router GET /nope.segments/foo.segment.rsc': SEGMENT_MISS_204,
    'app-router GET /about?_rsc=jaWag_9zXGtMBqeC {"rsc":"1","next-router-prefetch":"1","next-router-segment-prefetch":"/foo"}': SEGMENT_MISS_204,
    'app-router GET /nope {"rsc":"1","next-router-prefetch":"1","next-router-segment-prefetch":"/foo"}': SEGMENT_MISS_204,
    'app-router GET /nope {"rsc":"1","next-router-prefetch":"1","next-router-segment-prefetch":""}': SEGMENT_MISS_204,
    'app-router GET /products/1 {"next-router-prefetch":"1","next-router-segment-prefetch":"/_tree"}': SEGMENT_HEADERS_WITHOUT_RSC_BEFORE_16_3,
    'app-router GET /about {"next-router-prefetch":"1","next-router-segment-prefetch":"/foo"}': SEGMENT_HEADERS_WITHOUT_RSC_BEFORE_16_3,
    'app-router GET /nope {"next-router-prefetch":"1","next-router-segment-prefetch":"/_tree"}': SEGMENT_HEADERS_WITHOUT_RSC_BEFORE_16_3,
    'app-router GET /nope {"next-router-prefetch":"1","next-router-segment-prefetch":"/foo"}': SEGMENT_HEADERS_WITHOUT_RSC_BEFORE_16_3,
    'app-router GET /fallback-rewrite/first?_rsc=jaWag_9zXGtMBqeC {"rsc":"1","next-router-prefetch":"1","next-router-segment-prefetch":"/foo"}': SEGMENT_MISS_204,
    'app-router GET /api/hello {"rsc":"1"}': VARY_BEFORE_16_4,
    'pages-router GET /ssr {"rsc":"1"}': {
      fields: ['vary'],
      reason: "next@16.2's next start adds the router headers to a pages-router page's Vary for an RSC request; 16.3 and 16.4 do not, nor does acme",
    },
    'app-router GET /dynamic?x=a%20b {"rsc":"1","next-router-state-tree":"%5B%22%22%5D","next-url":"/about"}': {
      fields: ['content-type', 'cache-control', 'body'],
      reason:
        "an RSC request with a state tree that is not a valid tree: both answer 500; next@16.2's next start with its plain-text error, acme with the build's 500 page " +
        '(16.3 and 16.4 redirect it first to the right `_rsc`, as acme does)',
    },
    'i18n-basepath GET /base/fb/x/': {
      fields: ['body'],
      reason:
        "next@16.2's next start hands the API route an empty query for this fallback rewrite (`/fb/:path*` -> `/api/hello?p=:path*`); " +
        "16.3 and 16.4 pass `p` and `path` from the rewrite, as acme does (acme's Router follows the newest Next)",
    },
  },
}

/**
 * Sends every request of `name`'s list to both servers and compares the views. Returns
 * `{ compared, differences, mismatches }`: `differences` lists every difference (known ones with
 * their reason), `mismatches` only those not in KNOWN_DIFFERENCES (nor, given the version of the
 * `next start` that answered, in KNOWN_DIFFERENCES_BY_MINOR).
 */
async function compareServers(name, oracleOrigin, acmeOrigin, buildId, nextVersion) {
  const minor = nextVersion ? String(nextVersion).split('.').slice(0, 2).join('.') : undefined
  const knownDifferences = { ...KNOWN_DIFFERENCES, ...(minor && KNOWN_DIFFERENCES_BY_MINOR[minor]) }
  const differences = []
  const mismatches = []
  let compared = 0
  const actionId = name === 'app-router' ? await actionIdOf(oracleOrigin) : undefined
  const older = (a, b) => {
    const [x, y] = [a, b].map((v) => v.split('.').map(Number))
    return x[0] < y[0] || (x[0] === y[0] && x[1] < y[1])
  }
  for (const r of REQUESTS[name](buildId, { actionId })) {
    // A request the given version's next start cannot answer (it hangs there).
    if (r.sinceNext && minor && older(minor, r.sinceNext)) continue
    const method = r.method || 'GET'
    const a = view(await request(oracleOrigin, r), method)
    const b = view(await request(acmeOrigin, r), method)
    compared++
    const fields = Object.keys(a).filter((k) => a[k] !== b[k])
    if (!fields.length) continue
    const key = `${name} ${method} ${r.path}${r.headers ? ` ${JSON.stringify(r.headers)}` : ''}${r.body ? ` ${JSON.stringify(r.body)}` : ''}`
    const entry = knownDifferences[key]
    const known = entry && (typeof entry === 'string' || fields.every((f) => entry.fields.includes(f))) ? entry.reason || entry : undefined
    const diff = fields.map((f) => `${f}: next=${JSON.stringify(a[f])} acme=${JSON.stringify(b[f])}`).join('; ')
    differences.push(`${key}: ${diff}${known ? ` (known: ${known})` : ''}`)
    if (!known) mismatches.push(`${key}\n    ${diff}`)
  }
  return { compared, differences, mismatches }
}

/**
 * Sends each request to both servers, in order, and answers `{ req, next, acme, same }` for
 * each (`next`, `acme`: the views; `same`: whether they are equal). `see` and `send` default to
 * this module's `view` and `request`.
 */
async function compareEach(oracleOrigin, acmeOrigin, reqs, { see = view, send = request } = {}) {
  const out = []
  for (const req of reqs) {
    const method = req.method || 'GET'
    const next = see(await send(oracleOrigin, req), method)
    const acme = see(await send(acmeOrigin, req), method)
    out.push({ req, next, acme, same: JSON.stringify(next) === JSON.stringify(acme) })
  }
  return out
}

/** The render time a fixture page prints (`<p id="time">`), which tells one render from another; undefined for none. */
function renderTime(res) {
  return /id="time">([^<]+)</.exec(String(res.body))?.[1]
}

module.exports = { REQUESTS, KNOWN_DIFFERENCES, KNOWN_DIFFERENCES_BY_MINOR, request, view, renderTime, compareServers, compareEach }
