'use strict'

// Files served by URL: `_next/static`, public/ files and static pages. The manifest is the
// allow-list: a file is only ever opened through its manifest entry, never from request input.

const fs = require('node:fs')
const path = require('node:path')

const IMMUTABLE = 'public, max-age=31536000, immutable'
const DEFAULT_CACHE_CONTROL = 'public, max-age=0'
const MAX_CACHED_FILE = 64 * 1024
const MAX_CACHED_TOTAL = 32 * 1024 * 1024

/** What app-router responses vary on (the build's `routing.rsc.varyHeader`, Next's setVaryHeader). */
function rscVaryOf(manifest) {
  return (manifest.routing && manifest.routing.rsc && manifest.routing.rsc.varyHeader) || 'rsc, next-router-state-tree, next-router-prefetch, next-router-segment-prefetch'
}

/** Writes `cache-control` as `next start` spells it (`a, b` rather than `a,b`). */
function normalizeCacheControl(value) {
  return String(value)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .join(', ')
}

/** `If-None-Match` matches the ETag (weak comparison, lists and `*` accepted). */
function etagMatches(header, etag) {
  if (!header) return false
  if (header.trim() === '*') return true
  const bare = etag.replace(/^W\//, '')
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare)
}

/** Parses a single `bytes=` range against `size`: `null` (ignore), `'invalid'` (416) or `{ start, end }`. */
function parseRange(header, size) {
  const m = /^bytes=(\d*)-(\d*)$/.exec(String(header).trim())
  if (!m) return null // several ranges or other units: serve the whole file, as `send` does for unknown units
  let start
  let end
  if (m[1] === '' && m[2] === '') return 'invalid'
  if (m[1] === '') {
    const suffix = Number(m[2])
    if (suffix === 0) return 'invalid'
    start = Math.max(0, size - suffix)
    end = size - 1
  } else {
    start = Number(m[1])
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  }
  if (start >= size || start > end) return 'invalid'
  return { start, end }
}

/**
 * Serves manifest static files.
 * @param {string} outputDir absolute output directory
 * @param {object} manifest the parsed manifest
 */
function createStaticFiles(outputDir, manifest) {
  const byFile = new Map()
  const byPathname = new Map()
  for (const entry of manifest.staticFiles) {
    byFile.set(entry.file, entry)
    byPathname.set(entry.pathname, entry)
  }
  // Per file, computed once on first use: size, mtime, ETag, Last-Modified and, for small files
  // (bounded total), the bytes themselves, so a hit is answered without touching the disk.
  const stats = new Map()
  let cachedBytes = 0
  const rscVary = rscVaryOf(manifest)
  // next.config `generateEtags: false`: next start's static files carry none (Last-Modified stays).
  const etags = manifest.config.generateEtags !== false

  function statOf(entry) {
    let st = stats.get(entry.file)
    if (!st) {
      const file = path.join(outputDir, entry.file)
      const s = fs.statSync(file)
      st = {
        size: s.size,
        mtime: s.mtime,
        lastModified: s.mtime.toUTCString(),
        etag: `W/"${s.size.toString(16)}-${s.mtime.getTime().toString(16)}"`,
        body: null,
      }
      if (s.size > 0 && s.size <= MAX_CACHED_FILE && cachedBytes + s.size <= MAX_CACHED_TOTAL) {
        try {
          const body = fs.readFileSync(file)
          // A file replaced between stat and read is served from disk, as before.
          if (body.length === s.size) {
            st.body = body
            cachedBytes += body.length
          }
        } catch {}
      }
      stats.set(entry.file, st)
    }
    return st
  }

  /** Sends the cached bytes of a file or streams it from disk (`range`: `{ start, end }`, inclusive). */
  function sendBody(res, entry, st, range) {
    if (st.body) return res.end(range && (range.start !== 0 || range.end !== st.size - 1) ? st.body.subarray(range.start, range.end + 1) : st.body)
    fs.createReadStream(path.join(outputDir, entry.file), range ? { start: range.start, end: range.end } : undefined)
      .on('error', (e) => res.destroy(e))
      .pipe(res)
  }

  /**
   * Sends one static entry. `headers` are the routing headers (the Router's `onMatch` headers
   * among them); `status` overrides 200 (404/500 pages). `cacheControl` replaces the default
   * `cache-control` (`null`: none, as `next start` sends none for HTML pages it serves from
   * disk); a routed `cache-control` header still wins for a 200.
   * @returns {boolean} false when the entry is not in the manifest
   */
  function send(req, res, entry, { headers = {}, status, cacheControl } = {}) {
    if (!entry) return false
    let st
    try {
      st = statOf(entry)
    } catch {
      return false
    }
    // A prerendered route response (a static metadata route, a static route handler) carries the
    // headers Next recorded for it, and `next start` labels it a cache hit.
    const own = entry.headers
    if (own) {
      for (const k in own) if (k !== 'cache-control') res.setHeader(k, own[k])
      res.setHeader('x-nextjs-cache', 'HIT')
      res.setHeader('vary', rscVary)
    }
    for (const k in headers) res.setHeader(k, headers[k])
    const routed = res.getHeader('cache-control')
    if (cacheControl !== undefined && !(routed && !(status && status !== 200))) {
      if (cacheControl === null) res.removeHeader('cache-control')
      else res.setHeader('cache-control', cacheControl)
    } else if (status && status !== 200) {
      res.setHeader('cache-control', 'private, no-cache, no-store, max-age=0, must-revalidate')
    } else if (routed) {
      res.setHeader('cache-control', normalizeCacheControl(routed))
    } else {
      res.setHeader('cache-control', entry.immutable ? IMMUTABLE : (own && own['cache-control']) || DEFAULT_CACHE_CONTROL)
    }
    res.setHeader('content-type', entry.contentType)
    const method = req.method
    if (status && status !== 200) {
      res.statusCode = status
      res.setHeader('content-length', st.size)
      if (method === 'HEAD') return res.end(), true
      sendBody(res, entry, st, null)
      return true
    }
    res.setHeader('accept-ranges', 'bytes')
    res.setHeader('last-modified', st.lastModified)
    if (etags) res.setHeader('etag', st.etag)
    if (etags && etagMatches(req.headers['if-none-match'], st.etag)) {
      res.statusCode = 304
      res.removeHeader('content-type')
      res.end()
      return true
    }
    let start = 0
    let end = st.size - 1
    const range = req.headers.range && method === 'GET' ? parseRange(req.headers.range, st.size) : null
    if (range === 'invalid') {
      res.statusCode = 416
      res.setHeader('content-range', `bytes */${st.size}`)
      res.end()
      return true
    }
    if (range) {
      start = range.start
      end = range.end
      res.statusCode = 206
      res.setHeader('content-range', `bytes ${start}-${end}/${st.size}`)
    } else {
      res.statusCode = 200
    }
    res.setHeader('content-length', st.size === 0 ? 0 : end - start + 1)
    if (method === 'HEAD' || st.size === 0) return res.end(), true
    sendBody(res, entry, st, range || { start, end })
    return true
  }

  return {
    /** The manifest entry of a file (relative to the output dir), or undefined. */
    byFile: (file) => byFile.get(file),
    /** The manifest entry of a URL pathname (below basePath), or undefined. */
    byPathname: (pathname) => byPathname.get(pathname),
    send,
  }
}

module.exports = { createStaticFiles, normalizeCacheControl, etagMatches, rscVaryOf }
