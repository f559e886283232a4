'use strict'

// Prerenders and ISR: seeds from `prerender/seeds.pack`, a cache store (filesystem by default),
// stale-while-revalidate after `revalidate`, hard expiry after `expire`, one regeneration per key
// at a time, `allowQuery` cache keys, bypass for `bypassFor` / the bypass token, fallback modes.

const fs = require('node:fs')
const path = require('node:path')
const zlib = require('node:zlib')

/** Next's ETag (`next/dist/server/lib/etag.js`): FNV-1a 52-bit of the payload, base 36, plus its length. */
function generateETag(payload) {
  const str = typeof payload === 'string' ? payload : payload.toString('utf8')
  const len = str.length
  let i = 0
  let t0 = 0
  let v0 = 0x2325
  let t1 = 0
  let v1 = 0x8422
  let t2 = 0
  let v2 = 0x9ce4
  let t3 = 0
  let v3 = 0xcbf2
  while (i < len) {
    v0 ^= str.charCodeAt(i++)
    t0 = v0 * 435
    t1 = v1 * 435
    t2 = v2 * 435
    t3 = v3 * 435
    t2 += v0 << 8
    t3 += v1 << 8
    t1 += t0 >>> 16
    v0 = t0 & 65535
    t2 += t1 >>> 16
    v1 = t1 & 65535
    v3 = (t3 + (t2 >>> 16)) & 65535
    v2 = t2 & 65535
  }
  const hash = (v3 & 15) * 281474976710656 + v2 * 4294967296 + v1 * 65536 + (v0 ^ (v3 >> 4))
  return `"${hash.toString(36)}${len.toString(36)}"`
}

/** `cache-control` for a cacheable entry, as Next writes it. */
function cacheControlFor(revalidate, expire) {
  if (revalidate === false || revalidate === undefined || revalidate === null) return 's-maxage=31536000'
  if (revalidate === 0) return 'private, no-cache, no-store, max-age=0, must-revalidate'
  if (expire && expire > revalidate) return `s-maxage=${revalidate}, stale-while-revalidate=${expire - revalidate}`
  return `s-maxage=${revalidate}`
}

/** Parses `s-maxage` / `stale-while-revalidate` of a rendered response into revalidate/expire seconds. */
function parseCacheControl(value) {
  if (!value) return null
  const v = String(value)
  if (/no-store|private/.test(v)) return null
  const s = /s-maxage=(\d+)/.exec(v)
  if (!s) return null
  const revalidate = Number(s[1])
  const swr = /stale-while-revalidate=(\d+)/.exec(v)
  if (revalidate >= 31536000 && !swr) return { revalidate: false, expire: undefined }
  return { revalidate, expire: swr ? revalidate + Number(swr[1]) : undefined }
}

/** Whether a `has`-style condition list matches the request (any condition matches). */
function matchesAny(conditions, req, cookies, url) {
  for (const c of conditions || []) {
    let value
    if (c.type === 'header') value = req.headers[c.key.toLowerCase()]
    else if (c.type === 'cookie') value = cookies[c.key]
    else if (c.type === 'query') value = url.searchParams.get(c.key) ?? undefined
    else if (c.type === 'host') value = req.headers.host
    if (value === undefined) continue
    if (Array.isArray(value)) value = value.join(',')
    if (c.value === undefined) return true
    try {
      if (new RegExp(`^${c.value}$`).test(value)) return true
    } catch {
      if (c.value === value) return true
    }
  }
  return false
}

/** A query string as Next parses it (`searchParamsToUrlQuery`: repeated keys become arrays). */
function parseQuery(search) {
  const query = {}
  for (const [k, v] of new URLSearchParams(search)) {
    if (!(k in query)) query[k] = v
    else if (Array.isArray(query[k])) query[k].push(v)
    else query[k] = [query[k], v]
  }
  return query
}

/**
 * Parses the `cookie` header as Next does (its compiled `cookie` package): the first value of a
 * name wins, surrounding quotes are dropped, and a value that is not valid percent-encoding
 * stays as it is. A browser sends whatever a site (or anything on its domain) set: one
 * malformed cookie must not fail every request.
 */
function parseCookies(header) {
  const out = Object.create(null)
  for (const part of String(header || '').split(/; */)) {
    const i = part.indexOf('=')
    if (i < 0) continue
    const name = part.slice(0, i).trim()
    if (out[name] !== undefined) continue
    let value = part.slice(i + 1).trim()
    if (value[0] === '"') value = value.slice(1, -1)
    try {
      out[name] = decodeURIComponent(value)
    } catch {
      out[name] = value
    }
  }
  return out
}

/**
 * The prerenders of an output: seeds, cache keys and cache rules.
 * @param {string} outputDir absolute output directory
 * @param {object} manifest the parsed manifest
 */
function createPrerenders(outputDir, manifest) {
  const byId = new Map(manifest.prerenders.map((p) => [p.id, p]))
  const byPathname = new Map(manifest.prerenders.map((p) => [p.pathname, p]))
  const packFile = manifest.seedPack && manifest.seedPack.file ? path.join(outputDir, manifest.seedPack.file) : null
  // Seeds are as old as the build: `next start` ages them from the file the build wrote.
  const seedTime = packFile && fs.existsSync(packFile) ? fs.statSync(packFile).mtimeMs : Date.now()
  let fd = null
  const blobCache = new Map()

  function blob(index) {
    let b = blobCache.get(index)
    if (!b) {
      const meta = manifest.seedPack.blobs[index]
      if (fd === null) fd = fs.openSync(packFile, 'r')
      const raw = Buffer.allocUnsafe(meta.length)
      fs.readSync(fd, raw, 0, meta.length, meta.offset)
      b = { raw, encoding: meta.encoding || 'identity', identity: null, etag: null }
      blobCache.set(index, b)
    }
    return b
  }

  return {
    byId: (id) => byId.get(id),
    byPathname: (pathname) => byPathname.get(pathname),
    cacheConfig: (p) => manifest.cacheConfigs[p.cacheConfig] || {},
    /** The seed of a prerender as a cache entry (body in its stored encoding), or null. */
    seedEntry(p) {
      if (!p || !p.seed) return null
      const b = blob(p.seed.blob)
      const headers = { ...(manifest.headerSets[p.seed.headers] || {}) }
      return {
        status: p.seed.status || 200,
        headers,
        body: b.raw,
        encoding: b.encoding,
        createdAt: seedTime,
        revalidate: p.revalidate === undefined ? false : p.revalidate,
        expire: p.expire,
        tags: String(headers['x-next-cache-tags'] || '').split(',').filter(Boolean),
        seed: p.seed.blob,
      }
    },
    /** The identity bytes of an entry (gunzipped when stored gzip; memoized for seeds). */
    identityBody(entry) {
      if (entry.encoding !== 'gzip') return entry.body
      if (entry.seed !== undefined) {
        const b = blob(entry.seed)
        if (!b.identity) b.identity = zlib.gunzipSync(b.raw)
        return b.identity
      }
      return zlib.gunzipSync(entry.body)
    },
    /** Next's ETag of an entry (memoized for seeds). */
    etag(entry, identity) {
      if (entry.seed !== undefined) {
        const b = blob(entry.seed)
        if (!b.etag) b.etag = generateETag(identity())
        return b.etag
      }
      return generateETag(identity())
    },
    /** The cache key: the concrete pathname plus the allowed query keys. */
    cacheKey(p, pathname, url) {
      const cfg = manifest.cacheConfigs[p.cacheConfig] || {}
      const allow = cfg.allowQuery
      const params = [...url.searchParams.entries()]
        .filter(([k]) => !k.startsWith('nxtP') && k !== '_rsc' && (allow === undefined || allow.includes(k)))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      const q = new URLSearchParams(params).toString()
      return q ? `${pathname}?${q}` : pathname
    },
    /** The request must not be served from or stored in the cache (draft mode, server actions, …). */
    bypass(p, req, url) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return true
      const cfg = manifest.cacheConfigs[p.cacheConfig] || {}
      const cookies = parseCookies(req.headers.cookie)
      if (inDraftMode(req, cfg.bypassToken, cookies)) return true
      return matchesAny(cfg.bypassFor, req, cookies, url)
    },
    close() {
      if (fd !== null) fs.closeSync(fd)
      fd = null
    },
  }
}

/**
 * Whether a request is in draft mode for `token` (the build's preview id): it carries the
 * `__prerender_bypass` cookie with it and is not an on-demand revalidation (`x-prerender-revalidate`
 * with the same token), on which Next's `tryGetPreviewData` reads no preview data.
 */
function inDraftMode(req, token, cookies = parseCookies(req.headers.cookie)) {
  return Boolean(token) && cookies.__prerender_bypass === token && req.headers['x-prerender-revalidate'] !== token
}

// Path delimiters, and their escapes, which a decoded key segment keeps escaped.
const DELIMITERS = /[/#?\\]|%(?:2f|23|3f|5c)/gi
// A key segment's escaped delimiters, and the escapes of such escapes (`%252f`), kept as they are
// in a URL of it; anything else is a character of the segment.
const KEPT_ESCAPES = /(%(?:25)?(?:2f|23|3f|5c))/i

/**
 * The cache key's form of a page's pathname: each segment decoded, path delimiters (and their
 * escapes) escaped again, as Next's `decodePathParams` keys its cache and names the build's
 * prerenders (`/blog/café`). A URL can spell a page several ways (`/blog/a,b`, `/blog/a%2Cb`,
 * `/blog/caf%C3%A9`): they are one cache entry, and a browser's spelling finds the build's render.
 * A segment that is no valid escape sequence stays as it is.
 */
function keyPathOf(pathname) {
  if (!pathname.includes('%') && !pathname.includes('\\')) return pathname
  return pathname
    .split('/')
    .map((seg) => {
      try {
        return decodeURIComponent(seg).replace(DELIMITERS, encodeURIComponent)
      } catch {
        return seg
      }
    })
    .join('/')
}

/** A URL path whose key path is `keyPath` (the inverse of `keyPathOf`, for a request to it). */
function urlPathOf(keyPath) {
  return keyPath
    .split('/')
    .map((seg) => seg.split(KEPT_ESCAPES).map((part, i) => (i % 2 ? part : encodeURIComponent(part))).join(''))
    .join('/')
}

module.exports = { createPrerenders, generateETag, cacheControlFor, inDraftMode, parseCacheControl, parseCookies, parseQuery, keyPathOf, urlPathOf }
