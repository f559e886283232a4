'use strict'

// `/_next/image`: the image optimizer `next start` runs (next-server.js `handleNextImageRequest`,
// image-optimizer.js), driven by the build's `images` config from the manifest. Validation,
// status codes, error bodies and headers follow Next 16.4; the pixel work runs in Rust on
// libuv's thread pool (`optimizeImage` of the addon). Optimized images live in a disk cache
// beside the ISR cache (`<cache>/images`, same atomic store).
//
// Where Next and this runtime differ on purpose: a local `url` is read from the output's own
// files (public/ and static/) through the manifest, never from a path built from the URL; other
// local URLs (route handlers) are fetched from this server itself over loopback.

const crypto = require('node:crypto')
const dns = require('node:dns')
const fs = require('node:fs')
const http = require('node:http')
const https = require('node:https')
const net = require('node:net')
const path = require('node:path')
const zlib = require('node:zlib')

const { createFsCacheStore } = require('./cache/fs')
const { createDecoderProcess } = require('./image-decoder')

const CACHE_VERSION = 4
const FETCH_TIMEOUT_MS = 7000
const MEMORY_LIMIT = 64 * 1024 * 1024
const INTERNAL_HEADER = 'x-acme-image-fetch'
const DEFAULTS = {
  deviceSizes: [640, 750, 828, 1080, 1200, 1920, 2048, 3840],
  imageSizes: [32, 48, 64, 96, 128, 256, 384],
  loader: 'default',
  domains: [],
  minimumCacheTTL: 14400,
  formats: ['image/webp'],
  maximumRedirects: 3,
  maximumResponseBody: 50000000,
  dangerouslyAllowLocalIP: false,
  dangerouslyAllowSVG: false,
  contentSecurityPolicy: "script-src 'none'; frame-src 'none'; sandbox;",
  contentDispositionType: 'attachment',
  localPatterns: undefined,
  remotePatterns: [],
  qualities: [75],
  unoptimized: false,
}
const ANIMATABLE = ['image/webp', 'image/png', 'image/gif']
const BYPASS = ['image/svg+xml', 'image/x-icon', 'image/x-icns', 'image/bmp', 'image/jxl', 'image/heic']
const EXTENSIONS = {
  'image/jpeg': 'jpeg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'image/svg+xml': 'svg',
  'image/avif': 'avif',
  'image/x-icon': 'ico',
  'image/x-icns': 'icns',
  'image/bmp': 'bmp',
  'image/tiff': 'tiff',
  'image/jxl': 'jxl',
  'image/heic': 'heic',
  'application/pdf': 'pdf',
  'image/jp2': 'jp2',
}
const TYPES = Object.fromEntries(Object.entries(EXTENSIONS).map(([t, e]) => [e, t]))

class ImageError extends Error {
  constructor(statusCode, message) {
    super(message)
    this.statusCode = statusCode
  }
}

// --- patterns (picomatch semantics for the globs Next documents) -----------------------------

function segmentRegExp(segment, dot) {
  let re = ''
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]
    if (c === '*') {
      while (segment[i + 1] === '*') i++
      re += '[^/]*'
    } else if (c === '?') re += '[^/]'
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&')
  }
  // Without `dot`, a wildcard never matches a leading dot (picomatch's default).
  const noDot = !dot && /^[*?]/.test(segment) ? '(?!\\.)' : ''
  return new RegExp(`^${noDot}${re}$`)
}

/**
 * Compiles a glob to a matcher over `/`-separated strings: `**` alone in a segment matches any
 * number of segments (never `.` or `..`), `*` and `?` stay within a segment.
 */
function globMatcher(glob, { dot = false } = {}) {
  const parts = glob.split('/').map((s) => (s === '**' ? '**' : segmentRegExp(s, dot)))
  const okSegment = (s) => s !== '.' && s !== '..' && (dot || !s.startsWith('.'))
  return (input) => {
    const segs = input.split('/')
    // A trailing slash is allowed, as picomatch's `\/?`.
    if (/[*?]/.test(glob) && segs.length > 1 && segs[segs.length - 1] === '' && parts[parts.length - 1] !== '**') segs.pop()
    const memo = new Map()
    const walk = (p, s) => {
      const k = p * 4096 + s
      if (memo.has(k)) return memo.get(k)
      let ok
      if (p === parts.length) ok = s === segs.length
      else if (parts[p] === '**') {
        ok = walk(p + 1, s)
        for (let t = s; !ok && t < segs.length && okSegment(segs[t]); t++) ok = walk(p + 1, t + 1)
      } else ok = s < segs.length && parts[p].test(segs[s]) && walk(p + 1, s + 1)
      memo.set(k, ok)
      return ok
    }
    return walk(0, 0)
  }
}

function compilePatterns(images) {
  const local = images.localPatterns
    ? images.localPatterns.map((p) => ({ search: p.search, pathname: globMatcher(p.pathname ?? '**', { dot: true }) }))
    : null
  const remote = (images.remotePatterns || []).map((p) => ({
    protocol: p.protocol,
    port: p.port,
    search: p.search,
    hostname: globMatcher(String(p.hostname)),
    pathname: globMatcher(p.pathname ?? '**', { dot: true }),
  }))
  return { local, remote }
}

function hasLocalMatch(local, href) {
  if (!local) return true
  const url = new URL(href, 'http://n')
  return local.some((p) => (p.search === undefined || p.search === url.search) && p.pathname(url.pathname))
}

function hasRemoteMatch(domains, remote, url) {
  if (domains.some((d) => url.hostname === d)) return true
  return remote.some(
    (p) =>
      (p.protocol === undefined || p.protocol.replace(/:$/, '') === url.protocol.replace(/:$/, '')) &&
      (p.port === undefined || p.port === url.port) &&
      p.hostname(url.hostname) &&
      (p.search === undefined || p.search === url.search) &&
      p.pathname(url.pathname),
  )
}

// --- request validation (ImageOptimizerCache.validateParams) -------------------------------

const VALID_MEDIA = /^(?:\*\/\*)|(?:[\w!#$%&'*+\-.^`|~]+\/\*)|(?:[\w!#$%&'*+\-.^`|~]+\/[\w!#$%&'*+\-.^`|~]+)$/

function innerSort(a, b, key) {
  if (a[key] === '*') return 1
  if (b[key] === '*') return -1
  return a[key] < b[key] ? -1 : 1
}

/**
 * `@hapi/accept`'s `mediaType(accept, formats)` as Next calls it, then Next's rule that the
 * chosen type must appear in the header as written. Ties in `q` go to the alphabetically first
 * type (so `image/webp,image/avif` picks AVIF), as hapi sorts them. A malformed parameter throws,
 * as hapi does (Next then answers 500).
 */
function negotiate(formats, accept = '') {
  const raw = String(accept || '')
  const quoted = {}
  let header = raw || '*/*'
  if (header.includes('"')) {
    let n = 0
    header = header.replace(/="([^"]*)"/g, (_m, v) => {
      const k = `"${++n}`
      quoted[k] = v
      return `=${k}`
    })
  }
  header = header.replace(/[ \t]/g, '')
  const byToken = {}
  const list = []
  header.split(',').forEach((part, pos) => {
    if (!part) return
    const params = part.split(';')
    const token = params.shift().toLowerCase()
    if (!VALID_MEDIA.test(token)) return
    const entry = { token, params: {}, pos, q: undefined }
    for (const p of params) {
      const kv = p.split('=')
      if (kv.length !== 2 || !kv[1]) throw new Error('Invalid accept header')
      let v = kv[1]
      if (kv[0] === 'q' || kv[0] === 'Q') {
        v = parseFloat(v)
        if (!Number.isFinite(v) || v > 1 || (v < 0.001 && v !== 0)) v = 1
        entry.q = v
      } else if (entry.q === undefined) {
        entry.params[kv[0]] = v[0] === '"' ? `"${quoted[v]}"` : v
      }
    }
    const keys = Object.keys(entry.params)
    entry.original = ['', ...keys.map((k) => `${k}=${entry.params[k]}`)].join(';')
    entry.specificity = keys.length
    if (entry.q === undefined) entry.q = 1
    ;[entry.type, entry.subtype] = token.split('/')
    byToken[token] = entry
    if (entry.q) list.push(entry)
  })
  list.sort((a, b) => {
    if (b.q !== a.q) return b.q - a.q
    if (a.type !== b.type) return innerSort(a, b, 'type')
    if (a.subtype !== b.subtype) return innerSort(a, b, 'subtype')
    if (a.specificity !== b.specificity) return b.specificity - a.specificity
    return a.pos - b.pos
  })
  const prefs = {}
  const byType = {}
  for (const f of formats) {
    const lower = f.toLowerCase()
    prefs[lower] = f
    const [type, subtype] = lower.split('/')
    byType[type] = byType[type] || {}
    byType[type][subtype] = f
  }
  let chosen = ''
  for (const e of list) {
    const { type, subtype } = byToken[e.token]
    if (type === '*') {
      chosen = Object.keys(prefs).find((t) => !byToken[t])
      chosen = chosen ? prefs[chosen] : ''
    } else if (subtype !== '*') {
      const pref = prefs[e.token]
      if (pref || (byType[type] && byType[type]['*'])) chosen = (pref || e.token) + e.original
    } else if (byType[type]) {
      const sub = Object.keys(byType[type]).find((t) => !byToken[`${type}/${t}`])
      if (sub) chosen = byType[type][sub]
    }
    if (chosen) break
  }
  return chosen && raw.includes(chosen) ? chosen : ''
}

function validateParams(query, accept, images, patterns, basePath) {
  const { deviceSizes = [], imageSizes = [], domains = [], minimumCacheTTL = 14400, formats = ['image/webp'], qualities } = images
  const { url, w, q } = query
  let href
  let isAbsolute
  if (!url) return { errorMessage: '"url" parameter is required' }
  if (Array.isArray(url)) return { errorMessage: '"url" parameter cannot be an array' }
  if (url.length > 3072) return { errorMessage: '"url" parameter is too long' }
  if (url.startsWith('//')) return { errorMessage: '"url" parameter cannot be a protocol-relative URL (//)' }
  if (url.startsWith('/')) {
    href = url
    isAbsolute = false
    let pathname = ''
    try {
      pathname = decodeURIComponent(new URL(url, 'http://n').pathname)
    } catch {
      // Next's decodeURIComponent throws here: a 500, as below
      throw new Error(`malformed url parameter ${JSON.stringify(url)}`)
    }
    if (/\/_next\/image($|\/)/.test(pathname)) return { errorMessage: '"url" parameter cannot be recursive' }
    if (!hasLocalMatch(patterns.local, url)) return { errorMessage: '"url" parameter is not allowed' }
  } else {
    let parsed
    try {
      parsed = new URL(url)
      href = parsed.toString()
      isAbsolute = true
    } catch {
      return { errorMessage: '"url" parameter is invalid' }
    }
    if (!['http:', 'https:'].includes(parsed.protocol)) return { errorMessage: '"url" parameter is invalid' }
    if (!hasRemoteMatch(domains, patterns.remote, parsed)) return { errorMessage: '"url" parameter is not allowed' }
  }
  if (!w) return { errorMessage: '"w" parameter (width) is required' }
  if (Array.isArray(w)) return { errorMessage: '"w" parameter (width) cannot be an array' }
  if (!/^[0-9]+$/.test(w)) return { errorMessage: '"w" parameter (width) must be an integer greater than 0' }
  if (!q) return { errorMessage: '"q" parameter (quality) is required' }
  if (Array.isArray(q)) return { errorMessage: '"q" parameter (quality) cannot be an array' }
  if (!/^[0-9]+$/.test(q)) return { errorMessage: '"q" parameter (quality) must be an integer between 1 and 100' }
  const width = parseInt(w, 10)
  if (width <= 0 || Number.isNaN(width)) return { errorMessage: '"w" parameter (width) must be an integer greater than 0' }
  const sizes = [...(deviceSizes || []), ...(imageSizes || [])]
  if (!sizes.includes(width)) return { errorMessage: `"w" parameter (width) of ${width} is not allowed` }
  const quality = parseInt(q, 10)
  if (Number.isNaN(quality) || quality < 1 || quality > 100) return { errorMessage: '"q" parameter (quality) must be an integer between 1 and 100' }
  if (qualities && !qualities.includes(quality)) return { errorMessage: `"q" parameter (quality) of ${q} is not allowed` }
  const mimeType = negotiate(formats || [], accept)
  const isStatic = url.startsWith(`${basePath}/_next/static/media`) || url.startsWith(`${basePath}/_next/static/immutable/media`)
  return { href, isAbsolute, isStatic, width, quality, mimeType, minimumCacheTTL }
}

// --- upstream -------------------------------------------------------------------------------

const hash = (items) => {
  const h = crypto.createHash('sha256')
  for (const item of items) h.update(typeof item === 'number' ? String(item) : item)
  return h.digest('base64url')
}
const extractEtag = (etag, buffer) => (etag ? Buffer.from(etag).toString('base64url') : hash([buffer]))

function getMaxAge(cacheControl) {
  const map = new Map()
  for (const d of String(cacheControl || '').split(',')) {
    const [k, v] = d.trim().split('=', 2)
    map.set(k.toLowerCase(), v ? v.toLowerCase() : v)
  }
  let age = map.get('s-maxage') || map.get('max-age') || ''
  if (age.startsWith('"') && age.endsWith('"')) age = age.slice(1, -1)
  const n = parseInt(age, 10)
  return Number.isNaN(n) ? 0 : n
}

// Every range ipaddr.js names other than `unicast` (what Next's isPrivateIp refuses).
const PRIVATE = new net.BlockList()
for (const [net4, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4], ['255.255.255.255', 32],
]) PRIVATE.addSubnet(net4, bits, 'ipv4')
for (const [net6, bits] of [
  ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['100::', 64], ['2001::', 23], ['2001:db8::', 32],
  ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
]) PRIVATE.addSubnet(net6, bits, 'ipv6')

function isPrivateIp(ip) {
  const bare = ip.replace(/^\[|\]$/g, '')
  const family = net.isIP(bare)
  if (!family) return false
  // BlockList matches IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) against the IPv4 ranges,
  // as ipaddr.js converts them before naming their range.
  return PRIVATE.check(bare, family === 4 ? 'ipv4' : 'ipv6')
}

function decodeBody(res) {
  const enc = res.headers['content-encoding']
  if (!enc) return res
  const codings = enc.toLowerCase().split(',')
  if (codings.length > 5) throw new ImageError(400, '"url" parameter is valid but upstream response is invalid')
  let stream = res
  for (let i = codings.length - 1; i >= 0; i--) {
    const c = codings[i].trim()
    const opts = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH }
    let next
    if (c === 'gzip' || c === 'x-gzip') next = zlib.createGunzip(opts)
    else if (c === 'deflate') next = zlib.createInflate(opts)
    else if (c === 'br') next = zlib.createBrotliDecompress({ flush: zlib.constants.BROTLI_OPERATION_FLUSH, finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH })
    else return res
    stream = stream.pipe(next)
  }
  return stream
}

/**
 * `fetchExternalImage`: the host's addresses are resolved once, refused when any is private
 * (unless `dangerouslyAllowLocalIP`), and the connection is pinned to them so a second DNS answer
 * cannot point elsewhere. Redirects are followed up to `maximumRedirects`, each hop checked again.
 */
async function fetchExternal(href, images, redirectsLeft) {
  const url = new URL(href)
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`redirect to unsupported protocol ${url.protocol}`)
  const hostname = url.hostname.replace(/^\[|\]$/g, '')
  let lookup
  if (!images.dangerouslyAllowLocalIP) {
    const family = net.isIP(hostname)
    const addresses = family ? [{ address: hostname, family }] : await dns.promises.lookup(hostname, { all: true, hints: dns.ADDRCONFIG })
    if (addresses.some((a) => isPrivateIp(a.address))) throw new ImageError(400, '"url" parameter is not allowed')
    if (!family) {
      lookup = (_host, options, cb) => {
        const fam = typeof options.family === 'number' ? options.family : 0
        const list = fam ? addresses.filter((a) => a.family === fam) : addresses
        if (!list.length) return cb(Object.assign(new Error(`no IPv${fam} address for ${hostname}`), { code: 'ENODATA' }), [])
        if (options.all) cb(null, list)
        else cb(null, list[0].address, list[0].family)
      }
    }
  }
  const signal = AbortSignal.timeout(FETCH_TIMEOUT_MS)
  const isHttps = url.protocol === 'https:'
  const timedOut = () => new ImageError(504, '"url" parameter is valid but upstream response timed out')
  let res
  try {
    res = await new Promise((resolve, reject) => {
      const rq = (isHttps ? https : http).request(url, {
        headers: { accept: '*/*', 'accept-language': '*', 'sec-fetch-mode': 'cors', 'user-agent': 'node', 'accept-encoding': isHttps ? 'br, gzip, deflate' : 'gzip, deflate' },
        lookup,
        signal,
      }, resolve)
      rq.on('error', reject)
      rq.end()
    })
  } catch (err) {
    if (signal.aborted) throw timedOut()
    throw err
  }
  const status = res.statusCode
  const location = res.headers.location
  if ([301, 302, 303, 307, 308].includes(status) && location && URL.canParse(location, href)) {
    res.destroy()
    if (redirectsLeft === 0) throw new ImageError(508, '"url" parameter is valid but upstream response is invalid')
    return fetchExternal(new URL(location, href).href, images, redirectsLeft - 1)
  }
  if (status < 200 || status > 299) {
    res.destroy()
    throw new ImageError(status, '"url" parameter is valid but upstream response is invalid')
  }
  const limit = images.maximumResponseBody ?? DEFAULTS.maximumResponseBody
  const chunks = []
  let size = 0
  try {
    for await (const chunk of decodeBody(res)) {
      size += chunk.length
      if (size > limit) throw new ImageError(413, '"url" parameter is valid but upstream response is invalid')
      chunks.push(chunk)
    }
  } catch (err) {
    res.destroy()
    if (signal.aborted) throw timedOut()
    throw err
  }
  if (!size) throw new ImageError(400, '"url" parameter is valid but upstream response is invalid')
  const buffer = Buffer.concat(chunks)
  return { buffer, cacheControl: res.headers['cache-control'], etag: extractEtag(res.headers.etag, buffer) }
}

// --- responses --------------------------------------------------------------------------------

/** `content-disposition`'s formatting of `type; filename=…` (non-ASCII names get `filename*`). */
function contentDisposition(filename, type = 'attachment') {
  const quote = (s) => `"${s.replace(/[\\"]/g, '\\$&')}"`
  if (/^[\x20-\x7e]*$/.test(filename)) return `${type}; filename=${quote(filename)}`
  const fallback = filename.replace(/[^\x20-\x7e]/g, '?')
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  return `${type}; filename=${quote(fallback)}; filename*=UTF-8''${encoded}`
}

function fileNameFor(url, contentType) {
  const name = url.split('?', 1)[0].split('/').pop()
  if (!contentType || !name) return 'image.bin'
  return `${name.split('.', 1)[0]}.${EXTENSIONS[contentType]}`
}

/** The `fresh` module's If-None-Match check. */
function fresh(req, etag) {
  const inm = req.headers['if-none-match']
  if (!inm) return false
  if (/(?:^|,)\s*no-cache\s*(?:,|$)/.test(String(req.headers['cache-control'] || ''))) return false
  if (inm.trim() === '*') return true
  const strip = (t) => t.trim().replace(/^W\//, '')
  return String(inm).split(',').some((t) => strip(t) === strip(etag))
}

/**
 * The disk cache's size limit (`images.maximumDiskCacheSize`), as Next's `getOrInitDiskLRU`: a
 * least-recently-used list of the entries' body sizes; a write that takes the total over the
 * limit evicts the least recently used entries (their files are deleted); an image larger than
 * the limit is not written. Without a limit it is half the free space of the cache's disk. The
 * entries already on disk are counted at the first use, oldest expiry first, as Next replays them.
 * Each process keeps its own list (as each `next start` does).
 */
function createDiskLru(store, maxBytes, { log, onEvict }) {
  const sizes = new Map() // key -> bytes, least recently used first
  let total = 0
  let limit = maxBytes
  let ready = null

  function init() {
    ready ||= (async () => {
      if (limit === undefined) {
        await fs.promises.mkdir(store.dir, { recursive: true })
        const { bavail, bsize } = await fs.promises.statfs(store.dir)
        limit = Math.floor((bavail * bsize) / 2)
      }
      const entries = (await store.list()).filter((e) => e.size > 0).sort((a, b) => (a.entry.expireAt || 0) - (b.entry.expireAt || 0))
      for (const e of entries) add(e.key, e.size)
    })()
    return ready
  }

  /** Counts `key` as the most recently used; evicts the least recently used beyond the limit. */
  function add(key, size) {
    if (size > limit) return false
    if (sizes.has(key)) {
      total -= sizes.get(key)
      sizes.delete(key)
    }
    sizes.set(key, size)
    total += size
    for (const [k, v] of sizes) {
      if (total <= limit) break
      if (k === key) continue
      sizes.delete(k)
      total -= v
      onEvict(k)
      store.delete(k).catch((err) => log({ level: 'error', msg: 'image cache eviction failed', error: String(err) }))
    }
    return true
  }

  return {
    async touch(key) {
      await init()
      const size = sizes.get(key)
      if (size !== undefined) {
        sizes.delete(key)
        sizes.set(key, size)
      }
    },
    /** Whether an entry of `size` bytes may be written (it then counts as the most recent). */
    async admit(key, size) {
      await init()
      return add(key, size)
    },
  }
}

/**
 * Creates the `/_next/image` handler of an output.
 * @param {{ manifest: object, outputDir: string, statics: object, cacheDir: string,
 *   log?: (record: object) => void, selfOrigin?: () => string | null }} options
 */
function createImageOptimizer({ manifest, outputDir, statics, cacheDir, log = () => {}, selfOrigin = () => null }) {
  const images = { ...DEFAULTS, ...(manifest.config.images || {}) }
  const basePath = manifest.config.basePath || ''
  const patterns = compilePatterns(images)
  const store = createFsCacheStore(path.join(cacheDir, 'images'))
  // `maximumDiskCacheSize: 0` turns the cache off, as in Next (whose optimizer keeps nothing in
  // memory either): every request optimizes again (MISS).
  const cacheEnabled = images.maximumDiskCacheSize !== 0
  const inflight = new Map()
  // Marks this optimizer's own requests for local URLs: one that comes back to `/_next/image`
  // (a rewrite pointing there) is refused instead of recursing.
  const internalToken = crypto.randomBytes(16).toString('hex')
  // Recently used entries in memory (bounded), so a hot image is not read from disk per request;
  // the disk store stays the source that survives restarts.
  const memory = new Map()
  let memoryBytes = 0
  const lru = cacheEnabled
    ? createDiskLru(store, images.maximumDiskCacheSize ?? undefined, {
        log,
        onEvict: (k) => {
          const e = memory.get(k)
          if (e) {
            memory.delete(k)
            memoryBytes -= e.body.length
          }
        },
      })
    : null
  function remember(key, entry) {
    if (!cacheEnabled) return
    const old = memory.get(key)
    if (old) {
      memory.delete(key)
      memoryBytes -= old.body.length
    }
    if (entry.body.length > MEMORY_LIMIT / 8) return
    memory.set(key, entry)
    memoryBytes += entry.body.length
    while (memoryBytes > MEMORY_LIMIT) {
      const [k, e] = memory.entries().next().value
      memory.delete(k)
      memoryBytes -= e.body.length
    }
  }
  let native = null
  // Optimizations share libuv's thread pool (4 threads by default) with file reads: at most
  // half of it decodes and encodes, so a burst of cold images cannot stall static files.
  const maxBusy = Math.max(1, Math.floor(Number(process.env.UV_THREADPOOL_SIZE || 4) / 2))
  let busy = 0
  const waiting = []
  async function withSlot(fn) {
    if (busy >= maxBusy) await new Promise((resolve) => waiting.push(resolve))
    busy++
    try {
      return await fn()
    } finally {
      busy--
      if (waiting.length) waiting.shift()()
    }
  }
  const nativeBinding = () => native || (native = require(path.join(__dirname, '..', 'binding.js')))
  let decoder = null
  const decoderProcess = () => decoder || (decoder = createDecoderProcess({ log }))

  async function fetchLocal(href) {
    const url = new URL(href, 'http://n')
    const pathname = url.pathname
    let decoded
    try {
      decoded = decodeURIComponent(pathname)
    } catch {
      decoded = null
    }
    // Manifest pathnames of files keep the basePath.
    const entry = !url.search && decoded !== null ? statics.byPathname(decoded) || statics.byPathname(pathname) : null
    const limit = images.maximumResponseBody ?? DEFAULTS.maximumResponseBody
    if (entry) {
      // The manifest names the file: the URL never becomes a filesystem path.
      const file = path.join(outputDir, entry.file)
      const st = await fs.promises.stat(file)
      if (st.size > limit) throw new ImageError(413, '"url" parameter is valid but internal response is invalid')
      if (!st.size) throw new ImageError(400, '"url" parameter is valid but internal response is invalid')
      const buffer = await fs.promises.readFile(file)
      const immutable = decoded.startsWith(`${basePath}/_next/static/`)
      return { buffer, cacheControl: immutable ? 'public, max-age=31536000, immutable' : 'public, max-age=0', etag: extractEtag(null, buffer) }
    }
    const origin = selfOrigin()
    if (!origin) throw new ImageError(404, '"url" parameter is valid but internal response is invalid')
    // Not a file of the output (a route handler drawing an image…): ask this server, as Next
    // runs the internal request through its own router.
    const res = await fetch(`${origin}${href}`, {
      headers: { [INTERNAL_HEADER]: internalToken },
      redirect: 'manual',
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    }).catch(() => null)
    if (!res) throw new ImageError(500, '"url" parameter is valid but upstream response is invalid')
    if (res.status < 200 || res.status > 299) {
      await res.body?.cancel()
      throw new ImageError(res.status, '"url" parameter is valid but internal response is invalid')
    }
    const buffer = Buffer.from(await res.arrayBuffer())
    if (buffer.length > limit) throw new ImageError(413, '"url" parameter is valid but internal response is invalid')
    if (!buffer.length) throw new ImageError(400, '"url" parameter is valid but internal response is invalid')
    return { buffer, cacheControl: res.headers.get('cache-control'), etag: extractEtag(res.headers.get('etag'), buffer) }
  }

  /** `imageOptimizerTransform`: passthrough rules, then the Rust optimizer; on failure the original. */
  async function transform(upstream, params) {
    const maxAge = Math.max(images.minimumCacheTTL, getMaxAge(upstream.cacheControl))
    const { contentType: upstreamType, animated } = nativeBinding().sniffImage(upstream.buffer)
    if (!upstreamType || !upstreamType.startsWith('image/')) throw new ImageError(400, "The requested resource isn't a valid image.")
    if (upstreamType.startsWith('image/svg') && !images.dangerouslyAllowSVG) {
      throw new ImageError(400, '"url" parameter is valid but image type is not allowed')
    }
    const passthrough = { buffer: upstream.buffer, contentType: upstreamType, maxAge, etag: upstream.etag, upstreamEtag: upstream.etag }
    if ((ANIMATABLE.includes(upstreamType) && animated) || BYPASS.includes(upstreamType)) return passthrough
    let contentType = params.mimeType
    if (!contentType) contentType = upstreamType === 'image/webp' || upstreamType === 'image/avif' ? 'image/jpeg' : upstreamType
    try {
      // AVIF sources decode in a child process (`image-decoder.js`: their decoder can abort).
      const optimizer = upstreamType === 'image/avif' ? decoderProcess().optimize : nativeBinding().optimizeImage
      const buffer = await withSlot(() => optimizer(upstream.buffer, params.width, params.quality, contentType, images.imgOptMaxInputPixels))
      return { buffer, contentType, maxAge, etag: hash([buffer]), upstreamEtag: upstream.etag }
    } catch (error) {
      log({ level: 'warn', msg: 'image not optimized, serving the original', url: params.href, error: String(error && error.message) })
      return { ...passthrough, maxAge: images.minimumCacheTTL }
    }
  }

  async function produce(key, params) {
    const upstream = params.isAbsolute ? await fetchExternal(params.href, images, images.maximumRedirects ?? 3) : await fetchLocal(params.href)
    const out = await transform(upstream, params)
    const entry = {
      body: out.buffer,
      contentType: out.contentType,
      etag: out.etag,
      upstreamEtag: out.upstreamEtag,
      maxAge: out.maxAge,
      createdAt: Date.now(),
      expireAt: Math.max(out.maxAge, images.minimumCacheTTL) * 1000 + Date.now(),
    }
    if (!cacheEnabled) return entry
    try {
      if (await lru.admit(key, entry.body.length)) {
        remember(key, entry)
        await store.set(key, entry)
      } else {
        log({ level: 'error', msg: 'image cache write failed', error: `image of size ${entry.body.length} exceeds images.maximumDiskCacheSize` })
      }
    } catch (err) {
      log({ level: 'error', msg: 'image cache write failed', error: String(err) })
    }
    return entry
  }

  function regenerate(key, params) {
    let p = inflight.get(key)
    if (!p) {
      p = produce(key, params).finally(() => inflight.delete(key))
      inflight.set(key, p)
    }
    return p
  }

  function send(req, res, params, entry, state, ctx) {
    res.setHeader('vary', 'Accept')
    res.setHeader('cache-control', params.isStatic ? 'public, max-age=315360000, immutable' : `public, max-age=${entry.maxAge || 0}, must-revalidate`)
    if (entry.etag) res.setHeader('etag', entry.etag)
    if (fresh(req, entry.etag)) {
      res.statusCode = 304
      return res.end()
    }
    res.setHeader('content-type', entry.contentType)
    res.setHeader('content-disposition', contentDisposition(fileNameFor(params.href, entry.contentType), images.contentDispositionType))
    res.setHeader('content-security-policy', images.contentSecurityPolicy)
    res.setHeader('x-nextjs-cache', state)
    res.setHeader('content-length', entry.body.length)
    if (ctx && ctx.meta) ctx.meta.cache = state
    res.statusCode = 200
    res.end(req.method === 'HEAD' ? undefined : entry.body)
  }

  function fail(res, status, message) {
    res.statusCode = status
    res.end(message)
  }

  /**
   * Answers a `/_next/image` request. `render404` is called when the optimizer is off
   * (`unoptimized` or a custom loader), as `next start` answers then.
   */
  async function handle(req, res, { query, render404, ctx }) {
    if (images.loader !== 'default' || images.unoptimized) return render404()
    if (req.headers[INTERNAL_HEADER] === internalToken) return fail(res, 508, '"url" parameter cannot be recursive')
    let params
    try {
      params = validateParams(query, req.headers.accept, images, patterns, basePath)
    } catch (err) {
      // A malformed Accept or url: Next's validation throws, and `next start` answers a plain
      // 500 (not its 500 page).
      log({ level: 'error', msg: 'image request failed', error: String(err && err.message) })
      return fail(res, 500, 'Internal Server Error')
    }
    if (params.errorMessage) return fail(res, 400, params.errorMessage)
    const key = hash([CACHE_VERSION, params.href, params.width, params.quality, params.mimeType])
    try {
      let cached = cacheEnabled ? memory.get(key) : null
      if (cached) remember(key, cached)
      else if (cacheEnabled) {
        cached = await store.get(key).catch(() => null)
        if (cached && cached.body && cached.body.length) remember(key, cached)
      }
      if (cached) await lru.touch(key).catch(() => {})
      if (cached && cached.body && cached.body.length) {
        if (Date.now() <= cached.expireAt) return send(req, res, params, cached, 'HIT', ctx)
        regenerate(key, params).catch((err) => log({ level: 'error', msg: 'image revalidation failed', url: params.href, error: String(err && err.message) }))
        return send(req, res, params, cached, 'STALE', ctx)
      }
      const entry = await regenerate(key, params)
      return send(req, res, params, entry, 'MISS', ctx)
    } catch (err) {
      if (err instanceof ImageError) return fail(res, err.statusCode, err.message)
      log({ level: 'error', msg: 'image request failed', url: params.href, error: String((err && err.stack) || err) })
      return fail(res, 500, 'Internal Server Error')
    }
  }

  const route = `${basePath}/_next/image`
  // With `trailingSlash`, `<Image>` asks for `/_next/image/` (Next drops the slash to match).
  return { handle, matches: (pathname) => pathname === route || pathname === `${route}/` }
}

module.exports = { createImageOptimizer, globMatcher, isPrivateIp, negotiate, contentDisposition, TYPES }
