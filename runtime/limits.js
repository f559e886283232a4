'use strict'

// Request limits, timeouts and the graceful drain of `acme-next start`.
//
// Node's HTTP parser already refuses what cannot be parsed (400), oversized heads (431) and
// unknown methods (400); what it leaves to the application is bounded here:
// - request bodies over `maxBodyBytes` -> 413 (by `content-length` before the function runs, or
//   while a chunked body streams in);
// - heads that arrive too slowly (slowloris) -> 408 after `headersTimeout`, whole requests after
//   `requestTimeout` (Node's own timers, checked every `checkIntervalMs`);
// - a function that has not started its response after `functionTimeoutMs` -> 504 (a response
//   that already started streaming is left alone: long streams are legitimate);
// - shutdown: stop accepting, answer what is in flight with `connection: close`, wait for
//   in-flight requests and waitUntil work at most `drainTimeoutMs`.

const { AsyncLocalStorage } = require('node:async_hooks')

const DEFAULT_LIMITS = Object.freeze({
  maxBodyBytes: 10 * 1024 * 1024,
  maxHeaderBytes: 16 * 1024,
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 300_000,
  functionTimeoutMs: 60_000,
  drainTimeoutMs: 10_000,
})

// flag / environment variable of each limit (cli.js reads both; flags win).
const LIMIT_OPTIONS = Object.freeze({
  maxBodyBytes: { flag: '--max-body-bytes', env: 'ACME_MAX_BODY_BYTES' },
  maxHeaderBytes: { flag: '--max-header-bytes', env: 'ACME_MAX_HEADER_BYTES' },
  headersTimeoutMs: { flag: '--headers-timeout', env: 'ACME_HEADERS_TIMEOUT_MS' },
  requestTimeoutMs: { flag: '--request-timeout', env: 'ACME_REQUEST_TIMEOUT_MS' },
  functionTimeoutMs: { flag: '--function-timeout', env: 'ACME_FUNCTION_TIMEOUT_MS' },
  drainTimeoutMs: { flag: '--drain-timeout', env: 'ACME_DRAIN_TIMEOUT_MS' },
})

/**
 * Fills in defaults and checks every limit (a non-negative integer; 0 disables the function
 * timeout and the body limit).
 * @param {Partial<typeof DEFAULT_LIMITS>} [given]
 * @returns {typeof DEFAULT_LIMITS}
 */
function resolveLimits(given = {}) {
  const out = { ...DEFAULT_LIMITS }
  for (const [key, value] of Object.entries(given || {})) {
    if (value === undefined) continue
    if (!(key in DEFAULT_LIMITS)) throw new Error(`unknown limit ${key}`)
    const n = typeof value === 'number' ? value : /^\d+$/.test(String(value)) ? Number(value) : NaN
    if (!Number.isSafeInteger(n) || n < 0) {
      const { flag, env } = LIMIT_OPTIONS[key]
      throw new Error(`${flag} (${env}) must be a non-negative integer, got ${JSON.stringify(value)}`)
    }
    out[key] = n
  }
  if (out.maxHeaderBytes < 1024) throw new Error(`--max-header-bytes must be at least 1024, got ${out.maxHeaderBytes}`)
  return out
}

/** The limits given in the environment (`ACME_*`), as strings for resolveLimits. */
function limitsFromEnv(env = process.env) {
  const out = {}
  for (const [key, { env: name }] of Object.entries(LIMIT_OPTIONS)) if (env[name] !== undefined && env[name] !== '') out[key] = env[name]
  return out
}

/** Options for `http.createServer` that enforce the head limits and the slow-client timeouts. */
function serverOptions(limits) {
  const headersTimeout = limits.headersTimeoutMs
  // Node checks its request timers only every `connectionsCheckingInterval`: keep that well under
  // the shortest timeout so a slow client is cut off close to the configured time.
  const interval = Math.max(100, Math.min(30_000, Math.floor(Math.min(headersTimeout || 30_000, limits.requestTimeoutMs || 30_000) / 4)))
  return {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout,
    // Node requires requestTimeout >= headersTimeout unless it is 0 (off).
    requestTimeout: limits.requestTimeoutMs && Math.max(limits.requestTimeoutMs, headersTimeout),
    connectionsCheckingInterval: interval,
  }
}

/**
 * Answers `status` in place of whatever the function would still write: the platform has
 * answered, so the function's late writes (after its timeout, or after a body it was reading
 * was refused) go nowhere instead of failing with "write after end".
 */
function answerInstead(res, status, text) {
  if (res.headersSent || res.destroyed) return false
  for (const name of res.getHeaderNames()) res.removeHeader(name)
  res.statusCode = status
  res.setHeader('content-type', 'text/plain; charset=utf-8')
  res.setHeader('cache-control', 'private, no-cache, no-store, max-age=0, must-revalidate')
  res.setHeader('connection', 'close')
  res.end(text)
  const ignore = function ignore() {
    const cb = [...arguments].find((a) => typeof a === 'function')
    if (cb) process.nextTick(cb)
    return this
  }
  res.writeHead = ignore
  res.setHeader = ignore
  res.removeHeader = ignore
  res.appendHeader = ignore
  res.write = function write() {
    ignore.apply(this, arguments)
    return false
  }
  res.end = ignore
  res.flushHeaders = () => {}
  return true
}

/**
 * Creates the per-request guard of a server.
 * @param {typeof DEFAULT_LIMITS} limits
 * @param {{ log: (record: object) => void }} options
 */
const FUNCTION_BOUND = Symbol('acme.functionBound')

function createGuard(limits, { log }) {
  let draining = false
  // A count and one shared listener: a Set entry and a closure per request cost more than the
  // static-file path they would guard.
  let inFlight = 0
  const settled = () => inFlight--

  return {
    limits,
    get draining() {
      return draining
    },
    /** Requests being answered right now. */
    get inFlight() {
      return inFlight
    },
    /**
     * Call first for every request. Returns false when the request was already answered (the
     * caller must not route it).
     * @param {import('node:http').IncomingMessage} req
     * @param {import('node:http').ServerResponse} res
     */
    admit(req, res) {
      inFlight++
      res.on('close', settled) // a response emits 'close' exactly once
      // A request that comes in on a kept-alive connection while the server drains is answered,
      // and the connection is closed after it.
      if (draining) res.setHeader('connection', 'close')
      // TRACE reflects the request back (cross-site tracing); nothing here serves it.
      if (req.method === 'TRACE') {
        answerInstead(res, 405, 'Method Not Allowed')
        return false
      }

      const max = limits.maxBodyBytes
      // A request without content-length or transfer-encoding has no body (RFC 9112 6.3).
      const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined
      if (max > 0 && hasBody) {
        const declared = req.headers['content-length']
        if (declared !== undefined && Number(declared) > max) {
          answerInstead(res, 413, 'Payload Too Large')
          // the body is not read: the connection cannot be reused
          res.once('finish', () => req.socket && req.socket.destroySoon())
          return false
        }
        // A chunked body (or one that lies about its length) is counted as the parser hands it
        // over, whether or not anybody reads it, without consuming it.
        let seen = 0
        const push = req.push
        req.push = function countedPush(chunk, encoding) {
          if (chunk) {
            seen += chunk.length
            if (seen > max) {
              req.push = push
              answerInstead(res, 413, 'Payload Too Large')
              const err = Object.assign(new Error(`request body over ${max} bytes`), { code: 'ACME_BODY_TOO_LARGE', status: 413 })
              process.nextTick(() => req.destroy(err))
              return false
            }
          }
          return push.call(this, chunk, encoding)
        }
        // the error the destroyed request emits must not become an uncaught exception
        req.on('error', () => {})
      }

      return true
    },
    /**
     * Bounds the start of the response once user code (a function or middleware) is about to
     * run: 504 when no head is out after `limits.functionTimeoutMs`. Armed here rather than per
     * request, so static files and cached pages pay nothing for it; once per response.
     * @param {import('node:http').IncomingMessage} req
     * @param {import('node:http').ServerResponse} res
     * @param {{ route?: string }} meta
     */
    boundFunction(req, res, meta) {
      if (res[FUNCTION_BOUND]) return
      res[FUNCTION_BOUND] = true
      const ms = limits.functionTimeoutMs
      if (ms > 0) {
        const timer = setTimeout(() => {
          if (res.headersSent || res.destroyed) return
          log({ level: 'error', msg: 'function timed out', route: meta.route, path: req.url, timeoutMs: ms })
          answerInstead(res, 504, 'Gateway Timeout')
        }, ms)
        timer.unref()
        const clear = () => clearTimeout(timer)
        res.once('finish', clear)
        res.once('close', clear)
        // only the start of the response is bounded: once the head is out, streaming may last
        const writeHead = res.writeHead
        res.writeHead = function guardedWriteHead() {
          clear()
          return writeHead.apply(this, arguments)
        }
      }
    },
    /**
     * Stops accepting connections and waits for in-flight requests and `pending()` work, at
     * most `limits.drainTimeoutMs`. Resolves `{ drained, inFlight, pending }`.
     * @param {import('node:http').Server} server
     * @param {() => Set<Promise<unknown>>} pending the waitUntil promises still running
     * @param {(cb: (err?: Error) => void) => void} closeListener the server's original close
     */
    async drain(server, pending, closeListener) {
      draining = true
      const closed = new Promise((resolve) => closeListener(() => resolve()))
      // Idle kept-alive connections would hold `close` open until their keep-alive timeout.
      server.closeIdleConnections()
      const sweep = setInterval(() => server.closeIdleConnections(), 50)
      let timer
      const timeout = new Promise((resolve) => {
        timer = setTimeout(() => resolve(false), limits.drainTimeoutMs)
      })
      const finished = (async () => {
        await closed
        while (pending().size) await Promise.allSettled([...pending()])
        return true
      })()
      const drained = await Promise.race([finished, timeout])
      clearTimeout(timer)
      clearInterval(sweep)
      const left = { drained, inFlight, pending: pending().size }
      if (!drained) server.closeAllConnections()
      return left
    },
  }
}

/**
 * Where `next start` redirects an origin-form target with a backslash or repeated slashes (308 to
 * the cleaned path: `//evil.example/x` -> `/evil.example/x`, `/a\\..\\b` -> `/b`); null when
 * the target is clean. Dot segments are resolved as a URL parser does, so the location is always
 * a path on this host (never `//host`).
 * @param {string} url the request target
 * @returns {string | null}
 */
function cleanTargetRedirect(url) {
  if (!url || url[0] !== '/') return null
  const q = url.indexOf('?')
  const pathPart = q === -1 ? url : url.slice(0, q)
  if (!/\\|\/\//.test(pathPart)) return null
  const cleaned = pathPart.replace(/\\/g, '/').replace(/\/\/+/g, '/') + (q === -1 ? '' : url.slice(q))
  const parsed = new URL(cleaned, 'http://n')
  return `${parsed.pathname}${parsed.search}`
}

/**
 * Whether a request may reach a static file or a prerendered page: `next start` answers 405 to
 * any other method than GET/HEAD there, except possible server actions (POST with `next-action`
 * or a form content type).
 */
function staticMethodAllowed(req) {
  if (req.method === 'GET' || req.method === 'HEAD') return true
  if (req.method !== 'POST') return false
  const type = String(req.headers['content-type'] || '')
  return req.headers['next-action'] !== undefined || type === 'application/x-www-form-urlencoded' || type.startsWith('multipart/form-data')
}

/** 405 as `next start` sends it for a static or prerendered page (no content type). */
function methodNotAllowed(res) {
  res.statusCode = 405
  res.setHeader('allow', ['GET', 'HEAD'])
  res.end('Method Not Allowed')
}

// The function (route) a request is being answered by, across the function's async work.
const invocation = new AsyncLocalStorage()
const ROUTER_SERVER = Symbol.for('@next/router-server-methods')
let reporter = null

/**
 * Next catches what a route handler or page throws, answers 500 itself and reports the error
 * through the router-server context's `logErrorWithOriginalStack` (`console.error` when there is
 * none, without the route). Registering it turns each such error into one structured log line
 * naming the route. Merged into whatever else the runtime registered there (e.g. `render404`),
 * and re-installed when that object was replaced.
 * @param {(record: object) => void} log
 */
function reportFunctionErrors(log) {
  if (!reporter || reporter.log !== log) {
    const fn = (err) => {
      const at = invocation.getStore()
      log({ level: 'error', msg: 'function failed', route: at && at.route, path: at && at.path, error: String((err && err.stack) || err) })
    }
    reporter = { log, fn }
  }
  const all = globalThis[ROUTER_SERVER] || (globalThis[ROUTER_SERVER] = {})
  const ctx = all['.'] || (all['.'] = {})
  if (ctx.logErrorWithOriginalStack !== reporter.fn) ctx.logErrorWithOriginalStack = reporter.fn
}

/** Runs `fn` as the invocation of `route` (for the error log line). */
function asInvocationOf(route, path, fn) {
  return invocation.run({ route, path }, fn)
}

module.exports = { reportFunctionErrors, asInvocationOf, cleanTargetRedirect, staticMethodAllowed, methodNotAllowed, DEFAULT_LIMITS, LIMIT_OPTIONS, resolveLimits, limitsFromEnv, serverOptions, createGuard, answerInstead }
