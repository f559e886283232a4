'use strict'

// `acme-next start`: serves `.acme/output` the way `next start` serves `.next`.
// Per request: Router decision -> redirect / middleware round trip / static file / prerender
// (ISR) / function / 404. Routing decisions come only from the Router (runtime/router.js).

const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { Readable } = require('node:stream')

const { createRouter } = require('./router')
const { proxyExternal } = require('./external')
const { compressResponse, headersBeforeCompression, appendVary } = require('./compress')
const { createStaticFiles, rscVaryOf } = require('./static')
const { createNodeFunctions } = require('./node-functions')
const { createPrerenders, cacheControlFor, generateETag, inDraftMode, parseCacheControl, parseCookies, parseQuery, keyPathOf, urlPathOf } = require('./prerender')
const { createCacheStore, cacheDirFor, registerCacheStore, tagStateOf } = require('./cache')
const { createPpr } = require('./ppr')
const { resolveLimits, serverOptions, createGuard, cleanTargetRedirect, staticMethodAllowed, methodNotAllowed, reportFunctionErrors, asInvocationOf } = require('./limits')
const { createImageOptimizer } = require('./image')
const { isBot } = require('./bots')

const SCHEMA_VERSION = 1
const NO_STORE = 'private, no-cache, no-store, max-age=0, must-revalidate'
// The response headers a kept render does not keep: the connection's, the cache state, and those
// of the request that rendered it (`x-nextjs-matched-path` names the page a data request reached:
// a render a regeneration kept carried it to every later request).
const NOT_KEPT_HEADERS = new Set([
  'set-cookie', 'date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'x-nextjs-cache', 'x-next-cache-tags',
  'x-nextjs-matched-path',
])
const INTERNAL_HEADER = 'x-acme-revalidate'
const REGEN_TOKEN_HEADER = 'x-acme-regen-token'
// On a regeneration: it regenerates the other form of a page whose one form was just rendered.
const TWIN_HEADER = 'x-acme-regen-twin'
// On a regeneration of a request's own URL: the routing decision the request reached (its packed
// form) and the request headers middleware left (JSON), both URI-encoded. The regeneration takes
// them instead of being routed again, as next start regenerates in the request's own handler:
// middleware ran once for the request and does not run again (nor routes elsewhere).
const ROUTE_HEADER = 'x-acme-regen-route'
const ROUTE_REQUEST_HEADERS = 'x-acme-regen-request-headers'
// Headers of Next's own protocol between its router and its renderers, dropped from every
// request as `next start` drops them (router-server.js `filterInternalHeaders`): an entrypoint
// trusts them. A client's `next-resume: 1` POST to a PPR page was resumed from the postponed
// state in its body (next start: 405). (`x-nextjs-data`, on next start's list too, is kept on a
// data URL, where next start sets it itself: see `route`.)
const NEXT_INTERNAL_HEADERS = [
  'x-middleware-rewrite', 'x-middleware-redirect', 'x-middleware-set-cookie', 'x-middleware-skip',
  'x-middleware-override-headers', 'x-middleware-next', 'x-now-route-matches', 'x-matched-path',
  'x-next-resume-state-length', 'next-resume',
]
// How long a page's first render waits for its other form's render before it answers anyway.
const TWIN_WAIT_MS = 5_000
// How long one instance may hold a key's regeneration before another takes over (it died).
const REGENERATION_LOCK_MS = 30_000
// The request headers a regeneration does not take (it takes the rest: see regenerationHeaders):
// those of the connection and the body, conditional and partial requests (a 304 or 206 would
// keep nothing), compression (it asks for identity), on-demand revalidation (it would revalidate
// again), and those that make a request bypass the cache (a server action's).
const NOT_REGENERATION_HEADERS = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect',
  'content-length', 'content-type', 'content-encoding',
  'range', 'if-range', 'if-none-match', 'if-match', 'if-modified-since', 'if-unmodified-since',
  'accept-encoding', 'x-prerender-revalidate', 'x-prerender-revalidate-if-generated', 'next-action',
])
// The request headers that ask for a Flight payload or a segment of it.
const FLIGHT_REQUEST_HEADERS = ['rsc', 'next-router-prefetch', 'next-router-segment-prefetch', 'next-router-state-tree']

/**
 * Reads and checks `manifest.json` of an output directory.
 * @param {string} outputDir
 * @returns {{ manifest: object, text: string }}
 */
function loadManifest(outputDir) {
  const file = path.join(outputDir, 'manifest.json')
  if (!fs.existsSync(file)) throw new Error(`no manifest.json in ${outputDir}: run \`next build\` with @acme/next-adapter first`)
  const text = fs.readFileSync(file, 'utf8')
  const manifest = JSON.parse(text)
  if (manifest.schemaVersion !== SCHEMA_VERSION) {
    throw new Error(`${file} has schemaVersion ${JSON.stringify(manifest.schemaVersion)}; this runtime reads schemaVersion ${SCHEMA_VERSION}: rebuild with a matching @acme/next-adapter`)
  }
  return { manifest, text }
}

/** No routing headers: shared, never added to (a request with routing headers gets its own Set). */
const NO_NAMES = Object.freeze(new Set())

/** A `Headers`/record/pairs value as a plain record (set-cookie kept as an array). */
function toRecord(headers) {
  if (!headers) return undefined
  if (typeof headers.entries === 'function' && typeof headers.get === 'function') {
    const out = {}
    for (const [k, v] of headers.entries()) if (k !== 'set-cookie') out[k] = v
    const cookies = typeof headers.getSetCookie === 'function' ? headers.getSetCookie() : []
    if (cookies.length) out['set-cookie'] = cookies
    return out
  }
  if (Array.isArray(headers)) {
    const out = {}
    for (let i = 0; i + 1 < headers.length; i += 2) out[headers[i]] = headers[i + 1]
    return out
  }
  return headers
}

function setHeaders(res, headers) {
  for (const [k, v] of Object.entries(headers || {})) {
    if (v === undefined) continue
    if (k.toLowerCase() === 'set-cookie' && res.hasHeader('set-cookie')) {
      res.setHeader('set-cookie', [].concat(res.getHeader('set-cookie'), v))
    } else {
      res.setHeader(k, v)
    }
  }
}

function queryString(query) {
  if (!query) return ''
  let empty = true
  for (const k in query) {
    if (Object.hasOwn(query, k)) {
      empty = false
      break
    }
  }
  if (empty) return ''
  const sp = new URLSearchParams()
  for (const [k, v] of Object.entries(query || {})) {
    for (const one of [].concat(v)) sp.append(k, one)
  }
  const s = sp.toString()
  return s ? `?${s}` : ''
}

/**
 * The rewrites whose source has a repeated parameter (`:path*`, `:path+`) that the destination
 * passes on as a query value (`path=$2`): `{ regex, params: [{ name, group }] }`.
 */
function repeatParamRewrites(routing) {
  const out = []
  for (const route of [...(routing.beforeFiles || []), ...(routing.afterFiles || []), ...(routing.fallback || [])]) {
    if (!route.source || !route.sourceRegex || !route.destination) continue
    const repeated = [...route.source.matchAll(/:([A-Za-z_]\w*)(?:\([^)]*\))?[*+]/g)].map((m) => m[1])
    if (!repeated.length) continue
    const query = route.destination.includes('?') ? route.destination.slice(route.destination.indexOf('?') + 1) : ''
    const params = []
    for (const pair of query.split('&')) {
      const m = /^([^=]+)=\$(\d+)$/.exec(pair)
      if (m && repeated.includes(m[1])) params.push({ name: m[1], group: Number(m[2]) })
    }
    if (!params.length) continue
    try {
      out.push({ regex: new RegExp(route.sourceRegex), params })
    } catch {
      // a pattern V8 cannot compile never matched in the Router either
    }
  }
  return out
}

/**
 * The rewrites whose destination is the image optimizer (`/img/:f` -> `/_next/image?url=…`):
 * `{ regex, destination, has, missing }`. The Router has no route for `/_next/image` (the runtime
 * serves it before routing), so such a rewrite comes back as notFound; the runtime finds it here.
 */
function imageRewrites(routing, imageRoute) {
  const out = []
  for (const route of [...(routing.beforeFiles || []), ...(routing.afterFiles || []), ...(routing.fallback || [])]) {
    if (!route.sourceRegex || typeof route.destination !== 'string') continue
    const destPath = route.destination.split('?')[0]
    if (destPath !== imageRoute && destPath !== `${imageRoute}/`) continue
    try {
      out.push({ regex: new RegExp(route.sourceRegex), destination: route.destination, has: route.has || [], missing: route.missing || [] })
    } catch {
      // a pattern V8 cannot compile never matched in the Router either
    }
  }
  return out
}

/** Whether one `has`/`missing` condition holds for a request. */
function conditionHolds(c, req, url) {
  let value
  if (c.type === 'header') value = req.headers[String(c.key).toLowerCase()]
  else if (c.type === 'cookie') value = parseCookies(req.headers.cookie)[c.key]
  else if (c.type === 'query') value = url.searchParams.get(c.key) ?? undefined
  else if (c.type === 'host') value = String(req.headers.host || '').replace(/:\d+$/, '')
  if (value === undefined) return false
  if (Array.isArray(value)) value = value.join(',')
  if (c.value === undefined) return true
  try {
    return new RegExp(`^${c.value}$`).test(value)
  } catch {
    return c.value === value
  }
}

const RSC_UNION_QUERY = '_rsc'

/** Next's `djb2Hash` as base 36, first 5 characters (the legacy `_rsc` form). */
function hexHash(str) {
  let hash = 5381
  for (let i = 0; i < str.length; i++) hash = ((hash << 5) + hash + str.charCodeAt(i)) & 0xffffffff
  return (hash >>> 0).toString(36).slice(0, 5)
}

/**
 * The `_rsc` value Next's client sends for these router headers (`computeCacheBustingSearchParam`:
 * the first 96 bits of a SHA-256, base64url; '' when no header is set) and the legacy form.
 */
function cacheBustingParams(prefetch, segment, stateTree, nextUrl) {
  const norm = (v) => (v === undefined ? '0' : Array.isArray(v) ? v.join(',') : v)
  if ((prefetch === undefined || prefetch === '0') && segment === undefined && stateTree === undefined && nextUrl === undefined) return { hash: '', legacy: '' }
  const input = [prefetch ?? '0', norm(segment), norm(stateTree), norm(nextUrl)].join(',')
  const hash = crypto.createHash('sha256').update(input).digest().subarray(0, 12).toString('base64url')
  return { hash, legacy: hexHash(input) }
}

/** Whether a query key is one Next's minimal mode reads as routing's own: a route param
 * (`nxtP<name>`) or an interception marker (`nxtI<name>`) (`filterInternalQuery`). */
function isInternalQueryKey(k) {
  return k.length > 4 && (k.startsWith('nxtP') || k.startsWith('nxtI'))
}

/**
 * The internal query keys (`isInternalQueryKey`) a client put in its own URL, or null for
 * none (the usual: the check reads the raw query first). Next's minimal mode takes such keys as
 * the route's params, over the path's, trusting the platform to set them: a client's
 * `/posts/1?nxtPid=9` rendered post 9 for `/posts/1` (and a stale hit's regeneration stored it
 * there), where `next start` renders post 1.
 */
function clientInternalKeys(originalUrl) {
  const at = originalUrl.indexOf('?')
  if (at < 0) return null
  const search = originalUrl.slice(at)
  if (!search.includes('nxt') && !search.includes('%')) return null
  let keys = null
  for (const k of new URLSearchParams(search).keys()) if (isInternalQueryKey(k)) (keys ??= new Set()).add(k)
  return keys
}

/**
 * `search` (`?…` or `''`) without the pairs whose keys are in `drop`, other pairs kept as they
 * are spelled; a key routing set (a dynamic route's param, in `routeMatches`) stays.
 */
function withoutKeys(search, drop, routeMatches) {
  if (!search) return search
  const kept = search
    .slice(1)
    .split('&')
    .filter((pair) => {
      const raw = pair.split('=', 1)[0]
      const key = decodeSegment(raw.replace(/\+/g, ' '))
      return !drop.has(key) || (routeMatches !== undefined && Object.hasOwn(routeMatches, key))
    })
  return kept.length ? `?${kept.join('&')}` : ''
}

function decodeSegment(s) {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

/** Whether a request is a segment prefetch by its headers (`next-router-segment-prefetch`). */
function isSegmentPrefetch(req) {
  // (With or without `rsc: 1`: Next's app-page handler reads the prefetch headers alone.)
  return req.headers['next-router-prefetch'] === '1' && req.headers['next-router-segment-prefetch'] !== undefined
}

function acceptsGzip(req) {
  return /\bgzip\b/.test(String(req.headers['accept-encoding'] || ''))
}

/**
 * Hooks the moment a response's head is written (to adjust status/headers) and, when asked,
 * collects its body. Resolves `{ status, headers, body }` when the response finished.
 */
function interceptResponse(res, { onHead, capture, beforeEnd }) {
  const chunks = []
  const origWriteHead = res.writeHead
  let headDone = false
  res.writeHead = function writeHead(code, ...rest) {
    if (!headDone) {
      headDone = true
      const override = onHead ? onHead(code) : undefined
      if (override) code = override
    }
    return origWriteHead.call(this, code, ...rest)
  }
  if (capture) {
    const origWrite = res.write
    const origEnd = res.end
    const keep = (chunk, enc) => {
      if (chunk === undefined || chunk === null || typeof chunk === 'function') return
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, typeof enc === 'string' ? enc : 'utf8'))
    }
    res.write = function write(chunk, enc, cb) {
      keep(chunk, enc)
      return origWrite.call(this, chunk, enc, cb)
    }
    let ending = false
    res.end = function end(chunk, enc, cb) {
      keep(chunk, enc)
      if (beforeEnd && !ending) {
        // The body is complete: let the caller act on it (store it) before the client sees the end.
        ending = true
        const whole = { status: res.statusCode, headers: headersBeforeCompression(res), body: Buffer.concat(chunks) }
        Promise.resolve()
          .then(() => beforeEnd(whole))
          .catch(() => {})
          .then(() => origEnd.call(this, chunk, enc, cb))
        return this
      }
      return origEnd.call(this, chunk, enc, cb)
    }
  }
  return new Promise((resolve) => {
    const done = () => resolve({ status: res.statusCode, headers: headersBeforeCompression(res), body: Buffer.concat(chunks), finished: res.writableFinished })
    res.once('finish', done)
    res.once('close', done)
  })
}

/** `promise` settled, or `ms` passed: whichever comes first (never rejects). */
function boundedWait(promise, ms) {
  let timer
  const elapsed = new Promise((resolve) => {
    timer = setTimeout(resolve, ms)
    timer.unref()
  })
  return Promise.race([Promise.resolve(promise).catch(() => {}), elapsed]).finally(() => clearTimeout(timer))
}

/**
 * The store with its revalidations (`updateTags`) in flight counted: Next writes a revalidated tag
 * as a function's response completes, and a response must not reach its client before that is
 * stored, or another instance or worker asked right after could still serve the old entry.
 * `settled()` resolves once none is in flight.
 */
function trackTagWrites(base) {
  const inflight = new Set()
  const tracked = Object.create(base)
  tracked.updateTags = (...args) => {
    const p = Promise.resolve(base.updateTags(...args))
    inflight.add(p)
    const done = () => inflight.delete(p)
    p.then(done, done)
    return p
  }
  tracked.tagWritesSettled = () => (inflight.size ? Promise.allSettled([...inflight]).then(() => {}) : null)
  return tracked
}

/**
 * Creates the acme-next HTTP server for an output directory.
 * @param {{ dir: string, log?: (record: object) => void, cacheDir?: string, cacheUrl?: string, store?: object, limits?: object }} options
 *   `cacheUrl` (redis://…) selects the Redis store; `store` replaces the store (same interface,
 *   see runtime/cache/fs.js); `limits`: request limits and timeouts (runtime/limits.js).
 * @returns {import('node:http').Server & { close: (cb?: Function) => any, drain: () => Promise<{ drained: boolean, inFlight: number, pending: number }> }}
 */
function createServer({ dir, log = () => {}, requestLog = true, cacheDir, cacheUrl, store, limits } = {}) {
  const guard = createGuard(resolveLimits(limits), { log })
  const outputDir = path.resolve(dir)
  const { manifest, text } = loadManifest(outputDir)
  const router = createRouter(text)
  const statics = createStaticFiles(outputDir, manifest)
  const prerenders = createPrerenders(outputDir, manifest)
  const ppr = createPpr(manifest, prerenders)
  const functions = createNodeFunctions(outputDir, manifest, { log })
  const cache = trackTagWrites(store || createCacheStore({ outputDir, manifest, cacheDir, cacheUrl, log }))
  registerCacheStore(cache)
  const images = createImageOptimizer({
    manifest,
    outputDir,
    statics,
    cacheDir: cacheDirFor({ outputDir, cacheDir }),
    log,
    selfOrigin: () => {
      const a = selfAddress()
      return a && `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`
    },
  })

  /** Where this server reaches itself (wildcard addresses as loopback); null before listen or on a unix socket. */
  function selfAddress() {
    const a = server.address()
    if (!a || typeof a !== 'object') return null
    return { host: a.address === '0.0.0.0' || a.address === '::' ? '127.0.0.1' : a.address, port: a.port }
  }
  const basePath = manifest.config.basePath || ''
  // Where `_next/data` URLs begin (of any build), and those of this build.
  const DATA_DIR = `${basePath}/_next/data/`
  const DATA_PREFIX = `${DATA_DIR}${manifest.buildId}`
  // This build's data URLs without the basePath (next start takes them for its own too).
  const BARE_DATA_PREFIX = `/_next/data/${manifest.buildId}`
  /** Whether a request URL (path and query) is a `_next/data` URL (of any build), as next start
   * tells one: below the prefix (below the basePath or not: next start takes the basePath off
   * when the path has it), ending in `.json`. */
  const isDataUrl = (url) => {
    // (The prefix first: every request asks, and most are no data URL.)
    if (!url.startsWith(DATA_DIR) && !(basePath !== '' && url.startsWith('/_next/data/'))) return false
    const q = url.indexOf('?')
    return (q < 0 ? url : url.slice(0, q)).endsWith('.json')
  }

  /** The page path next start normalizes a data URL of this build to (with middleware): the
   * default locale's when it names none, with the trailing slash `trailingSlash` wants. Another
   * build's data URL is not normalized: its own path. */
  function normalizedDataPath(pathname) {
    // (A data URL of this build outside the basePath is normalized too, and keeps none.)
    const hadBasePath = pathname.startsWith(`${DATA_PREFIX}/`)
    if (!hadBasePath && !(basePath && pathname.startsWith(`${BARE_DATA_PREFIX}/`))) return pathname
    let rest = pathname.slice(hadBasePath ? DATA_PREFIX.length : BARE_DATA_PREFIX.length).replace(/\.json$/, '')
    if (rest === '/index') rest = '/'
    if (i18n && !localeNamed(rest.split('/')[1] || '')) rest = `/${i18n.defaultLocale}${rest === '/' ? '' : rest}`
    const p = `${hadBasePath ? basePath : ''}${rest}` || '/'
    return manifest.config.trailingSlash && !p.endsWith('/') ? `${p}/` : p
  }

  /** A page's document path as its other outputs name it: the root is `<basePath>/index`. */
  function pagePathOf(documentPath) {
    return documentPath === (basePath || '/') ? `${basePath}/index` : documentPath
  }

  /** The document path of a page named as its other outputs name it (`pagePathOf` undone). */
  function documentPathOf(pagePath) {
    return pagePath === `${basePath}/index` ? basePath || '/' : pagePath
  }
  // next.config `compress` (default true): responses are compressed as next start compresses them.
  const compress = manifest.config.compress !== false
  // What app-router responses vary on (Next's setVaryHeader): next start adds it to every app
  // path it answers, pages-router paths get it only for RSC requests.
  const RSC_VARY = rscVaryOf(manifest)
  const HAS_APP_ROUTER = manifest.functions.some((f) => f.type === 'APP_PAGE' || f.type === 'APP_ROUTE')
  const rscConfig = (manifest.routing && manifest.routing.rsc) || {}
  const RSC_SUFFIX = rscConfig.suffix || '.rsc'
  const SEGMENT_DIR = rscConfig.prefetchSegmentDirSuffix || '.segments'
  const SEGMENT_SUFFIX = rscConfig.prefetchSegmentSuffix || '.segment.rsc'

  /** The segment a URL names (`/x.segments/_tree.segment.rsc` -> `/_tree`), as Next's segment
   * prefix normalizer reads it; undefined for any other URL. */
  function segmentOfUrl(pathname) {
    if (!pathname.endsWith(SEGMENT_SUFFIX)) return undefined
    const at = pathname.lastIndexOf(`${SEGMENT_DIR}/`)
    if (at <= 0 || pathname[at - 1] === '/') return undefined
    return pathname.slice(at + SEGMENT_DIR.length, pathname.length - SEGMENT_SUFFIX.length)
  }
  /** The page a segment's path belongs to (`/x.segments/_tree.segment.rsc` -> `/x`). */
  function pageOfSegment(pathname) {
    return pathname.slice(0, pathname.lastIndexOf(`${SEGMENT_DIR}/`))
  }
  // experimental.validateRSCRequestHeaders (Next's default: on; outputs from before it was
  // recorded have no value and keep it on).
  const validateRscRequests = manifest.config.validateRSCRequestHeaders !== false
  // Shared by the workers of one `--workers N` server (a regeneration request may reach any).
  const secret = process.env.ACME_INTERNAL_SECRET || crypto.randomBytes(16).toString('hex')
  delete process.env.ACME_INTERNAL_SECRET
  const middlewareFn = manifest.functions.find((f) => f.kind === 'middleware')
  const edgeById = new Map(manifest.functions.filter((f) => f.kind === 'edge-function').map((f) => [f.id, f]))
  const appNotFound = functions.get('/_not-found')
  const arrayRewrites = repeatParamRewrites(manifest.routing || {})
  const toImage = imageRewrites(manifest.routing || {}, `${basePath}/_next/image`)
  // Next's `interceptionRoutePatterns`: the sources of the interception rewrites (`has` next-url).
  const interceptable = (manifest.routing && manifest.routing.beforeFiles || [])
    .filter((r) => r.sourceRegex && r.has && r.has[0] && r.has[0].type === 'header' && r.has[0].key === 'next-url')
    .flatMap((r) => {
      try {
        return [new RegExp(r.sourceRegex)]
      } catch {
        return []
      }
    })
  const i18n = manifest.config.i18n || null
  /** The configured locale a path segment names, without regard to case, as Next matches a
   * path's locale (undefined for none). */
  const localeNamed = (segment) => i18n.locales.find((l) => l.toLowerCase() === segment.toLowerCase())
  const pending = new Set()
  const regenerating = new Map()
  const writing = new Map() // cache key -> pending store write (read-your-writes for the next request)
  let edge = null

  function waitUntil(promise) {
    const p = Promise.resolve(promise).catch((err) => log({ level: 'error', msg: 'waitUntil failed', error: String((err && err.stack) || err) }))
    pending.add(p)
    p.finally(() => pending.delete(p))
  }

  function edgeFunctions() {
    if (!edge) {
      const mod = require('./edge')
      const edgeLog = (level, msg, fields) => {
        if (level !== 'debug') log({ level, msg, ...fields })
      }
      edge = { mod, instance: new mod.EdgeFunctions(outputDir, manifest, { log: edgeLog }) }
    }
    return edge
  }

  function webRequest(req, url, headers, withBody) {
    const h = new Headers()
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined || k.startsWith(':')) continue
      for (const one of [].concat(v)) h.append(k, one)
    }
    const init = { method: req.method, headers: h }
    if (withBody && req.method !== 'GET' && req.method !== 'HEAD') {
      init.body = Readable.toWeb(req)
      init.duplex = 'half'
    }
    return new Request(url, init)
  }

  async function pipeWebResponse(response, req, res, extraHeaders) {
    res.statusCode = response.status
    setHeaders(res, extraHeaders)
    setHeaders(res, toRecord(response.headers))
    res.removeHeader('content-encoding')
    res.removeHeader('content-length')
    if (!response.body || req.method === 'HEAD') return res.end()
    await new Promise((resolve) => {
      Readable.fromWeb(response.body).on('error', (e) => { res.destroy(e); resolve() }).pipe(res).on('close', resolve).on('finish', resolve)
    })
  }

  function origin(req) {
    return `http://${req.headers.host || '127.0.0.1'}`
  }

  // --- middleware -------------------------------------------------------------------------
  async function runMiddleware(req, res, decision) {
    guard.boundFunction(req, res, { route: middlewareFn.id })
    const ac = new AbortController()
    res.once('close', () => ac.abort())
    const request = webRequest(req, decision.middlewareUrl, req.headers, false)
    if (middlewareFn.runtime === 'nodejs') {
      // proxy.ts (Node middleware): invoked in this process, answered in the same protocol.
      const response = await functions.invokeMiddleware(middlewareFn, request, { waitUntil, signal: ac.signal, requestMeta: {} })
      return require('./edge').middlewareOutcome(response, { url: request.url, headers: request.headers })
    }
    const { instance, mod } = edgeFunctions()
    const response = await instance.invoke(middlewareFn, request, { waitUntil, signal: ac.signal, requestMeta: {} })
    return mod.middlewareOutcome(response)
  }

  /**
   * Whether the request reached a dynamic route (or its 404, all its paths prerendered) with a
   * path that is no valid percent-encoding (`/blog/%E0%A4%A`): next start's router fails to decode
   * the route's params, before any handler or RSC check (`badParams` answers as it does).
   */
  function malformedParams(decision, ctx) {
    const route = decision.kind === 'resolved' ? decision.resolvedPathname : decision.kind === 'notFound' ? decision.matchedRoute : undefined
    if (!route || !route.includes('[')) return false
    try {
      decodeURIComponent(decision.invocationPathname || new URL(ctx.originalUrl, 'http://x').pathname)
      return false
    } catch {
      return true
    }
  }

  /**
   * next start's answer to params it cannot decode: its error page for a 400 (Bad Request), which
   * only a pages-router error page can render; otherwise (app router only) a plain-text 500.
   */
  function badParams(req, res, ctx) {
    const errorPage = functions.get('/_error')
    if (!errorPage) return sendPlainServerError(req, res)
    for (const name of res.getHeaderNames()) res.removeHeader(name)
    ctx.routingHeaders = NO_NAMES
    // (The error page reads its status from the response; an RSC request's varies as a 404's.)
    res.statusCode = 400
    if (req.headers.rsc === '1') res.setHeader('vary', RSC_VARY)
    return invokeNode(errorPage, req, res, ctx, { status: 400, cacheControl: NO_STORE })
  }

  /**
   * A middleware that threw: `next start` then renders `/500`, which only a pages-router error
   * page can answer; otherwise (app router only) it ends with a plain-text 500.
   */
  async function middlewareFailed(req, res) {
    if (res.headersSent) return res.destroy()
    for (const name of res.getHeaderNames()) res.removeHeader(name)
    if (functions.get('/_error')) return render500(req, res)
    res.statusCode = 500
    res.setHeader('cache-control', NO_STORE)
    res.setHeader('content-type', 'text/plain')
    res.end(req.method === 'HEAD' ? undefined : 'Internal Server Error')
  }

  // --- 404 --------------------------------------------------------------------------------
  /**
   * With a regeneration of one form of a page (`concrete`, of prerender `p`; on demand or in the
   * background): its other form regenerated too — the document of a `/_next/data/…/x.json`, the
   * data or the Flight payload (`/x.rsc`) of a document. The adapter API groups them (`groupId`:
   * "revalidate together"), as next start keeps both in one cache entry; otherwise a client
   * navigation right after a page regenerated would get its old render (and a page that never
   * goes stale by time would keep it until the next deploy). Resolves once the other form is
   * stored; at once when there is none, when this render is itself such a twin
   * (`ctx.twinRegeneration`), or when the other form is being regenerated already (waiting for
   * that one could wait for this one).
   */
  async function revalidateTwin(p, concrete, ctx, onDemand) {
    if (ctx.twinRegeneration || concrete.endsWith(RSC_SUFFIX)) return
    const siblings = manifest.prerenders.filter((q) => q.groupId === p.groupId && q !== p && !q.pathname.includes(SEGMENT_DIR))
    const isData = (q) => q.pathname.startsWith(DATA_DIR)
    const headers = { ...pageRegenerationHeaders(ctx), [TWIN_HEADER]: secret }
    delete headers['x-nextjs-data']
    let key
    let url
    if (concrete.startsWith(`${DATA_PREFIX}/`)) {
      if (!concrete.endsWith('.json') || !siblings.some((q) => !isData(q) && !q.pathname.endsWith(RSC_SUFFIX))) return
      key = documentPathOf(`${basePath}${concrete.slice(DATA_PREFIX.length, -'.json'.length)}`)
      url = pageUrl(key)
    } else {
      const page = pagePathOf(concrete)
      if (siblings.some((q) => q.pathname.endsWith(RSC_SUFFIX))) {
        // (`_rsc` empty: the cache-busting value of a navigation without state-tree headers.)
        key = `${page}${RSC_SUFFIX}`
        url = `${pageUrl(concrete)}?_rsc`
        headers.rsc = '1'
      } else if (siblings.some(isData)) {
        key = `${DATA_PREFIX}${page.slice(basePath.length)}.json`
        url = urlPathOf(key)
        headers['x-nextjs-data'] = '1'
      } else return
    }
    if (!regenerating.has(key)) await regenerate(key, url, headers, undefined, onDemand)
  }

  /** A page's pathname (a cache key's) as a client asks for it: encoded, with the trailing slash
   * the app's `trailingSlash` wants (else the router's redirect would answer the request). */
  function pageUrl(pathname) {
    const url = urlPathOf(pathname)
    return manifest.config.trailingSlash && url !== '/' && !url.endsWith('/') ? `${url}/` : url
  }

  /** By route: the fallback mode its prerenders carry (`null`: none does). */
  const routeFallbackModes = new Map()
  for (const q of manifest.prerenders) {
    if (!routeFallbackModes.get(q.route)) routeFallbackModes.set(q.route, q.fallbackMode ? q.fallbackMode.mode : null)
  }

  /** What prerender `p`'s route does for a path not generated yet: its prerenders' fallback mode. */
  function fallbackModeOf(p) {
    return routeFallbackModes.get(p.route) || (p.seed ? 'static' : 'blocking')
  }

  /** The prerender groups (`groupId`: revalidated together) that hold an app page's document
   * and its Flight payload. */
  const pageAndFlightGroups = new Set()
  {
    const withFlight = new Set()
    const withDocument = new Set()
    for (const q of manifest.prerenders) {
      if (q.groupId === undefined || q.pathname.includes(SEGMENT_DIR)) continue
      if (q.pathname.endsWith(RSC_SUFFIX)) withFlight.add(q.groupId)
      else if (!q.pathname.startsWith(DATA_DIR)) withDocument.add(q.groupId)
    }
    for (const g of withFlight) if (withDocument.has(g)) pageAndFlightGroups.add(g)
  }

  /**
   * The cache key of the other form of app page `p`'s entry `key`: its Flight payload's for a
   * document, its document's for a Flight payload; null where a render of one form does not
   * make the other (a PPR shell, a key with a query, a segment, a pages-router page).
   * next start keeps both forms in one cache entry, so a render of either refreshes both: a
   * client navigation right after a page regenerated gets the same render as a reload.
   */
  function twinKeyOf(p, fn, key, isRsc, partial) {
    if (String(fn.type) !== 'APP_PAGE' || partial || key.includes('?') || key.includes(SEGMENT_DIR) || !pageAndFlightGroups.has(p.groupId)) return null
    if (!isRsc) return `${pagePathOf(key)}${RSC_SUFFIX}`
    return key.endsWith(RSC_SUFFIX) ? documentPathOf(key.slice(0, -RSC_SUFFIX.length)) : null
  }

  /** A plain-text 404 (a missing build asset or subresource), as `next start` answers one. */
  function sendPlainNotFound(req, res) {
    res.statusCode = 404
    res.setHeader('content-type', 'text/plain; charset=utf-8')
    res.end(req.method === 'HEAD' ? undefined : 'Not Found')
  }

  /** The part of `pathname` below the basePath (all of it when outside the basePath). */
  function belowBasePath(pathname) {
    return basePath && (pathname === basePath || pathname.startsWith(`${basePath}/`)) ? pathname.slice(basePath.length) : pathname
  }

  // The build's preview id (every prerender's bypass token; the not-found page's twin has none).
  const PREVIEW_ID = (manifest.cacheConfigs.find((c) => c && c.bypassToken) || {}).bypassToken

  /** Whether a GET or HEAD carries `token`, the build's preview id, as `x-prerender-revalidate`. */
  function carriesRevalidation(req, token) {
    return Boolean(token) && req.headers['x-prerender-revalidate'] === token && (req.method === 'GET' || req.method === 'HEAD')
  }

  /** Whether a GET or HEAD for prerender `p` carries its build's preview id as `x-prerender-revalidate`. */
  function isOnDemandRevalidation(req, p) {
    return carriesRevalidation(req, prerenders.cacheConfig(p).bypassToken)
  }

  /** `Sec-Fetch-Dest` values of requests that can never display an HTML page (Next's list). */
  const NON_HTML_FETCH_DESTS = new Set([
    'audio', 'audioworklet', 'font', 'image', 'json', 'manifest', 'paintworklet', 'report', 'script',
    'serviceworker', 'sharedworker', 'style', 'track', 'video', 'webidentity', 'worker', 'xslt',
  ])

  /** A GET or HEAD for a subresource that cannot display HTML (`Sec-Fetch-Dest: image`, …). */
  function isSubresourceRequest(req) {
    return (req.method === 'GET' || req.method === 'HEAD') && NON_HTML_FETCH_DESTS.has(req.headers['sec-fetch-dest'])
  }

  /**
   * A subresource request's 404 (an image, script, font, … that is not there): a plain one
   * instead of the not-found page, which such a request cannot display, as next start answers
   * (to save the render and the bandwidth) wherever it would render its 404 — an unknown URL, a
   * pages-router page whose data says `notFound`, from the cache or not (`state`: the cache
   * state such a page's answer names). Never cached downstream. `ctx.plainNotFoundVary`: an app
   * route matched first (next start has set the router Vary then).
   */
  function sendSubresourceNotFound(req, res, ctx, state) {
    res.setHeader('cache-control', NO_STORE)
    if (ctx.plainNotFoundVary) res.setHeader('vary', RSC_VARY)
    if (state) {
      res.setHeader('x-nextjs-cache', state)
      ctx.meta.cache = state
    }
    return sendPlainNotFound(req, res)
  }

  async function render404(req, res, ctx) {
    if (isSubresourceRequest(req)) return sendSubresourceNotFound(req, res, ctx, ctx.renderState)
    // `next start` sends no-store for an unmatched URL; a 404 of a matched route comes with the
    // route's cache-control (`ctx.notFoundCacheControl`; `null`: none).
    const cacheControl = ctx.notFoundCacheControl !== undefined ? ctx.notFoundCacheControl : NO_STORE
    if (cacheControl === null) res.removeHeader('cache-control')
    else res.setHeader('cache-control', cacheControl)
    const pathname = new URL(ctx.originalUrl, 'http://x').pathname
    if (pathname.startsWith(`${basePath}/_next/static/`) || pathname.startsWith('/_next/static/')) {
      // A missing build asset (below the basePath or not): a plain 404, as `next start` answers.
      return sendPlainNotFound(req, res)
    }
    // A data request's 404 in an app with middleware whose 404 is the pages router's, where no
    // route matched: `{}`, with the page path the URL normalized to, as next start's router
    // answers it (router-server.js `invokeRender`); the client then loads the page as a
    // document. (A route's own 404, `fallback: false`, is the 404 page there.) An app router's
    // not-found page answers instead, but below a basePath, where next start's router does not
    // find that page for a data URL.
    if (middlewareFn && (!appNotFound || basePath) && ctx.unmatched && isDataUrl(ctx.originalUrl)) {
      res.statusCode = 404
      res.setHeader('x-nextjs-matched-path', normalizedDataPath(pathname))
      res.setHeader('content-type', 'application/json')
      res.end('{}')
      return
    }
    // A URL naming a Flight twin (`/nope.rsc`) counts as an RSC request too, and one naming a
    // segment of it (`/nope.segments/_tree.segment.rsc`) as that segment's prefetch: next start's
    // not-found page reads its URL so. A segment prefetch's headers make one without `rsc: 1`.
    const urlSegment = appNotFound ? segmentOfUrl(pathname) : undefined
    const segment = urlSegment ?? (req.headers['next-router-prefetch'] === '1' ? req.headers['next-router-segment-prefetch'] : undefined)
    const isRsc = req.headers.rsc === '1' || (!!appNotFound && (pathname.endsWith('.rsc') || segment !== undefined))
    // `next start` answers an RSC request for an unknown URL with the build's prerendered
    // `/_not-found.rsc` (status 404, `x-nextjs-cache: HIT`). Next's adapter API leaves that
    // prerender out when a static 404.html exists, so it is served only when the output has it.
    const notFoundPath = segment !== undefined ? `${NOT_FOUND_KEY}${SEGMENT_DIR}${segment}${SEGMENT_SUFFIX}` : NOT_FOUND_RSC_KEY
    const notFoundSeed = isRsc && appNotFound ? prerenders.seedEntry(prerenders.byPathname(notFoundPath)) : null
    const notFoundCacheControl = cacheControl || NO_STORE
    // An on-demand revalidation (the build's preview id in `x-prerender-revalidate`, as
    // `res.revalidate()` sends it) of a URL no route matches: next start renders the app
    // router's not-found page anew and answers `REVALIDATED`, which `res.revalidate()` requires
    // of a 404 (it throws on any other). (`REVALIDATED` too for a path never generated.)
    const revalidating = !ctx.notFoundState && !!appNotFound && carriesRevalidation(req, PREVIEW_ID)
    const state = ctx.notFoundState || (revalidating ? 'REVALIDATED' : 'HIT')
    // An unmatched URL's 404 (not a matched route's own): the app router's not-found page as next
    // start keeps it, a cached page that revalidates.
    const notFoundPage = NOT_FOUND_TWIN && !ctx.notFoundState
    const cachedPage = notFoundPage && ctx.notFoundCacheControl === undefined
    if (cachedPage && segment === undefined) return serveNotFoundPage(req, res, ctx, isRsc, revalidating)
    // A route's own 404 (`dynamicParams = false`) is the same page from the same entry, with the
    // route's cache-control: it serves the kept render, and revalidating one keeps a new render,
    // which every 404 then serves, as on next start. (acme sent the build's render until the
    // twenty-ninth session, and kept none.)
    if (notFoundPage && !cachedPage && segment === undefined && !isRsc) {
      return serveNotFoundPage(req, res, ctx, isRsc, revalidating, ctx.notFoundCacheControl)
    }
    if (cachedPage && ctx.internal && urlSegment !== undefined) {
      // The regeneration asked for below, of a segment URL: the page's render, for the page's URL.
      const q = ctx.originalUrl.indexOf('?')
      const pageUrl = pageOfSegment(pathname) + (q < 0 ? '' : ctx.originalUrl.slice(q))
      return serveNotFoundPage(req, res, { ...ctx, originalUrl: pageUrl }, false, false)
    }
    if (cachedPage && revalidating) {
      // An on-demand revalidation sent as a segment request (by its headers or its URL): next
      // start renders the not-found page anew, keeps it (document, payload, segments) and
      // answers with the segment of the new render.
      const entry = (await regenerateAndGet(notFoundPath, NOT_FOUND_KEY, ctx.originalUrl, pageRegenerationHeaders(ctx), true)) || notFoundSeed
      if (entry) return sendEntry(req, res, { ...entry, status: 404 }, 'REVALIDATED', ctx, { cacheControl: notFoundCacheControl, cached: true, segment: true })
    }
    if ((notFoundSeed || (isRsc && appNotFound && segment !== undefined)) && inDraftMode(req, PREVIEW_ID)) {
      // Draft mode: the not-found page's payload or segment (any segment name) is rendered for
      // this request too, as next start renders it (a `HIT` there, as for the page).
      return invokeNode(appNotFound, req, res, ctx, { status: 404, cacheControl: notFoundCacheControl, onHead: () => void res.setHeader('x-nextjs-cache', 'HIT') })
    }
    if (notFoundSeed) {
      // A payload or segment of the not-found page, as its cache keeps it: a kept render's
      // (stored with the page's, see serveNotFoundPage), else the build's.
      let entry = notFoundSeed
      let servedState = state
      if (NOT_FOUND_TWIN && !revalidating && !ctx.notFoundState) {
        entry = (await cache.get(notFoundPath)) || notFoundSeed
        // (Stale with the page, and left so: next start regenerates the page on a request for
        // the page or its payload, not for a segment.)
        const page = await refreshNotFoundPage(NOT_FOUND_RSC_KEY)
        if (page && page.stale) servedState = 'STALE'
      }
      return sendEntry(req, res, { ...entry, status: 404 }, servedState, ctx, { cacheControl: notFoundCacheControl, cached: true, segment: segment !== undefined })
    }
    if (isRsc && segment !== undefined && prerenders.byPathname(NOT_FOUND_RSC_KEY)) {
      // A segment the prerendered not-found page does not have.
      return sendSegmentMiss(res, notFoundCacheControl, ctx, state)
    }
    if (appNotFound && (isRsc || revalidating || !staticErrorPage(404, pathname))) {
      const onHead = revalidating ? () => void res.setHeader('x-nextjs-cache', 'REVALIDATED') : undefined
      await invokeNode(appNotFound, req, res, ctx, { status: 404, cacheControl: notFoundCacheControl, onHead })
      return
    }
    // next start varies an RSC request's 404 on the router headers, whatever renders it (in an
    // app without the app router too).
    if (isRsc) res.setHeader('vary', RSC_VARY)
    const page = staticErrorPage(404, pathname)
    if (page) {
      if (appNotFound) return sendBuiltNotFoundPage(req, res, ctx, page, state, cacheControl)
      if (ctx.notFoundState) res.setHeader('x-nextjs-cache', ctx.notFoundState)
      statics.send(req, res, page, { status: 404, cacheControl })
      ctx.meta.cache = state
      return
    }
    const fn = functions.get('/404') || functions.get('/_error')
    res.statusCode = 404
    // (With the route's cache-control, as for the static page: none for a pages route's own 404.)
    const onHead = cacheControl === null ? () => void res.removeHeader('cache-control') : undefined
    if (fn) return invokeNode(fn, req, res, ctx, { status: 404, cacheControl: cacheControl || undefined, onHead })
    res.statusCode = 404
    res.setHeader('content-type', 'text/plain; charset=utf-8')
    res.end('Not Found')
  }

  // The app router's not-found page (`/_not-found`) as the cache keeps it, and its Flight payload.
  const NOT_FOUND_KEY = `${basePath}/_not-found`
  const NOT_FOUND_RSC_KEY = `${NOT_FOUND_KEY}${RSC_SUFFIX}`
  // Its prerendered payload: what the build rendered, with the route's revalidate, expire and tags.
  const NOT_FOUND_TWIN = appNotFound ? prerenders.byPathname(NOT_FOUND_RSC_KEY) : null

  /**
   * An unmatched URL's 404 in an app with the app router, as `next start` answers it: the
   * not-found page from its cache entry (the document under `/_not-found`, the Flight payload
   * under `/_not-found.rsc`, both from one render), which revalidates as a prerendered page does:
   * by its route's `revalidate` (a root layout's applies to it), by tags, and on demand
   * (`x-prerender-revalidate` with the preview id on any unmatched URL). A render is stored; until
   * one is, the build's (the static 404 page, the prerendered payload) is served, stale once the
   * route's revalidate has passed. Always status 404, and `cacheControl` (no-store, a matched
   * route's own for its 404).
   */
  async function serveNotFoundPage(req, res, ctx, isRsc, revalidating, cacheControl = NO_STORE) {
    const key = isRsc ? NOT_FOUND_RSC_KEY : NOT_FOUND_KEY
    const render = (state) => {
      ctx.twin = { key: isRsc ? NOT_FOUND_KEY : NOT_FOUND_RSC_KEY, flight: !isRsc, notFound: true }
      // Its segments too: a segment prefetch of the not-found page is answered from them.
      ctx.segmentsOf = NOT_FOUND_KEY
      // (Rendered for the URL asked for, as next start renders it, the page's response says
      // nothing of its route's revalidate: the build's prerender does.)
      ctx.renderRules = { revalidate: NOT_FOUND_TWIN.revalidate ?? false, expire: NOT_FOUND_TWIN.expire }
      // (A render that starts as a 404 is one: Next's metadata then adds `robots: noindex`.)
      res.statusCode = 404
      return renderAndStore(req, res, appNotFound, key, state, ctx, { status: 404, cacheControl })
    }
    if (ctx.internal || revalidating) return render('REVALIDATED')
    if (inDraftMode(req, PREVIEW_ID)) {
      // Draft mode: rendered for this request, not kept (next start labels it a hit, as for pages).
      res.statusCode = 404
      return invokeNode(appNotFound, req, res, ctx, { status: 404, cacheControl: NO_STORE, onHead: () => void res.setHeader('x-nextjs-cache', 'HIT') })
    }
    const found = await refreshNotFoundPage(key, ctx.originalUrl, ownRegenerationHeaders(ctx), key)
    if (!found) return render('MISS')
    const state = found.stale ? 'STALE' : 'HIT'
    if (found.kept || isRsc) return sendEntry(req, res, { ...found.entry, status: 404 }, state, ctx, { cacheControl, cached: true, segment: false })
    const page = staticErrorPage(404, new URL(ctx.originalUrl, 'http://x').pathname)
    if (!page) return render('MISS')
    return sendBuiltNotFoundPage(req, res, ctx, page, state, cacheControl)
  }

  /**
   * The not-found page's render that `key` keeps, else the build's (the payload's seed, whose
   * render made the static 404 page too), and whether it is stale, by its route's revalidate or
   * its tags: `{ entry, kept, stale }`. A stale one is regenerated in the background when a
   * `url` is given, by a request for it with `headers`, which keeps it under `regenerateKey`.
   * null when it has expired (by `expire` or its tags): it must be rendered now.
   */
  async function refreshNotFoundPage(key, url, headers, regenerateKey) {
    const kept = await keptEntry(key)
    const entry = kept || prerenders.seedEntry(NOT_FOUND_TWIN)
    const now = Date.now()
    if (!entry || (entry.expire && now > entry.createdAt + entry.expire * 1000)) return null
    const tagState = await tagStateOf(cache, entry)
    if (tagState === 'expired') return null
    const stale = (entry.revalidate !== false && entry.revalidate !== undefined && now > entry.createdAt + entry.revalidate * 1000) || tagState === 'stale'
    if (stale && url) regenerate(regenerateKey, url, headers, entry.createdAt)
    return { entry, kept: Boolean(kept), stale }
  }

  /** The build's not-found document, the static 404 page, as next start serves its cached `/_not-found`. */
  function sendBuiltNotFoundPage(req, res, ctx, page, state, cacheControl) {
    res.setHeader('x-nextjs-cache', state)
    res.setHeader('vary', RSC_VARY)
    // The prerender headers of its Flight payload (`x-nextjs-prerender` twice: set, then appended
    // from the entry).
    const twin = prerenders.seedEntry(NOT_FOUND_TWIN)
    if (twin) {
      if (twin.headers['x-nextjs-stale-time'] !== undefined) res.setHeader('x-nextjs-stale-time', twin.headers['x-nextjs-stale-time'])
      if (twin.headers['x-nextjs-prerender'] !== undefined) res.setHeader('x-nextjs-prerender', ['1', String(twin.headers['x-nextjs-prerender'])])
    }
    if (manifest.config.poweredByHeader) res.setHeader('x-powered-by', 'Next.js')
    // Next's ETag of the page, as its cache entry carries one.
    if (manifest.config.generateEtags !== false) builtNotFoundEtag ??= generateETag(fs.readFileSync(path.join(dir, page.file)))
    statics.send(req, res, page, { status: 404, cacheControl, headers: builtNotFoundEtag ? { etag: builtNotFoundEtag } : undefined })
    ctx.meta.cache = state
  }
  let builtNotFoundEtag

  /**
   * The build's static error page (`404`, `500`) for a request path: below the basePath (`/docs/404`),
   * with i18n in the path's locale, else the default one (`/base/fr/404`).
   */
  function staticErrorPage(code, pathname) {
    if (!i18n) return statics.byPathname(`${basePath}/${code}`)
    const locale = localeNamed(belowBasePath(pathname).split('/')[1] || '') || i18n.defaultLocale
    return statics.byPathname(`${basePath}/${locale}/${code}`)
  }

  async function render500(req, res) {
    if (res.headersSent) return res.destroy()
    for (const name of res.getHeaderNames()) res.removeHeader(name)
    const page = staticErrorPage(500, new URL(req.url, 'http://x').pathname)
    if (page && statics.send(req, res, page, { status: 500 })) return
    res.statusCode = 500
    res.setHeader('content-type', 'text/plain; charset=utf-8')
    res.end('Internal Server Error')
  }

  // --- functions --------------------------------------------------------------------------
  /**
   * The query of a pages-router invocation when a rewrite passed a repeated parameter on
   * (`/fb/:path*` -> `/api/hello?path=$2`), else undefined. `next start` gives the handler the
   * rewrite's params as path-to-regexp matched them (`path: ['x']`, an array even for one
   * segment) merged into the query; in the URL the Router hands over they are a joined string,
   * so the query goes to the entrypoint as the `query` request meta, which Next's route module
   * uses instead of parsing the URL's (`route-module.js` `prepare`).
   */
  function rewriteQuery(originalUrl, decision) {
    if (!arrayRewrites.length || !decision.query) return undefined
    const pathname = new URL(originalUrl, 'http://x').pathname
    const candidates = [pathname]
    if (i18n) {
      const rest = pathname.startsWith(basePath) ? pathname.slice(basePath.length) : pathname
      const first = rest.split('/')[1]
      if (!i18n.locales.includes(first)) {
        const locale = [].concat(decision.query.nextInternalLocale || i18n.defaultLocale)[0]
        candidates.push(`${basePath}/${locale}${rest === '/' ? '' : rest}`)
      }
    }
    let query
    for (const candidate of candidates) {
      for (const { regex, params } of arrayRewrites) {
        const m = regex.exec(candidate)
        if (!m) continue
        for (const { name, group } of params) {
          const raw = m[group]
          // The Router's value may be decoded; Next's params keep the path's encoding.
          if (raw === undefined || (decision.query[name] !== raw && decision.query[name] !== decodeSegment(raw))) continue
          if (!query) query = { ...parseQuery(queryString(decision.query)) }
          query[name] = raw.split('/')
        }
        if (query) return query
      }
    }
    return query
  }

  function requestMetaFor(req, ctx, fn) {
    const pagesQuery = ctx.rewriteQuery && fn && String(fn.type).startsWith('PAGES') ? { query: ctx.rewriteQuery } : {}
    return {
      ...pagesQuery,
      hostname: req.headers.host ? String(req.headers.host).replace(/:\d+$/, '') : '127.0.0.1',
      initURL: `${origin(req)}${ctx.originalUrl}`,
      render404: async (rq, rs) => {
        // A page that renders its 404 itself (getStaticProps `notFound: true`) has set the
        // cache-control of that result (`s-maxage=<revalidate of the notFound result>`) before
        // asking for the 404 page: keep it, as `next start` does, so the result is cached.
        const own = rs.getHeader('cache-control')
        // (A route matched: in an app with an app directory, next start has set the router Vary.)
        const matched = { ...ctx, plainNotFoundVary: ctx.plainNotFoundVary || Boolean(appNotFound) }
        await render404(rq, rs, own && parseCacheControl(own) ? { ...matched, notFoundCacheControl: String(own) } : matched)
      },
      // res.revalidate(): fails as next start's does (next-server.js `revalidate`) when the
      // path's response is neither `REVALIDATED` nor a 200 (a 404 too with `unstable_onlyGenerated`):
      // the API route learns that nothing was revalidated.
      revalidate: async ({ urlPath, headers, opts }) => {
        const r = await regenerate(urlPath, urlPath, { ...(headers || {}), host: req.headers.host }, undefined, true)
        if (r && r.cache !== 'REVALIDATED' && r.status !== 200 && !(r.status === 404 && opts && opts.unstable_onlyGenerated)) {
          throw new Error(`Invalid response ${r.status}`)
        }
      },
    }
  }

  async function invokeNode(fn, req, res, ctx, { status, cacheControl, capture, onHead, requestMeta, beforeEnd } = {}) {
    req.url = ctx.invocationPath || ctx.originalUrl
    // Minimal mode keeps rendered responses in memory for 10 s unless each request names its own
    // invocation: without this a render right after a revalidation could be an old one.
    keepOriginalHeaders(req, ctx)
    req.headers['x-invocation-id'] = crypto.randomUUID()
    addForwardedHeaders(req)
    const tapped = interceptResponse(res, {
      capture,
      beforeEnd,
      onHead: (code) => {
        const tags = res.getHeader('x-next-cache-tags')
        res.removeHeader('x-next-cache-tags')
        if (cacheControl) res.setHeader('cache-control', cacheControl)
        const r = onHead ? onHead(code, tags) : undefined
        return status || r
      },
    })
    ctx.meta.route = fn.id
    guard.boundFunction(req, res, ctx.meta)
    reportFunctionErrors(log)
    holdEndForTagWrites(res)
    try {
      await asInvocationOf(fn.id, ctx.originalUrl, () =>
        functions.invoke(fn, req, res, { waitUntil, requestMeta: { ...requestMetaFor(req, ctx, fn), ...requestMeta } }),
      )
    } catch {
      await render500(req, res)
    }
    if (!res.writableEnded && !res.destroyed) {
      await tapped
    }
    return tapped
  }

  /** Lets a response end only once the revalidations in flight are stored (see trackTagWrites). */
  function holdEndForTagWrites(res) {
    const end = res.end
    res.end = function heldEnd(...args) {
      const settled = cache.tagWritesSettled()
      if (!settled) return end.apply(this, args)
      settled.then(() => end.apply(this, args))
      return this
    }
  }

  /**
   * The `x-forwarded-*` headers next start's server adds to every request it renders (base-server
   * `handleRequestImpl`), those the request lacks: the Host it was sent to, the port the server
   * listens on, the scheme, the client's address. Code that builds absolute URLs from them (auth
   * libraries, redirects, canonical links) saw none on acme. Middleware runs before, without them.
   */
  // The port the server listens on, read once it does (for addForwardedHeaders, per render).
  let listenPort
  function addForwardedHeaders(req) {
    const h = req.headers
    const https = h['x-forwarded-proto'] !== undefined ? h['x-forwarded-proto'] === 'https' : Boolean(req.socket && req.socket.encrypted)
    if (h['x-forwarded-host'] === undefined && h.host !== undefined) h['x-forwarded-host'] = h.host
    if (h['x-forwarded-port'] === undefined) {
      if (listenPort === undefined) {
        const a = server.address()
        if (a && typeof a === 'object') listenPort = String(a.port)
      }
      h['x-forwarded-port'] = listenPort ?? (https ? '443' : '80')
    }
    if (h['x-forwarded-proto'] === undefined) h['x-forwarded-proto'] = https ? 'https' : 'http'
    if (h['x-forwarded-for'] === undefined && req.socket && req.socket.remoteAddress) h['x-forwarded-for'] = req.socket.remoteAddress
  }

  async function invokeEdge(fn, req, res, decision, ctx) {
    const { instance } = edgeFunctions()
    keepOriginalHeaders(req, ctx)
    addForwardedHeaders(req)
    const ac = new AbortController()
    res.once('close', () => ac.abort())
    const url = `${origin(req)}${ctx.originalUrl}`
    ctx.meta.route = fn.id
    guard.boundFunction(req, res, ctx.meta)
    try {
      const response = await instance.invoke(fn, webRequest(req, url, req.headers, true), { waitUntil, signal: ac.signal, requestMeta: {} })
      await pipeWebResponse(response, req, res)
    } catch (err) {
      log({ level: 'error', msg: 'edge function failed', route: fn.id, error: String((err && err.stack) || err) })
      sendPlainServerError(req, res)
    }
  }

  /**
   * next start's plain-text 500, with Next's ETag of the text: what it answers when an edge
   * function throws (an edge page renders its own errors; what escapes the function is the
   * sandbox's), and where no error page can render its answer (`badParams`).
   */
  function sendPlainServerError(req, res) {
    if (res.headersSent) return res.destroy()
    for (const name of res.getHeaderNames()) res.removeHeader(name)
    res.statusCode = 500
    res.setHeader('cache-control', NO_STORE)
    if (manifest.config.generateEtags !== false) res.setHeader('etag', PLAIN_SERVER_ERROR_ETAG)
    res.setHeader('content-type', 'text/plain')
    res.setHeader('content-length', PLAIN_SERVER_ERROR.length)
    res.end(req.method === 'HEAD' ? undefined : PLAIN_SERVER_ERROR)
  }
  const PLAIN_SERVER_ERROR = Buffer.from('Internal Server Error')
  const PLAIN_SERVER_ERROR_ETAG = generateETag(PLAIN_SERVER_ERROR)

  // --- prerenders -------------------------------------------------------------------------
  /** A pathname as the manifest spells prerender pathnames: basePath kept, no trailing slash. */
  function manifestPath(pathname) {
    let p = pathname
    if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1)
    return p
  }

  /** 404 or 500 for the static error pages (`/404`, `/base/fr/500`), else undefined. */
  function errorPageStatus(pathname) {
    let rest = belowBasePath(pathname)
    const locale = i18n && i18n.locales.find((l) => rest.startsWith(`/${l}/`))
    if (locale) rest = rest.slice(locale.length + 1)
    return rest === '/404' || rest === '/500' ? Number(rest.slice(1)) : undefined
  }

  /**
   * `pathname` with its locale segment spelled as configured (`/base/FR/posts/1` ->
   * `/base/fr/posts/1`, and so in a `_next/data` URL). The Router finds a page under a locale
   * typed in another case, as next start does; next start keys the page's cache entry by the
   * locale it detected, so the prerendered `/fr/posts/1` answers `/FR/posts/1` too.
   */
  function canonicalLocale(pathname) {
    if (!i18n) return pathname
    // A data URL's locale begins its page path (`/base/_next/data/<id>/FR/posts/1.json`, `…/FR.json`).
    const isData = pathname.startsWith(`${DATA_PREFIX}/`)
    const rest = isData ? pathname.slice(DATA_PREFIX.length) : belowBasePath(pathname)
    let seg = rest.split('/')[1]
    if (isData && seg && rest === `/${seg}` && seg.endsWith('.json')) seg = seg.slice(0, -'.json'.length)
    const locale = seg && i18n.locales.find((l) => l !== seg && l.toLowerCase() === seg.toLowerCase())
    return locale ? `${pathname.slice(0, pathname.length - rest.length)}/${locale}${rest.slice(1 + seg.length)}` : pathname
  }

  /**
   * `segment`: the response is a segment prefetch's, whether its headers or its URL
   * (`/x.segments/_tree.segment.rsc`) say so.
   */
  function sendEntry(req, res, entry, state, ctx, { cacheControl, cached, segment = isSegmentPrefetch(req) } = {}) {
    // A pages-router page's cached 404 is its not-found page, rendered by next start's 404 path.
    if (cached && entry.status === 404 && ctx.pagesRoute && isSubresourceRequest(req)) return sendSubresourceNotFound(req, res, ctx, state)
    res.statusCode = entry.status || 200
    for (const [k, v] of Object.entries(entry.headers || {})) {
      if (k === 'x-next-cache-tags' || k === 'content-length' || k === 'content-encoding' || k === 'transfer-encoding') continue
      res.setHeader(k, v)
    }
    // The seeds of pages-router routes carry the app router's Vary; next start sends it for them
    // only to RSC requests.
    if (ctx.pagesRoute && req.headers.rsc !== '1') res.removeHeader('vary')
    if (segment) {
      // next start answers a segment prefetch before it applies the entry's headers: no stale time.
      res.removeHeader('x-nextjs-stale-time')
    } else if (cached && entry.seed !== undefined && entry.headers && entry.headers['x-nextjs-prerender'] !== undefined) {
      // next start sets `x-nextjs-prerender: 1` on a page it serves from its cache, then appends
      // the entry's own headers: a build-time entry's carry it again (two header lines), a
      // render's stored headers do not (one, which this entry kept from its render).
      res.setHeader('x-nextjs-prerender', ['1', String(entry.headers['x-nextjs-prerender'])])
    }
    if (cacheControl === null) res.removeHeader('cache-control')
    else res.setHeader('cache-control', cacheControl || (entry.headers && entry.headers['cache-control']) || cacheControlFor(entry.revalidate, entry.expire))
    res.setHeader('x-nextjs-cache', state)
    ctx.meta.cache = state
    let identity = null
    const getIdentity = () => identity || (identity = prerenders.identityBody(entry))
    const contentType = String(res.getHeader('content-type') || '')
    if (contentType.startsWith('text/html')) {
      if (manifest.config.poweredByHeader) res.setHeader('x-powered-by', 'Next.js')
      if (manifest.config.generateEtags !== false) {
        const etag = prerenders.etag(entry, getIdentity)
        res.setHeader('etag', etag)
        const inm = req.headers['if-none-match']
        if (inm && inm.split(',').some((t) => t.trim() === etag) && res.statusCode === 200) {
          res.statusCode = 304
          return res.end()
        }
      }
    }
    let body
    // HEAD describes the identity body, as next start's compression leaves HEAD alone.
    // (Kept compressed, sent so only where the app compresses: next.config `compress`.)
    if (entry.encoding === 'gzip' && compress && req.method !== 'HEAD' && acceptsGzip(req)) {
      res.setHeader('content-encoding', 'gzip')
      appendVary(res, 'Accept-Encoding')
      body = entry.body
    } else {
      body = getIdentity()
    }
    res.setHeader('content-length', body.length)
    res.end(req.method === 'HEAD' ? undefined : body)
  }

  async function renderAndStore(req, res, fn, key, state, ctx, opts = {}) {
    if (!ctx.internal) return renderAndStoreOnce(req, res, fn, key, state, ctx, opts)
    // The regeneration lock is released by the process that rendered, once the entry is written:
    // whichever worker or instance the request reached, no other one starts the same key meanwhile.
    try {
      return await renderAndStoreOnce(req, res, fn, key, state, ctx, opts)
    } finally {
      releaseRegeneration(key, ctx.regenToken)
    }
  }

  /** `status`, `cacheControl`: what the client is answered with instead of the render's own
   * (stored with the render's status, and the revalidate and expire of `ctx.renderRules`, else of
   * the render's cache-control). */
  async function renderAndStoreOnce(req, res, fn, key, state, ctx, { partial, status, cacheControl } = {}) {
    // (What a 404 this render turns into names as its cache state: `sendSubresourceNotFound`.)
    ctx.renderState = state
    // A PPR render hands its new postponed state to `onCacheEntryV2` before its response goes out
    // (any app page render its segment data, kept when `ctx.segmentsOf` says so).
    const captured = { partial }
    const capture = ppr.captureEntry(captured)
    // A HEAD request renders as a GET, whose body Node leaves out of the response (it knows the
    // request's method): next start keeps what a HEAD request rendered, as any render, and a
    // render that hands over no body keeps nothing.
    const head = req.method === 'HEAD'
    if (head) req.method = 'GET'
    try {
      await invokeNode(fn, req, res, ctx, {
        capture: true,
        // (`onCacheEntry` where Next does not call V2: an app without cacheComponents.)
        requestMeta: partial ? { onCacheEntryV2: capture } : ctx.segmentsOf ? { onCacheEntry: capture, onCacheEntryV2: capture } : ctx.twin ? { onCacheEntry: capture } : undefined,
        onHead: (code, tags) => {
          if (tags) ctx.tags = String(tags)
          const rules = ctx.renderRules || parseCacheControl(res.getHeader('cache-control'))
          if (rules && (code === 200 || code === 404)) {
            res.setHeader('x-nextjs-cache', state)
            ctx.meta.cache = state
          }
          if (cacheControl) res.setHeader('cache-control', cacheControl)
          return status
        },
        // Stored before the response ends: another instance or worker asked right after it
        // finds the entry instead of rendering its own.
        beforeEnd: (result) => Promise.all([storeRendered(key, ctx, result, captured), ctx.twinPending]),
      })
    } finally {
      if (head) req.method = 'HEAD'
    }
  }

  async function storeRendered(key, ctx, result, captured = {}) {
    const rules = ctx.renderRules || parseCacheControl(result.headers['cache-control'])
    if (!rules || (result.status !== 200 && result.status !== 404)) return
    // A render of the other form than its key's is never kept, nor anything it handed over: a
    // request with `next-router-prefetch` and `next-router-segment-prefetch` but no `rsc` (which
    // anyone can send) is routed as the document and rendered as the segment's Flight payload,
    // which would then be every client's page (next start keeps its full render and answers the
    // page's next request with the document).
    const flight = /^text\/x-component\b/i.test(String(result.headers['content-type'] || ''))
    if (flight !== key.split('?', 1)[0].endsWith(RSC_SUFFIX)) {
      // The key's own form is rendered instead, kept before this response ends, as next start's
      // one render keeps the page.
      if (!ctx.internal && result.status === 200) await regenerate(key, ctx.originalUrl, pageRegenerationHeaders(ctx), 0)
      return
    }
    const headers = {}
    for (const [k, v] of Object.entries(result.headers)) {
      if (NOT_KEPT_HEADERS.has(k)) continue
      if (ctx.routingHeaders.has(k)) continue
      headers[k] = v
    }
    if (result.headers['content-encoding']) return // never store what a client-specific encoding produced
    // The head may not be out yet (a body sent in one end()): the tags header is still there.
    const tags = String(ctx.tags || result.headers['x-next-cache-tags'] || '').split(',').filter(Boolean)
    const createdAt = Date.now()
    // A partial fallback upgraded to a path's own shell: its segment prefetches are answered from
    // the new shell's segments too (stored first, so they are there once the page is).
    if (ctx.segmentsOf && captured.segments && !key.includes('?') && !key.endsWith(SEGMENT_SUFFIX) && (result.status === 200 || (ctx.twin && ctx.twin.notFound))) {
      const page = key.endsWith(RSC_SUFFIX) ? key.slice(0, -RSC_SUFFIX.length) : key
      const base = pagePathOf(page)
      await Promise.all([...captured.segments].map(([segment, body]) => {
        const template = prerenders.seedEntry(prerenders.byPathname(`${ctx.segmentsOf}.segments${segment}.segment.rsc`))
        const segmentHeaders = template ? { ...template.headers } : { 'content-type': 'text/x-component', 'x-nextjs-postponed': '2', 'x-nextjs-prerender': '1' }
        delete segmentHeaders['x-next-cache-tags']
        return cache.set(`${base}.segments${segment}.segment.rsc`, {
          status: 200, headers: segmentHeaders, body: Buffer.from(body), encoding: 'identity', createdAt,
          revalidate: rules.revalidate, expire: rules.expire, tags, segmentOf: page,
        }).catch((err) => log({ level: 'error', msg: 'cache write failed', key, error: String(err) }))
      }))
    }
    const stored = { status: result.status, encoding: 'identity', createdAt, revalidate: rules.revalidate, expire: rules.expire, tags }
    const twin = ctx.twin && (result.status === 200 || ctx.twin.notFound) && captured.postponed === undefined ? twinEntry(ctx.twin, headers, captured) : null
    if (twin) ctx.twinStored = true
    await Promise.all([
      keep(key, { ...stored, headers, body: result.body, ...(captured.captured && captured.partial ? { postponed: captured.postponed } : {}) }),
      twin && keep(twin.key, { ...stored, headers: twin.headers, body: twin.body }),
    ])
  }

  /**
   * The other form of a rendered app page (`twin`: its key and whether it is the Flight payload),
   * from what the render handed to `onCacheEntry`, with the rendered response's `headers` but
   * its own content type; null when the render did not hand it over.
   */
  function twinEntry(twin, headers, captured) {
    // (Sending an HTML entry adds its own ETag and X-Powered-By; a Flight payload has neither.)
    const rest = { ...headers }
    delete rest.etag
    delete rest['x-powered-by']
    if (twin.flight) {
      return captured.rscData && captured.rscData.length ? { key: twin.key, headers: { ...rest, 'content-type': 'text/x-component' }, body: captured.rscData } : null
    }
    return captured.html ? { key: twin.key, headers: { ...rest, 'content-type': 'text/html; charset=utf-8' }, body: Buffer.from(captured.html) } : null
  }

  /** The entry the cache keeps under `key`, once a write of it in progress here is done. */
  async function keptEntry(key) {
    if (writing.has(key)) await writing.get(key).catch(() => {})
    return cache.get(key)
  }

  /**
   * Regenerates `regenerateKey` now, by a request for `url` with `headers` (`onDemand`: waiting
   * for another instance's lock on it), and answers what the cache keeps under `key` after it.
   */
  async function regenerateAndGet(key, regenerateKey, url, headers, onDemand = false) {
    await regenerate(regenerateKey, url, headers, undefined, onDemand)
    return keptEntry(key)
  }

  /** Stores `entry` under `key`; requests for the key wait for the write meanwhile. */
  async function keep(key, entry) {
    const write = cache.set(key, entry)
    writing.set(key, write)
    try {
      await write
    } catch (err) {
      // The response is out; a store that cannot keep it only costs a later render.
      log({ level: 'error', msg: 'cache write failed', key, error: String(err) })
    } finally {
      if (writing.get(key) === write) writing.delete(key)
    }
  }

  /**
   * Regenerates a cache key in the background through this server: one at a time per key in this
   * process, and with the store's lock one across processes. `staleSince` (the createdAt of the
   * stale entry that asked; 0: there was none): skip when the store already holds a newer one
   * (another instance regenerated it meanwhile). `onDemand` (res.revalidate): wait for a
   * regeneration another process runs, then render anyway (it may predate the data change).
   * Resolves with the regenerating response's `{ status, cache }` (its `x-nextjs-cache`), or
   * undefined when this process did not regenerate.
   */
  function regenerate(key, url, headers, staleSince, onDemand = false) {
    if (regenerating.has(key)) return regenerating.get(key)
    const addr = selfAddress()
    if (!addr) return Promise.resolve()
    const fresher = async () => {
      if (staleSince === undefined) return false
      const current = await cache.get(key).catch(() => null)
      return Boolean(current && current.createdAt > staleSince)
    }
    const p = acquireRegeneration(key, onDemand).then(async (token) => {
      if (token === null) return // another process regenerates it
      if (await fresher()) {
        releaseRegeneration(key, token)
        return undefined
      }
      return requestRegeneration(key, url, headers, token, addr)
    }).finally(() => regenerating.delete(key))
    regenerating.set(key, p)
    waitUntil(p)
    return p
  }

  function requestRegeneration(key, url, headers, token, addr) {
    return new Promise((resolve) => {
      const h = { ...headers, [INTERNAL_HEADER]: secret, [REGEN_TOKEN_HEADER]: token, 'accept-encoding': 'identity' }
      const r = http.request({ host: addr.host, port: addr.port, path: url, method: 'GET', headers: h }, (resp) => {
        resp.resume()
        // The entry is written before the response ends (storeRendered runs before res.end).
        // The render released the lock of the key it kept; this releases the key's own, should
        // the request have rendered another (only the token's holder can: a no-op otherwise),
        // which would hold it, and the key's next regeneration, for REGENERATION_LOCK_MS.
        resp.on('end', () => {
          releaseRegeneration(key, token)
          resolve({ status: resp.statusCode, cache: resp.headers['x-nextjs-cache'] })
        })
        resp.on('error', () => {
          releaseRegeneration(key, token)
          resolve(undefined)
        })
      })
      r.on('error', (err) => {
        log({ level: 'error', msg: 'regeneration failed', key, error: String(err) })
        releaseRegeneration(key, token)
        resolve()
      })
      r.end()
    })
  }

  /**
   * The headers of a request a regeneration takes. The regeneration is a request to this server,
   * routed again (middleware and `has` conditions included), and must reach the page the request
   * reached, as next start regenerates the page the request was routed to: it takes the request's
   * headers but those of NOT_REGENERATION_HEADERS, and its cookies but draft mode's (it must be
   * kept). With only a few headers, a page reached through a rewrite by a cookie or a header (an
   * A/B split) was never regenerated (the other variant was), a page behind a session check was
   * redirected.
   */
  function regenerationHeaders(ctx) {
    return regenerationRecord(ctx.originalHeaders)
  }

  /** `headers` but NOT_REGENERATION_HEADERS and draft mode's cookies. */
  function regenerationRecord(headers) {
    const out = {}
    for (const [k, v] of Object.entries(headers)) if (!NOT_REGENERATION_HEADERS.has(k)) out[k] = v
    const cookie = withoutDraftCookies(out.cookie)
    if (cookie) out.cookie = cookie
    else delete out.cookie
    return out
  }

  /**
   * The headers of a regeneration of the request's own URL (`ctx.originalUrl`): its
   * regenerationHeaders, and where routing took the request (ROUTE_HEADER), so the regeneration
   * renders what the request reached without routing it again: middleware ran once for the
   * request, as on next start (a regeneration routed again ran it twice, and reached another page
   * where middleware routes by anything but the URL and the headers it takes, or at random).
   * Without the route when it would not fit in a request's headers (then it is routed again).
   */
  function ownRegenerationHeaders(ctx) {
    const out = regenerationHeaders(ctx)
    if (!ctx.decision) return out
    const route = encodeURIComponent(ctx.decision.packed)
    const overrides = ctx.middlewareRequestHeaders && encodeURIComponent(JSON.stringify(regenerationRecord(ctx.middlewareRequestHeaders)))
    let bytes = route.length + (overrides ? overrides.length : 0)
    for (const [k, v] of Object.entries(out)) bytes += k.length + String(v).length + 4
    // (Headroom for the internal headers requestRegeneration adds.)
    if (bytes > guard.limits.maxHeaderBytes - 1024) return out
    out[ROUTE_HEADER] = route
    if (overrides) out[ROUTE_REQUEST_HEADERS] = overrides
    return out
  }

  /** A Cookie header without draft mode's (and the pages router's preview) cookies. */
  function withoutDraftCookies(header) {
    if (!header) return undefined
    const kept = String(header).split(';').filter((c) => {
      const name = c.split('=', 1)[0].trim()
      return name !== '__prerender_bypass' && name !== '__next_preview_data'
    })
    return kept.map((c) => c.trim()).filter(Boolean).join('; ') || undefined
  }

  /** The headers regenerating a page's document takes from a request for one of its payloads. */
  function pageRegenerationHeaders(ctx) {
    const out = regenerationHeaders(ctx)
    for (const k of FLIGHT_REQUEST_HEADERS) delete out[k]
    return out
  }

  /**
   * The store's regeneration lock for a key (one process of all instances regenerates it; the
   * others keep serving stale): its token, '' when the store has no locks or is down (regenerate
   * here rather than never), null when someone else holds it.
   */
  async function acquireRegeneration(key, wait) {
    if (!cache.lock) return ''
    const deadline = Date.now() + REGENERATION_LOCK_MS
    try {
      for (;;) {
        const token = await cache.lock(`regenerate:${key}`, REGENERATION_LOCK_MS)
        if (token !== null || !wait || Date.now() > deadline) return token
        await new Promise((r) => setTimeout(r, 25))
      }
    } catch {
      return ''
    }
  }

  function releaseRegeneration(key, token) {
    if (token && cache.unlock) cache.unlock(`regenerate:${key}`, token).catch(() => {})
  }

  /**
   * next start's answer to a segment prefetch for a segment a cached page does not have (its
   * app-page handler's cache miss): an empty 404, `x-nextjs-postponed: 2` telling the client's
   * segment cache that the route is prefetched by segment.
   */
  function sendSegmentMiss(res, cacheControl, ctx, state = 'HIT') {
    res.statusCode = 404
    res.setHeader('cache-control', cacheControl)
    res.setHeader('vary', RSC_VARY)
    res.setHeader('x-nextjs-cache', state)
    res.setHeader('x-nextjs-prerender', '1')
    res.setHeader('x-nextjs-postponed', '2')
    ctx.meta.cache = state
    res.end()
  }

  async function servePrerender(req, res, decision, ctx) {
    const template = prerenders.byId(decision.target.id)
    // A pages-router page has no Flight form: an RSC request for one (a client navigating from an
    // app page) is answered with its HTML from the same cache entry, as next start answers it.
    // Nor has a route handler: its cached response answers the RSC request.
    const type = String(targetType(decision.target))
    // A segment prefetch's headers without `rsc: 1` (the Router routes the document): next start
    // answers with the segment all the same, from the page's cache entry.
    const rscPathname = decision.rscPathname || (type === 'APP_PAGE' && isSegmentPrefetch(req) ? `${pagePathOf(manifestPath(decision.resolvedPathname))}${RSC_SUFFIX}` : undefined)
    const isRsc = Boolean(rscPathname) && !type.startsWith('PAGES') && type !== 'APP_ROUTE'
    const invocation = canonicalLocale(manifestPath(decision.invocationPathname || decision.resolvedPathname))
    let concrete = invocation
    if (isRsc) {
      const resolved = manifestPath(decision.resolvedPathname)
      const rsc = rscPathname
      concrete = rsc.startsWith(resolved) && resolved !== invocation ? invocation + rsc.slice(resolved === '/' ? 1 : resolved.length) : rsc
    }
    // The cache's spelling of the path (`/blog/a%2Cb` and `/blog/a,b` are one page, `/blog/café`).
    concrete = keyPathOf(concrete)
    // A segment prefetch answered with a page's whole twin (the Router's answer when the output
    // has no such segment, or when a rewrite reached a dynamic route's template): when the page
    // was prerendered by segment, its own segment, or next start's cache miss, an empty 404.
    let segmentMiss = false
    if (isRsc && isSegmentPrefetch(req) && !ctx.internal && concrete.endsWith(RSC_SUFFIX) && !concrete.endsWith(SEGMENT_SUFFIX)) {
      const page = concrete.slice(0, -RSC_SUFFIX.length)
      const segmentPath = (segment) => `${page}${SEGMENT_DIR}${segment}${SEGMENT_SUFFIX}`
      const own = segmentPath(req.headers['next-router-segment-prefetch'])
      if (prerenders.byPathname(segmentPath('/_tree'))) {
        if (prerenders.byPathname(own)) concrete = own
        else segmentMiss = true
      } else if (!ppr.isPartial(template) && !prerenders.byPathname(concrete)) {
        // A page generated here: its segments are cached under their own names (kept with a
        // render of the page, or rendered one by one), never under the page's twin, whose key a
        // navigation reads. Once the page has them, one it lacks is the miss.
        const tree = await cache.get(segmentPath('/_tree'))
        if (tree && !(await cache.get(own))) segmentMiss = cacheControlFor(tree.revalidate, tree.expire)
        else concrete = own
      }
    }
    let p = prerenders.byPathname(concrete) || (isRsc ? prerenders.byPathname(rscPathname) : null) || template
    if (!p) return render404(req, res, ctx)
    const fnId = isRsc ? `${p.parentOutputId}.rsc` : p.parentOutputId
    const fn = functions.get(fnId) || functions.get(p.parentOutputId)
    ctx.pagesRoute = Boolean(fn) && String(fn.type).startsWith('PAGES')
    const url = new URL(ctx.originalUrl, 'http://x')
    if (!fn) {
      const seed = prerenders.seedEntry(p)
      if (seed) return sendEntry(req, res, seed, 'HIT', ctx, { cached: true })
      return render404(req, res, ctx)
    }
    const partial = ppr.isPartial(p)
    // A static prefetch (`next-router-prefetch: 1`); `2` and `3` (runtime and app-shell
    // prefetches) are rendered per request, as Next's `parseRequestHeaders` treats them.
    const staticPrefetch = req.headers['next-router-prefetch'] === '1'
    if (prerenders.bypass(p, req, url)) {
      // next start labels a draft-mode render of a prerendered page `HIT` (its response cache
      // hands back the fresh render as a non-miss entry), except a dynamic RSC request to a PPR
      // route; and every server-action POST to a prerendered page (fetch or form, PPR or not,
      // an unknown action's 409 too).
      const draft = inDraftMode(req, prerenders.cacheConfig(p).bypassToken)
      const action = req.method !== 'GET' && req.method !== 'HEAD'
      const onHead = action || (draft && !(partial && isRsc && !staticPrefetch)) ? () => void res.setHeader('x-nextjs-cache', 'HIT') : undefined
      return invokeNode(fn, req, res, ctx, { onHead })
    }
    if (partial && isRsc && !staticPrefetch && !ctx.internal) {
      // A navigation to a PPR route, or a runtime / app-shell prefetch (`next-router-prefetch: 2`
      // or `3`, sent with `partialPrefetching`; Next renders those dynamically too): the dynamic
      // Flight payload, rendered from the postponed state.
      const postponed = await pprPostponed(p, concrete, url)
      if (postponed !== undefined) return invokeNode(fn, req, res, ctx, { requestMeta: { postponed } })
    }
    if (segmentMiss) return sendSegmentMiss(res, segmentMiss === true ? cacheControlFor(p.revalidate, p.expire) : segmentMiss, ctx)
    if (partial && isRsc && !ctx.internal && !p.seed && !concrete.endsWith('.segment.rsc') && ppr.seedPostponed(p) !== undefined) {
      // A whole-page prefetch of a route with holes: Cache Components prefetch by segment, and
      // `next start` has no Flight payload for the page's shell (an empty 404).
      const twin = ppr.htmlTwin(p)
      return ppr.sendNoShellPayload(res, cacheControlFor(p.revalidate, p.expire), (twin && twin.seed && prerenders.seedEntry(twin).headers) || {}, ctx)
    }
    const key = prerenders.cacheKey(p, concrete, url)
    // A page of a dynamic route generated here (not at build time): its render's segments are
    // kept with it, as next start keeps a render's segment data with its cache entry.
    const keepSegments = !partial && p.pathname !== concrete && !key.includes('?') && String(fn.type) === 'APP_PAGE'
    const segmentsTemplate = p.pathname.endsWith(RSC_SUFFIX) ? p.pathname.slice(0, -RSC_SUFFIX.length) : p.pathname
    // On-demand revalidation asked for by a request that carries the build's preview id
    // (`x-prerender-revalidate`, what next start's res.revalidate() sends itself; anyone with
    // the id may): rendered now and stored, `REVALIDATED`, as next start answers it. With
    // `x-prerender-revalidate-if-generated`, a path never generated stays a 404.
    const onDemand = !ctx.internal && isOnDemandRevalidation(req, p)
    if (onDemand && req.headers['x-prerender-revalidate-if-generated'] && p.pathname !== concrete && !(await cache.get(key))) {
      // Not generated: the route's fallback shell where it has one (`fallback: true`), else a 404.
      if (fallbackModeOf(p) === 'static' && p.seed && !partial && !isRsc) {
        const shell = prerenders.seedEntry(p)
        return sendEntry(req, res, { ...shell, headers: { ...shell.headers, 'cache-control': NO_STORE } }, 'REVALIDATED', ctx)
      }
      return render404(req, res, { ...ctx, notFoundState: 'REVALIDATED' })
    }
    const twinKey = twinKeyOf(p, fn, key, isRsc, partial)
    if (twinKey) ctx.twin = { key: twinKey, flight: !isRsc }
    if (ctx.internal || onDemand) {
      // Upgrading a partial fallback: keep the new shell's segments as well.
      if (partial && !isRsc && p.pathname !== concrete && prerenders.cacheConfig(p).partialFallback) ctx.segmentsOf = p.pathname
      else if (keepSegments) ctx.segmentsOf = segmentsTemplate
      // The page's other form is regenerated first, unless this render hands it over: once this
      // form is served fresh, so is the other.
      if (!ctx.twin) await revalidateTwin(p, concrete, ctx, onDemand)
      await renderAndStore(req, res, fn, key, 'REVALIDATED', ctx, { partial })
      if (ctx.twin && !ctx.twinStored) revalidateTwin(p, concrete, ctx, onDemand)
      return
    }

    let entry = await keptEntry(key)
    if (!entry && partial && regenerating.has(key)) {
      // The path's own shell is being generated (a partial fallback's upgrade): like next start's
      // response cache, a request for the same key waits for it rather than taking the fallback.
      await regenerating.get(key)
      entry = await keptEntry(key)
    }
    const now = Date.now()
    if (!entry && p.pathname === concrete) entry = prerenders.seedEntry(p)
    if (entry && entry.expire && now > entry.createdAt + entry.expire * 1000) entry = null
    // Revalidated tags (revalidateTag/revalidatePath from any instance): expired renders now,
    // stale serves stale and regenerates, as `next start`'s cache decides.
    const tagState = entry ? await tagStateOf(cache, entry) : null
    if (tagState === 'expired') entry = null
    if (entry) {
      const stale = (entry.revalidate !== false && entry.revalidate !== undefined && now > entry.createdAt + entry.revalidate * 1000) || tagState === 'stale'
      if (stale && entry.segmentOf) {
        // A segment of an upgraded partial fallback: the page regenerates, its segments with it.
        regenerate(entry.segmentOf, urlPathOf(entry.segmentOf), pageRegenerationHeaders(ctx), entry.createdAt)
      } else if (stale) regenerate(key, ctx.originalUrl, ownRegenerationHeaders(ctx), entry.createdAt)
      const postponed = partial && !isRsc ? entryPostponed(entry, p) : undefined
      if (postponed !== undefined) return resume(req, res, fn, { ...entry, postponed }, stale ? 'STALE' : 'HIT', ctx)
      // A PPR route's seeds say `private, no-store` for the `.rsc` twin; next start goes by the route's revalidate.
      return sendEntry(req, res, entry, stale ? 'STALE' : 'HIT', ctx, { cached: true, ...(partial ? { cacheControl: cacheControlFor(entry.revalidate, entry.expire) } : {}) })
    }
    if (p.pathname !== concrete) {
      // Not generated yet: the template's fallback decides.
      const mode = fallbackModeOf(p)
      if (mode === 'notFound') return render404(req, res, ctx)
      const isData = concrete.startsWith(DATA_DIR) || isRsc
      const fallbackPostponed = partial && !isData && p.seed ? p.seed.postponedState : undefined
      if (partial && isRsc && p.seed && concrete.endsWith('.segment.rsc')) {
        // A segment prefetch of a path not generated yet: the fallback shell's segment, uncached.
        // With a partial fallback it also starts the path's upgrade, as on next start.
        if (prerenders.cacheConfig(p).partialFallback && concrete.includes('.segments/')) {
          const page = concrete.slice(0, concrete.indexOf('.segments/'))
          regenerate(page, urlPathOf(page), pageRegenerationHeaders(ctx), 0)
        }
        return sendEntry(req, res, prerenders.seedEntry(p), 'MISS', ctx, { cacheControl: null })
      }
      if (mode === 'static' && fallbackPostponed !== undefined) {
        // A partial fallback (`partialFallback`, Next's `partialPrefetching`): the path gets its
        // own shell, generated in the background, which later requests are answered with (as
        // `next start` upgrades the fallback into a param-specific cache entry).
        if (prerenders.cacheConfig(p).partialFallback) regenerate(key, ctx.originalUrl, ownRegenerationHeaders(ctx), 0)
        // The route's fallback shell, its holes (the params among them) resumed for this URL.
        return resume(req, res, fn, { ...prerenders.seedEntry(p), postponed: fallbackPostponed }, 'MISS', ctx)
      }
      // A crawler gets the page rendered now (below), as next start renders it for one (its
      // pages handler's `isBot`): it would index the fallback's loading state otherwise. Others
      // get the shell, and nothing is rendered until the client asks for the page's data, as on
      // next start (a render here too raced that request's, and made the two forms disagree).
      if (mode === 'static' && p.seed && !isData && !isBot(req.headers['user-agent'])) {
        const shell = prerenders.seedEntry(p)
        return sendEntry(req, res, { ...shell, headers: { ...shell.headers, 'cache-control': NO_STORE } }, 'MISS', ctx)
      }
    }
    if (partial && !isRsc) {
      // A PPR page not generated yet and without a fallback shell: in minimal mode its render
      // answers with the shell alone, so generate the shell first (blocking, once per key), then
      // resume it for this request.
      const fresh = await regenerateAndGet(key, key, ctx.originalUrl, ownRegenerationHeaders(ctx))
      if (fresh) {
        const postponed = entryPostponed(fresh, p)
        // next start marks this first response `x-nextjs-prerender: 1` (later ones, resumed
        // from the generated entry, carry none).
        if (postponed !== undefined) return resume(req, res, fn, { ...fresh, headers: { ...fresh.headers, 'x-nextjs-prerender': '1' }, postponed }, 'MISS', ctx)
        return sendEntry(req, res, fresh, 'MISS', ctx, { cacheControl: cacheControlFor(fresh.revalidate, fresh.expire) })
      }
    }
    if (keepSegments && isSegmentPrefetch(req) && concrete.endsWith(SEGMENT_SUFFIX)) {
      // A segment prefetch of a page not generated yet: next start renders the page, keeps its
      // one entry (document, Flight payload, segments) and answers with the segment, so the
      // page's next request is a hit. (Rendering the segment alone left the page to render again.)
      const page = documentPathOf(pageOfSegment(concrete))
      const fresh = await regenerateAndGet(key, page, `${pageUrl(page)}${url.search}`, pageRegenerationHeaders(ctx))
      if (fresh) return sendEntry(req, res, fresh, 'MISS', ctx)
      const tree = await cache.get(`${pagePathOf(page)}${SEGMENT_DIR}/_tree${SEGMENT_SUFFIX}`)
      if (tree) return sendSegmentMiss(res, cacheControlFor(tree.revalidate, tree.expire), ctx, 'MISS')
    }
    if (keepSegments) ctx.segmentsOf = segmentsTemplate
    // A pages-router page generated here: its other form is generated beside it, as next start's
    // one render makes its one entry (an app page's render hands over both forms itself).
    // (The response ends once both are stored: a client that asks for the other form next, as a
    // navigation's JSON after the document, finds it.)
    // (At most TWIN_WAIT_MS: a twin render that hangs holds up this response no longer.)
    if (!ctx.twin && !partial) ctx.twinPending = boundedWait(revalidateTwin(p, concrete, ctx, false), TWIN_WAIT_MS)
    await renderAndStore(req, res, fn, key, 'MISS', ctx, { partial })
  }

  // --- partial prerendering (runtime/ppr.js) ------------------------------------------------
  /** The postponed state of a cached entry: what its (re)generation captured, else its seed's. */
  function entryPostponed(entry, p) {
    if (Object.hasOwn(entry, 'postponed')) return entry.postponed
    return entry.seed !== undefined ? ppr.seedPostponed(p) : undefined
  }

  /**
   * The postponed state a dynamic RSC request to a PPR route resumes from; undefined for a
   * generated page without holes (its static payload answers). A path not generated yet renders
   * dynamically: from its fallback shell's state, else from none (`''`, Next's full dynamic render).
   */
  async function pprPostponed(p, concrete, url) {
    if (p.pathname !== concrete) return ppr.seedPostponed(p) ?? ''
    const twin = ppr.htmlTwin(p)
    if (!twin) return undefined
    const htmlPath = documentPathOf(concrete.endsWith('.rsc') ? concrete.slice(0, -'.rsc'.length) : concrete)
    const cached = await cache.get(prerenders.cacheKey(twin, htmlPath, url))
    if (cached && Object.hasOwn(cached, 'postponed')) return cached.postponed
    return ppr.seedPostponed(p)
  }

  function resume(req, res, fn, entry, state, ctx) {
    ctx.meta.cache = state
    return ppr.sendShellAndResume(req, res, entry, prerenders.identityBody(entry), {
      poweredBy: manifest.config.poweredByHeader,
      log,
      invoke: async (inner, requestMeta) => {
        req.url = ctx.invocationPath || ctx.originalUrl
        const done = new Promise((resolve) => {
          res.once('finish', resolve)
          res.once('close', resolve)
        })
        await functions.invoke(fn, req, inner, { waitUntil, requestMeta: { ...requestMetaFor(req, ctx, fn), ...requestMeta } })
        if (!res.writableEnded && !res.destroyed) await done
      },
    })
  }

  /**
   * The query `/_next/image` answers a request with when a rewrite sends it there, else null:
   * the destination's query with the source's params filled in, over the request's own query
   * (the destination's keys win, as in `next start`). A param goes in as the path spells it
   * (still percent-encoded, as Next passes it), encoded once more, so a path cannot add query
   * keys of its own.
   */
  function imageRewriteQuery(req, originalUrl) {
    if (!toImage.length) return null
    const url = new URL(originalUrl, 'http://x')
    for (const r of toImage) {
      const m = r.regex.exec(url.pathname)
      if (!m) continue
      if (!r.has.every((c) => conditionHolds(c, req, url)) || r.missing.some((c) => conditionHolds(c, req, url))) continue
      const dest = r.destination.replace(/\$(\d+|[A-Za-z_]\w*)/g, (all, k) => {
        const v = /^\d+$/.test(k) ? m[Number(k)] : m.groups && m.groups[k]
        return v === undefined ? '' : encodeURIComponent(v)
      })
      const search = dest.includes('?') ? dest.slice(dest.indexOf('?')) : ''
      return { ...parseQuery(url.search), ...parseQuery(search) }
    }
    return null
  }

  /**
   * `next start` (`experimental.validateRSCRequestHeaders`, on by default) answers an RSC request
   * for a page or an app route handler whose `_rsc` search param is not the hash of its router
   * headers with a 307 to the URL carrying the right one: a CDN that ignores `Vary` can then not
   * be poisoned with a response cached for other headers. Static files, API routes of the pages
   * router, edge functions and the 404/500 pages are not checked, as there. Returns true when it
   * answered.
   */
  function redirectRscCacheBusting(req, res, target, ctx) {
    if (req.headers.rsc !== '1' || !validateRscRequests) return false
    if (target.kind === 'static') {
      const entry = statics.byFile(target.id)
      if (!entry || entry.kind !== 'static-page' || /^\/(404|500)$/.test(entry.pathname)) return false
    } else if (target.kind === 'function') {
      if (edgeById.has(target.id)) return false
      const fn = functions.get(target.id)
      if (!fn || !['APP_PAGE', 'APP_ROUTE', 'PAGES'].includes(fn.type)) return false
    } else if (target.kind !== 'prerender') return false
    const h = req.headers
    const prefetch = ['1', '2', '3'].includes(h['next-router-prefetch']) ? h['next-router-prefetch'] : undefined
    const { hash, legacy } = cacheBustingParams(prefetch, h['next-router-segment-prefetch'], h['next-router-state-tree'], h['next-url'])
    // The URL the client asked for, also after a middleware rewrite (next start's `initURL`).
    const url = new URL(ctx.originalUrl, 'http://localhost')
    const actual = url.searchParams.get(RSC_UNION_QUERY)
    if (actual === hash || (actual !== null && actual === legacy)) return false
    const pairs = url.search.slice(1).split('&').filter((pair) => pair && !pair.startsWith(`${RSC_UNION_QUERY}=`))
    pairs.push(hash ? `${RSC_UNION_QUERY}=${hash}` : RSC_UNION_QUERY)
    url.search = `?${pairs.join('&')}`
    // The routing and middleware headers already set stay, as on next start's redirect.
    res.statusCode = 307
    res.setHeader('location', `${url.pathname}${url.search}`)
    res.setHeader('content-length', 0)
    res.end()
    return true
  }

  /** The function type of a routing target (a prerender's: its page's), or undefined. */
  function targetType(target) {
    if (target.kind === 'prerender') {
      const p = prerenders.byId(target.id)
      const fn = p && functions.get(p.parentOutputId)
      return fn && fn.type
    }
    if (target.kind !== 'function' || edgeById.has(target.id)) return undefined
    const fn = functions.get(target.id)
    return fn && fn.type
  }

  /**
   * `next start`'s `setVaryHeader`: an app-router response (page or node route handler) varies
   * on the router headers, and a page an interception route can show differently also on
   * `next-url`. Build-time entries lack `next-url` and route handlers the router headers in
   * minimal mode, so they are merged in when the head goes out, whichever way the response is
   * produced (the response's own `Vary` values are kept). Where the app router is used too, a
   * pages-router page's answer to an RSC request varies on them as well (a client navigating
   * from an app page asks for it so).
   */
  function applyAppVary(req, res, target, ctx) {
    const type = targetType(target)
    const rscToPage = type === 'PAGES' && HAS_APP_ROUTER && req.headers.rsc === '1'
    if (type !== 'APP_PAGE' && type !== 'APP_ROUTE' && !rscToPage) return
    const wanted = RSC_VARY.split(',').map((v) => v.trim())
    if (type === 'APP_PAGE' && interceptable.length) {
      const pathname = new URL(ctx.originalUrl, 'http://x').pathname
      if (interceptable.some((re) => re.test(pathname))) wanted.push('next-url')
    }
    const writeHead = res.writeHead
    res.writeHead = function varyWriteHead(...args) {
      const own = res.getHeader('vary') ? String(res.getHeader('vary')).split(',').map((v) => v.trim()).filter(Boolean) : []
      const lower = new Set(own.map((v) => v.toLowerCase()))
      const missing = wanted.filter((v) => !lower.has(v.toLowerCase()))
      if (missing.length) {
        // The router headers first, as Next appends its Vary before the handler's.
        const merged = [...wanted.filter((v) => lower.has(v.toLowerCase()) || missing.includes(v)), ...own.filter((v) => !wanted.some((w) => w.toLowerCase() === v.toLowerCase()))]
        res.setHeader('vary', merged.join(', '))
      }
      return writeHead.apply(this, args)
    }
  }

  /**
   * The cache-control of the 404 of a route whose paths are all prerendered (the decision's
   * `matchedRoute`): `next start` answers an app route's (`dynamicParams = false`) with the
   * route's cache-control, a pages route's (`fallback: false`) with none.
   */
  function matchedRouteCacheControl(route) {
    const isApp = Boolean(functions.get(`${route}.rsc`))
    if (!isApp) return null
    const p = manifest.prerenders.find((q) => q.route === route && q.fallbackMode)
    return cacheControlFor(p ? p.revalidate : false, p ? p.expire : undefined)
  }

  // --- dispatch ---------------------------------------------------------------------------
  /** The URL and query an entrypoint is invoked with (not needed to send a static file). */
  function prepareInvocation(ctx, decision) {
    const drop = clientInternalKeys(ctx.originalUrl)
    const search = drop ? withoutKeys(decision.search, drop, decision.routeMatches) : decision.search
    ctx.invocationPath = `${decision.invocationPathname || decision.resolvedPathname}${search}`
    ctx.rewriteQuery = rewriteQuery(ctx.originalUrl, decision)
    if (drop && ctx.rewriteQuery) {
      for (const k of drop) if (!decision.routeMatches || !Object.hasOwn(decision.routeMatches, k)) delete ctx.rewriteQuery[k]
    }
  }

  /** The request headers middleware answered with, all of them (the rest are dropped). */
  function takeRequestHeaders(req, ctx, requestHeaders) {
    keepOriginalHeaders(req, ctx)
    for (const k of Object.keys(req.headers)) if (!(k in requestHeaders)) delete req.headers[k]
    Object.assign(req.headers, requestHeaders)
    ctx.middlewareRequestHeaders = requestHeaders
  }

  /**
   * A data URL's request as next start's router marks it (`x-nextjs-data`: by `route` with
   * middleware, here where it reached a dynamic route), and the page it reached, which next
   * start names in `x-nextjs-matched-path` (a pages-router client with middleware reads the page
   * to render from it): set here for what the cache answers and for a route's 404; a render
   * sets it itself.
   */
  function markDataRequest(req, res, decision) {
    const page = dataPageOf(decision, req.url)
    if (!page) return
    if (!middlewareFn && !page.includes('[')) return
    req.headers['x-nextjs-data'] = '1'
    // (An edge page renders outside Next's page server, which names the page: not there.)
    if (decision.target && decision.target.kind === 'function' && edgeById.has(decision.target.id)) return
    res.setHeader('x-nextjs-matched-path', page)
  }

  /**
   * The page a data URL's decision reached, as next start names it: the locale, then the page
   * (`/fr/posts/[id]`, `/ssr`, `/` for the index), without basePath; undefined for none. A URL
   * naming a dynamic route's template (`/_next/data/<id>/posts/[id].json`) is that output itself,
   * not a match of the route (but for middleware, which sees every data URL).
   */
  function dataPageOf(decision, url) {
    if (!middlewareFn && (url.includes('[') || url.includes('%5B') || url.includes('%5b'))) return undefined
    let page
    let concrete
    if (decision.kind === 'resolved' && decision.target) {
      const t = decision.target
      concrete = decision.resolvedPathname.startsWith(`${DATA_PREFIX}/`) ? decision.resolvedPathname : decision.invocationPathname || decision.resolvedPathname
      if (t.kind === 'prerender') {
        const p = prerenders.byId(t.id)
        page = p ? p.parentOutputId : undefined
      } else if (t.kind === 'static') page = belowBasePath(decision.resolvedPathname)
    } else if (decision.kind === 'notFound' && decision.matchedRoute) {
      concrete = url
      page = belowBasePath(decision.matchedRoute)
    }
    if (!concrete) return undefined
    // The locale: the data path's first segment (`/_next/data/<id>/fr/…`, `…/fr.json`).
    let locale
    if (i18n) {
      const localeOf = (path) => {
        if (!path.startsWith(`${DATA_PREFIX}/`)) return undefined
        const first = path.slice(DATA_PREFIX.length + 1).split(/[/?]/)[0].replace(/\.json$/, '')
        return i18n.locales.find((l) => l === first)
      }
      locale = localeOf(concrete) || localeOf(url)
    }
    if (!page) {
      // A page rendered on request: its data path below the locale.
      if (!concrete.startsWith(`${DATA_PREFIX}/`)) return undefined
      page = concrete.slice(DATA_PREFIX.length, -'.json'.length)
      if (locale) page = page.slice(locale.length + 1) || '/index'
    } else if (locale && (page === `/${locale}` || page.startsWith(`/${locale}/`))) page = page.slice(locale.length + 1) || '/index'
    if (page === '/index') page = '/'
    return `${locale ? `/${locale}` : ''}${page}`
  }

  /** Copies the request headers as they came in before the first change to `req.headers`. */
  function keepOriginalHeaders(req, ctx) {
    if (ctx.originalHeaders === req.headers) ctx.originalHeaders = { ...req.headers }
  }

  async function route(req, res, meta) {
    for (const name of NEXT_INTERNAL_HEADERS) if (req.headers[name] !== undefined) delete req.headers[name]
    // `x-nextjs-data` (a client navigation's data fetch): next start's router drops the client's
    // (`filterInternalHeaders`) and marks a data URL itself, on every one in an app with
    // middleware (its `middleware_next_data` step, before middleware runs), else on one that
    // reaches a dynamic route (`markDataRequest`). A page request carrying it had middleware's
    // redirect sent as a data redirect (`x-nextjs-redirect`, no Location). (A regeneration's is
    // the server's own.)
    // (An RSC request's is never marked: next start's router takes its path as the Flight form's.)
    const dataUrl = req.headers.rsc !== '1' && isDataUrl(req.url)
    if (req.headers[INTERNAL_HEADER] === undefined) {
      if (dataUrl && middlewareFn) req.headers['x-nextjs-data'] = '1'
      else if (req.headers['x-nextjs-data'] !== undefined) delete req.headers['x-nextjs-data']
    }
    // `originalHeaders` is `req.headers` itself until something is about to change them
    // (`keepOriginalHeaders`): most requests never do, and a copy per request shows in profiles.
    const ctx = { meta, originalUrl: req.url, originalHeaders: req.headers, internal: false, routingHeaders: NO_NAMES, decision: undefined }
    if (req.headers[INTERNAL_HEADER] !== undefined) {
      ctx.internal = req.headers[INTERNAL_HEADER] === secret
      if (ctx.internal) ctx.regenToken = req.headers[REGEN_TOKEN_HEADER]
      delete req.headers[INTERNAL_HEADER]
      delete ctx.originalHeaders[INTERNAL_HEADER]
      delete req.headers[REGEN_TOKEN_HEADER]
      delete ctx.originalHeaders[REGEN_TOKEN_HEADER]
      if (ctx.internal) ctx.twinRegeneration = req.headers[TWIN_HEADER] === secret
      delete req.headers[TWIN_HEADER]
      delete ctx.originalHeaders[TWIN_HEADER]
      if (ctx.internal && req.headers[ROUTE_HEADER] !== undefined) {
        ctx.route = { packed: req.headers[ROUTE_HEADER], requestHeaders: req.headers[ROUTE_REQUEST_HEADERS] }
      }
      delete req.headers[ROUTE_HEADER]
      delete req.headers[ROUTE_REQUEST_HEADERS]
    }
    const clean = cleanTargetRedirect(req.url)
    if (clean !== null) {
      res.statusCode = 308
      res.setHeader('location', clean)
      res.setHeader('refresh', `0;url=${clean}`)
      return res.end(req.method === 'HEAD' ? undefined : clean)
    }
    let decision
    if (ctx.route) {
      // A regeneration of a request's own URL: where that request was routed, with the request
      // headers middleware left it (no `middleware` decision, so the loop below does not run).
      decision = router.restore(decodeURIComponent(ctx.route.packed))
      if (ctx.route.requestHeaders !== undefined) takeRequestHeaders(req, ctx, JSON.parse(decodeURIComponent(ctx.route.requestHeaders)))
    } else decision = router.resolve({ method: req.method, url: req.url, headers: req.headers })
    for (let hops = 0; decision.kind === 'middleware' && hops < 4; hops++) {
      if (!middlewareFn) {
        decision = router.resume(decision.continuation, {})
        continue
      }
      let outcome
      try {
        outcome = await runMiddleware(req, res, decision)
      } catch (err) {
        log({ level: 'error', msg: 'middleware failed', route: middlewareFn.id, path: ctx.originalUrl, error: String((err && err.stack) || err) })
        return middlewareFailed(req, res)
      }
      const requestHeaders = toRecord(outcome.requestHeaders)
      const responseHeaders = toRecord(outcome.responseHeaders)
      if (outcome.kind === 'response') {
        const after = router.resume(decision.continuation, { bodySent: true, responseHeaders })
        return pipeWebResponse(outcome.response, req, res, after.headers)
      }
      if (requestHeaders) takeRequestHeaders(req, ctx, requestHeaders)
      const routerOutcome = { requestHeaders, responseHeaders }
      if (outcome.redirect) routerOutcome.redirect = { url: String(outcome.redirect.url), status: outcome.redirect.status }
      if (outcome.rewrite) routerOutcome.rewrite = String(outcome.rewrite)
      decision = router.resume(decision.continuation, routerOutcome)
    }
    // (What a regeneration of this URL takes: `ownRegenerationHeaders`.)
    ctx.decision = decision
    if (decision.headers) {
      setHeaders(res, decision.headers)
      ctx.routingHeaders = new Set(res.getHeaderNames())
    }
    if (dataUrl && !ctx.internal) markDataRequest(req, res, decision)
    // Parsing the URL only when it can be the optimizer's: a URL parser never decodes the
    // letters of a path, so a pathname `…/_next/image` has `image` in the raw URL too.
    if (decision.kind !== 'redirect' && ctx.originalUrl.includes('image')) {
      const url = new URL(ctx.originalUrl, 'http://x')
      if (images.matches(url.pathname)) return images.handle(req, res, { query: parseQuery(url.search), render404: () => render404(req, res, ctx), ctx })
    }
    if (ctx.originalUrl.includes('%') && malformedParams(decision, ctx)) {
      // (Where an error page renders the answer, it checks an RSC request's `_rsc` first, as
      // for any page: the redirect is no-store.)
      if (functions.get('/_error') && req.headers.rsc === '1') {
        res.setHeader('cache-control', NO_STORE)
        if (redirectRscCacheBusting(req, res, decision.target || { kind: 'prerender' }, ctx)) return
      }
      return badParams(req, res, ctx)
    }
    switch (decision.kind) {
      case 'redirect': {
        const { location, status } = decision.redirect
        res.statusCode = status
        res.setHeader('location', location)
        if (status === 308) res.setHeader('refresh', `0;url=${location}`)
        return res.end(req.method === 'HEAD' ? undefined : location)
      }
      case 'externalRewrite':
        return proxyExternal(req, res, decision.externalUrl, {
          originalUrl: ctx.originalUrl,
          onError: (err) => log({ level: 'error', msg: 'external rewrite failed', path: ctx.originalUrl, target: decision.externalUrl, error: String(err && err.message) }),
        })
      case 'status':
        res.statusCode = decision.status || 500
        return res.end()
      case 'badRequest':
        res.statusCode = 400
        return res.end('Bad Request')
      case 'notFound': {
        const imageQuery = decision.matchedRoute ? null : imageRewriteQuery(req, ctx.originalUrl)
        if (imageQuery) return images.handle(req, res, { query: imageQuery, render404: () => render404(req, res, ctx), ctx })
        // (The app's own `/_not-found` page counts as matched, as on next start.)
        ctx.plainNotFoundVary = Boolean(decision.matchedRoute ? functions.get(`${decision.matchedRoute}.rsc`) : appNotFound && belowBasePath(new URL(ctx.originalUrl, 'http://x').pathname) === '/_not-found')
        if (decision.matchedRoute) ctx.notFoundCacheControl = matchedRouteCacheControl(decision.matchedRoute)
        // A route matched (its paths all prerendered, this one not among them): next start checks
        // an RSC request's `_rsc` before the route answers its 404, as for any of its pages.
        if (decision.matchedRoute && redirectRscCacheBusting(req, res, { kind: 'prerender' }, ctx)) return
        // (No route matched: next start's router answers the 404 itself, `invokeRender('/404')`.)
        ctx.unmatched = !decision.matchedRoute
        return render404(req, res, ctx)
      }
      case 'resolved':
        break
      default:
        throw new Error(`unexpected routing decision ${decision.kind}`)
    }
    const target = decision.target
    if (!target) return render404(req, res, ctx)
    if (redirectRscCacheBusting(req, res, target, ctx)) return
    applyAppVary(req, res, target, ctx)
    if ((target.kind === 'static' || target.kind === 'prerender') && !staticMethodAllowed(req)) return methodNotAllowed(res)
    if (target.kind === 'static') {
      const entry = statics.byFile(target.id)
      // The error pages keep their status when asked for by URL, as `next start` answers them.
      const pageStatus = entry && entry.kind === 'static-page' ? errorPageStatus(entry.pathname) : undefined
      // `next start` serves static HTML pages without cache-control (a prerendered route
      // response has its own).
      const cacheControl = entry && entry.kind === 'static-page' && !entry.headers ? null : undefined
      if (entry && statics.send(req, res, entry, { status: decision.status || pageStatus, cacheControl })) return
      prepareInvocation(ctx, decision)
      return render404(req, res, ctx)
    }
    prepareInvocation(ctx, decision)
    if (target.kind === 'prerender') return servePrerender(req, res, decision, ctx)
    if (target.kind === 'function') {
      const edgeFn = edgeById.get(target.id)
      if (edgeFn) return invokeEdge(edgeFn, req, res, decision, ctx)
      const fn = (decision.rscPathname && functions.get(decision.rscPathname)) || functions.get(target.id)
      if (!fn) return render404(req, res, ctx)
      return invokeNode(fn, req, res, ctx, { status: decision.status })
    }
    return render404(req, res, ctx)
  }

  const server = http.createServer(serverOptions(guard.limits), (req, res) => {
    const meta = { cache: undefined }
    const pathname = req.url
    // Without request logs (ACME_LOG=silent) a request pays for no clock read and no listener.
    if (requestLog) {
      const started = process.hrtime.bigint()
      const method = req.method
      res.once('close', () => {
        log({
          method,
          path: pathname,
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
          cache: meta.cache,
        })
      })
    }
    if (!guard.admit(req, res)) return
    if (compress) compressResponse(req, res)
    route(req, res, meta).catch((err) => {
      log({ level: 'error', msg: 'request failed', path: pathname, error: String((err && err.stack) || err) })
      return render500(req, res)
    })
  })

  const closeServer = server.close.bind(server)
  /**
   * Stops accepting, finishes in-flight requests, then pending waitUntil work, within the drain
   * timeout. Resolves `{ drained, inFlight, pending }` (what was left when it gave up).
   */
  server.drain = async () => {
    const left = await guard.drain(server, () => pending, closeServer)
    prerenders.close()
    if (!store && cache.close) cache.close()
    return left
  }
  server.close = (cb) => {
    server.drain().then(() => cb && cb(), (err) => cb && cb(err))
    return server
  }
  return server
}

module.exports = { createServer, loadManifest, SCHEMA_VERSION }
