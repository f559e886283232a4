'use strict'

// Partial prerendering (`cacheComponents`): a prerender whose cached entry carries a postponed
// state is answered with its static shell at once, and the same response goes on with the
// dynamic holes the page function renders when resumed from that state (`requestMeta.postponed`,
// minimal mode). Regenerations capture the new shell and postponed state through
// `requestMeta.onCacheEntryV2`, so a regenerated entry resumes like a build-time seed.

const NO_STORE = 'private, no-cache, no-store, max-age=0, must-revalidate'

/** Response headers Next owns on a resumed response; the handler's copies are not used. */

/**
 * The response the page function resumes into. The shell already sent the status and headers,
 * so the function's head goes nowhere while its body is appended to the real response. Next
 * gives up on a response whose headers were sent (`isResSent`), hence `headersSent` stays false.
 */
function resumeResponse(res) {
  const headers = new Map()
  const inner = Object.create(res)
  const own = {
    setHeader(name, value) {
      headers.set(String(name).toLowerCase(), value)
      return inner
    },
    appendHeader(name, value) {
      const k = String(name).toLowerCase()
      headers.set(k, headers.has(k) ? [].concat(headers.get(k), value) : value)
      return inner
    },
    removeHeader(name) {
      headers.delete(String(name).toLowerCase())
    },
    getHeader: (name) => headers.get(String(name).toLowerCase()),
    getHeaders: () => Object.fromEntries(headers),
    getHeaderNames: () => [...headers.keys()],
    hasHeader: (name) => headers.has(String(name).toLowerCase()),
    writeHead: () => inner,
    flushHeaders() {},
    write: (...args) => res.write(...args),
    end(...args) {
      res.end(...args)
      return inner
    },
    destroy(err) {
      res.destroy(err)
      return inner
    },
    on(event, fn) {
      res.on(event, fn)
      return inner
    },
    once(event, fn) {
      res.once(event, fn)
      return inner
    },
    off(event, fn) {
      res.off(event, fn)
      return inner
    },
    removeListener(event, fn) {
      res.removeListener(event, fn)
      return inner
    },
  }
  for (const [k, v] of Object.entries(own)) Object.defineProperty(inner, k, { value: v, writable: true, configurable: true })
  for (const k of ['headersSent', 'finished']) Object.defineProperty(inner, k, { get: () => res.writableEnded, configurable: true })
  let status = res.statusCode
  Object.defineProperty(inner, 'statusCode', { get: () => status, set: (v) => {
      status = v
    }, configurable: true })
  return inner
}

/**
 * PPR helpers over the manifest's prerenders.
 * @param {object} manifest the parsed manifest
 * @param {ReturnType<typeof import('./prerender').createPrerenders>} prerenders
 */
function createPpr(manifest, prerenders) {
  const basePath = manifest.config.basePath || ''

  /** Whether a prerender belongs to a partially prerendered route. */
  function isPartial(p) {
    return Boolean(p) && prerenders.cacheConfig(p).renderingMode === 'PARTIALLY_STATIC'
  }

  /** The HTML prerender an `.rsc` prerender is the twin of (`/index.rsc` -> `/`). */
  function htmlTwin(p) {
    if (!p.pathname.endsWith('.rsc')) return p
    let html = p.pathname.slice(0, -'.rsc'.length)
    if (html === `${basePath}/index`) html = basePath || '/'
    return prerenders.byPathname(html) || null
  }

  /** The postponed state of a build-time seed, or undefined for a complete (fully static) page. */
  function seedPostponed(p) {
    const twin = p && htmlTwin(p)
    return (twin && twin.seed && twin.seed.postponedState) || undefined
  }

  /**
   * Sends a cached shell and resumes the page function into the same response.
   * `invoke(res, requestMeta)` runs the page function with the given response.
   */
  async function sendShellAndResume(req, res, entry, shell, { poweredBy, invoke, log }) {
    res.statusCode = entry.status || 200
    for (const [k, v] of Object.entries(entry.headers || {})) {
      if (['x-next-cache-tags', 'content-length', 'content-encoding', 'transfer-encoding', 'cache-control', 'etag'].includes(k)) continue
      res.setHeader(k, v)
    }
    // A resumed response carries request-specific content: never cached downstream.
    res.setHeader('cache-control', NO_STORE)
    res.setHeader('x-nextjs-postponed', '1')
    if (poweredBy) res.setHeader('x-powered-by', 'Next.js')
    if (req.method === 'HEAD') return res.end()
    res.write(shell)
    try {
      await invoke(resumeResponse(res), { postponed: entry.postponed })
    } catch (err) {
      log({ level: 'error', msg: 'resume failed', path: req.url, error: String((err && err.stack) || err) })
      if (!res.writableEnded) res.end()
    }
  }

  /**
   * An `onCacheEntryV2` that keeps what a (re)generation produced for a PPR page: the shell and
   * the postponed state of an APP_PAGE entry. The response itself stays Next's (returns false).
   */
  function captureEntry(into) {
    return async (cacheEntry) => {
      const value = cacheEntry && cacheEntry.value
      if (value && value.kind === 'APP_PAGE') {
        into.postponed = typeof value.postponed === 'string' ? value.postponed : undefined
        into.captured = true
        // The segment prefetch payloads of the new shell (`/_tree`, `/<segment>/__PAGE__`, …).
        if (value.segmentData instanceof Map && value.segmentData.size) into.segments = value.segmentData
        // Both forms of the page, whichever the request asked for: its document (a prerendered
        // one is a string) and its Flight payload.
        const html = value.html && value.html.response
        into.html = typeof html === 'string' ? html : undefined
        into.rscData = Buffer.isBuffer(value.rscData) ? value.rscData : undefined
      }
      return false
    }
  }

  /** The empty 404 `next start` answers a whole-page prefetch of a route with holes with. */
  function sendNoShellPayload(res, cacheControl, shellHeaders, ctx) {
    res.statusCode = 404
    for (const k of ['vary', 'x-nextjs-stale-time']) if (shellHeaders[k] !== undefined) res.setHeader(k, shellHeaders[k])
    // Set by next start, then appended again from the cached entry's headers: two header lines.
    if (shellHeaders['x-nextjs-prerender'] !== undefined) res.setHeader('x-nextjs-prerender', ['1', String(shellHeaders['x-nextjs-prerender'])])
    res.setHeader('cache-control', cacheControl)
    res.setHeader('x-nextjs-cache', 'HIT')
    res.setHeader('x-nextjs-postponed', '1')
    ctx.meta.cache = 'HIT'
    res.end()
  }

  return { isPartial, htmlTwin, seedPostponed, sendShellAndResume, captureEntry, sendNoShellPayload, NO_STORE }
}

module.exports = { createPpr, resumeResponse }
