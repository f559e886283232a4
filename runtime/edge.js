'use strict'

// Runs the edge functions and the edge middleware of an `.acme/output` directory in an
// `edge-runtime` sandbox, the way `next start` runs them (next/dist/server/web/sandbox), minus the
// development-only parts.
//
// One sandbox per function, created on its first call and reused. The sandbox evaluates every
// script the manifest lists for the function (`edge.scripts`, in order: webpack's runtime first,
// the entry module last, as the output writes them), binds its wasm modules,
// then waits for `_ENTRIES[entryKey]` and calls its `handlerExport` — the adapter-API entry of
// Next's edge templates: `handler(request, { waitUntil, signal, requestMeta })`, which returns a
// Response (for middleware, in Next's internal protocol: see `middlewareOutcome`).

const fs = require('node:fs')
const path = require('node:path')
const vm = require('node:vm')
const { AsyncLocalStorage } = require('node:async_hooks')
const { EdgeRuntime } = require('edge-runtime')

const DEFAULT_LOAD_TIMEOUT_MS = 5000

/** Picks some keys of a module, as Next does for the Node built-ins it lets edge code require. */
function pick(mod, keys) {
  const out = {}
  for (const key of keys) if (mod[key] !== undefined) out[key] = mod[key]
  return out
}

/**
 * The Node built-ins (and the parts of them) Next allows in the edge runtime
 * (next/dist/server/web/sandbox/context.js, `NativeModuleMap`). Built once, shared by every sandbox.
 */
const NATIVE_MODULES = new Map([
  ['node:buffer', pick(require('node:buffer'), ['constants', 'kMaxLength', 'kStringMaxLength', 'Buffer', 'SlowBuffer'])],
  [
    'node:events',
    pick(require('node:events'), ['EventEmitter', 'captureRejectionSymbol', 'defaultMaxListeners', 'errorMonitor', 'listenerCount', 'on', 'once']),
  ],
  ['node:async_hooks', pick(require('node:async_hooks'), ['AsyncLocalStorage', 'AsyncResource'])],
  [
    'node:assert',
    pick(require('node:assert'), [
      'AssertionError', 'deepEqual', 'deepStrictEqual', 'doesNotMatch', 'doesNotReject', 'doesNotThrow', 'equal',
      'fail', 'ifError', 'match', 'notDeepEqual', 'notDeepStrictEqual', 'notEqual', 'notStrictEqual', 'ok',
      'rejects', 'strict', 'strictEqual', 'throws',
    ]),
  ],
  ['node:util', pick(require('node:util'), ['_extend', 'callbackify', 'format', 'inherits', 'promisify', 'types'])],
])

/** Globals Next replaces by a function that throws "not supported in the Edge Runtime". */
const EDGE_UNSUPPORTED_NODE_APIS = [
  'clearImmediate', 'setImmediate', 'BroadcastChannel', 'ByteLengthQueuingStrategy', 'CompressionStream',
  'CountQueuingStrategy', 'DecompressionStream', 'DomException', 'MessageChannel', 'MessageEvent', 'MessagePort',
  'ReadableByteStreamController', 'ReadableStreamBYOBRequest', 'ReadableStreamDefaultController',
  'TransformStreamDefaultController', 'WritableStreamDefaultController',
]

/** Response headers `next start` drops from an edge function's response (web/sandbox/sandbox.js). */
const FORBIDDEN_RESPONSE_HEADERS = ['content-length', 'content-encoding', 'transfer-encoding']

/** Statuses whose responses cannot carry a body. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304])

/** Statuses that make a middleware `location` a redirect (`next start`: allowedStatusCodes). */
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])

/** Headers `next start` never copies from a middleware response (server-ipc `ipcForbiddenHeaders`). */
const IPC_FORBIDDEN_HEADERS = new Set([
  'accept-encoding', 'keepalive', 'keep-alive', 'content-encoding', 'transfer-encoding', 'connection', 'expect',
])

/** Where `invoke` leaves the request a middleware response answers, for `middlewareOutcome`. */
const INVOCATION = Symbol('acme.edge.invocation')

/** A Node-realm Error naming the function, keeping the sandbox's error as `cause`. */
function functionError(fn, what, cause) {
  const detail = cause && typeof cause === 'object' && 'message' in cause ? cause.message : String(cause)
  const err = new Error(`edge function "${fn.id}" ${what}: ${detail}`, { cause })
  if (cause && typeof cause === 'object' && typeof cause.stack === 'string') {
    err.stack = `${err.stack}\nCaused by: ${cause.stack}`
  }
  return err
}

function unsupported(name) {
  return new Error(
    `A Node.js API is used (${name}) which is not supported in the Edge Runtime.\n` +
      'Learn more: https://nextjs.org/docs/api-reference/edge-runtime',
  )
}

/**
 * `process` inside the sandbox, as Next builds it: `env`, and for every other key of Node's
 * `process` a getter that yields undefined (values) or a function throwing "not supported" (functions).
 */
function processPolyfill(env) {
  const polyfill = { env }
  const overridden = {}
  for (const key of Object.keys(process)) {
    if (key === 'env') continue
    Object.defineProperty(polyfill, key, {
      get() {
        if (overridden[key] !== undefined) return overridden[key]
        if (typeof process[key] === 'function') {
          return () => {
            throw unsupported(`process.${key}`)
          }
        }
        return undefined
      },
      set(value) {
        overridden[key] = value
      },
      enumerable: false,
    })
  }
  return polyfill
}

/** Turns the chunks of a sandbox body stream into Node-realm bytes. */
const encoder = new TextEncoder()
function toBytes(chunk) {
  if (typeof chunk === 'string') return encoder.encode(chunk)
  if (ArrayBuffer.isView(chunk)) {
    return chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  }
  if (chunk instanceof ArrayBuffer || Object.prototype.toString.call(chunk) === '[object ArrayBuffer]') {
    return new Uint8Array(chunk)
  }
  throw new TypeError(`edge response body chunk is not bytes (${Object.prototype.toString.call(chunk)})`)
}

/**
 * Wraps a sandbox response body: chunks pass through one by one as they are read (nothing is
 * buffered), strings and views become Uint8Arrays of this realm, and `done` runs once when the
 * stream ends, fails or is cancelled.
 */
function passThroughBody(body, done) {
  const reader = body.getReader()
  let finished = false
  const finish = () => {
    if (!finished) {
      finished = true
      done()
    }
  }
  return new ReadableStream(
    {
      async pull(controller) {
        let result
        try {
          result = await reader.read()
        } catch (err) {
          finish()
          controller.error(err)
          return
        }
        if (result.done) {
          finish()
          controller.close()
          return
        }
        try {
          controller.enqueue(toBytes(result.value))
        } catch (err) {
          finish()
          controller.error(err)
          reader.cancel(err).catch(() => {})
        }
      },
      cancel(reason) {
        finish()
        return reader.cancel(reason)
      },
    },
    { highWaterMark: 0 },
  )
}

/**
 * Runs the edge functions (edge route handlers, edge API routes, edge SSR) and the edge
 * middleware of one output directory.
 */
class EdgeFunctions {
  /**
   * @param {string} outputDir the output directory (manifest paths are relative to it)
   * @param {object} manifest the parsed `manifest.json`
   * @param {object} [options]
   * @param {(level: 'debug'|'info'|'warn'|'error', msg: string, fields?: object) => void} [options.log]
   * @param {Record<string, string|undefined>} [options.env] environment visible to edge code below
   *   the function's own `config.env` (default: this process's environment, as `next start` does)
   * @param {number} [options.loadTimeoutMs] how long to wait for `_ENTRIES[entryKey]` (default 5000)
   */
  constructor(outputDir, manifest, options = {}) {
    this.outputDir = path.resolve(outputDir)
    this.manifest = manifest
    this.log = typeof options.log === 'function' ? options.log : () => {}
    this.env = options.env === undefined ? process.env : options.env
    this.loadTimeoutMs = options.loadTimeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS
    /** @type {Map<string, Promise<Sandbox>>} */
    this.sandboxes = new Map()
    this.closed = false
  }

  /**
   * Calls an edge function with a request.
   *
   * @param {object} fn a `manifest.functions[]` entry with `runtime: 'edge'`
   * @param {Request} request a Node `Request` (absolute URL); for middleware, the URL as Next
   *   would give it (`next start` adds the locale prefix and keeps the query)
   * @param {object} [options]
   * @param {(promise: Promise<unknown>) => void} [options.waitUntil] receives the work to finish
   *   after the response (its rejections are already caught and logged)
   * @param {AbortSignal} [options.signal] aborts the request inside the sandbox (so does `request.signal`)
   * @param {object} [options.requestMeta] Next request metadata (set on the request Next sees)
   * @returns {Promise<Response>} a Node `Response` whose body streams from the sandbox
   */
  async invoke(fn, request, options = {}) {
    if (this.closed) throw new Error(`edge function "${fn && fn.id}" cannot run: EdgeFunctions is closed`)
    if (!fn || fn.runtime !== 'edge' || !fn.edge) {
      throw new Error(`function "${fn && fn.id}" is not an edge function`)
    }
    const sandbox = await this.sandbox(fn)
    return sandbox.call(request, options)
  }

  /**
   * The sandbox of a function, created and loaded on first use. A sandbox that failed to load is
   * forgotten, so the next call tries again.
   *
   * @param {object} fn a `manifest.functions[]` entry
   * @returns {Promise<Sandbox>}
   */
  sandbox(fn) {
    let pending = this.sandboxes.get(fn.id)
    if (!pending) {
      const started = performance.now()
      pending = Sandbox.create(this, fn).then(
        (sandbox) => {
          this.log('debug', 'edge sandbox ready', { function: fn.id, ms: Math.round(performance.now() - started) })
          if (this.closed) sandbox.close()
          return sandbox
        },
        (err) => {
          if (this.sandboxes.get(fn.id) === pending) this.sandboxes.delete(fn.id)
          this.log('error', 'edge function failed to load', { function: fn.id, error: err.message })
          throw err
        },
      )
      this.sandboxes.set(fn.id, pending)
    }
    return pending
  }

  /** Stops every sandbox's timers and forgets the sandboxes. Later `invoke` calls reject. */
  close() {
    this.closed = true
    for (const pending of this.sandboxes.values()) pending.then((s) => s.close(), () => {})
    this.sandboxes.clear()
  }
}

/**
 * The adapter-API `handler(request, ctx)` of an entry that exports only `default`: webpack's
 * edge function loader (a pages-router API route on the edge runtime) writes Next's older edge
 * signature, `default({ request: RequestData })` resolving to `{ response, waitUntil }`
 * (next/dist/build/webpack/loaders/next-edge-function-loader.js), which `next start`'s sandbox
 * calls with the request's parts. The adapter's `handlerExport` names `handler` whatever the
 * bundler: such a route answered 500.
 */
function legacyHandler(entry, fn, config) {
  const nextConfig = { basePath: config.basePath || '', i18n: config.i18n || undefined, trailingSlash: Boolean(config.trailingSlash) }
  return async (request, ctx) => {
    const headers = {}
    for (const [key, value] of request.headers) headers[key] = value
    const result = await entry({
      request: {
        url: request.url,
        method: request.method,
        headers,
        nextConfig,
        page: { name: fn.sourcePage || fn.pathname },
        body: request.body || undefined,
        signal: ctx.signal,
      },
    })
    if (result && result.waitUntil) ctx.waitUntil(result.waitUntil)
    return result && result.response
  }
}

/** One function's EdgeRuntime: its context, its loaded entry module, its timers. */
class Sandbox {
  /**
   * @param {EdgeFunctions} owner
   * @param {object} fn
   * @returns {Promise<Sandbox>}
   */
  static async create(owner, fn) {
    const sandbox = new Sandbox(owner, fn)
    try {
      await sandbox.load()
    } catch (err) {
      sandbox.close()
      throw err
    }
    return sandbox
  }

  constructor(owner, fn) {
    this.owner = owner
    this.fn = fn
    this.log = owner.log
    this.timers = new Set()
    this.intervals = new Set()
    this.handler = null
  }

  async load() {
    const { fn, owner } = this
    const edge = fn.edge
    const resolve = (rel) => path.join(owner.outputDir, rel)

    let wasm
    let sources
    try {
      wasm = Object.fromEntries(
        await Promise.all(
          Object.entries(edge.wasm || {}).map(async ([name, file]) => [
            name,
            await WebAssembly.compile(await fs.promises.readFile(resolve(file))),
          ]),
        ),
      )
      sources = await Promise.all(
        (edge.scripts || []).map(async (file) => ({ file: resolve(file), code: await fs.promises.readFile(resolve(file), 'utf8') })),
      )
    } catch (err) {
      throw functionError(fn, 'failed to load', err)
    }

    const env = { ...owner.env, ...(fn.config && fn.config.env), NEXT_RUNTIME: 'edge' }
    try {
      this.runtime = new EdgeRuntime({ extend: (context) => this.extend(context, env, wasm) })
    } catch (err) {
      throw functionError(fn, 'failed to create its sandbox', err)
    }
    const context = this.runtime.context

    for (const { file, code } of sources) {
      try {
        vm.runInContext(code, context, { filename: file })
      } catch (err) {
        throw functionError(fn, `failed to evaluate ${path.relative(owner.outputDir, file)}`, err)
      }
    }

    // Turbopack registers the entry once every chunk it needs is there: a missing chunk means
    // `_ENTRIES[entryKey]` never appears, so poll for it, then wait for the module itself.
    const deadline = Date.now() + owner.loadTimeoutMs
    const timeoutError = () =>
      new Error(
        `edge function "${fn.id}" did not register _ENTRIES["${edge.entryKey}"] within ${owner.loadTimeoutMs} ms` +
          ' (a script of edge.scripts is missing or failed)',
      )
    while (!(context._ENTRIES && edge.entryKey in context._ENTRIES)) {
      if (Date.now() >= deadline) throw timeoutError()
      await new Promise((r) => setTimeout(r, 5))
    }
    let mod
    let timer
    try {
      mod = await Promise.race([
        Promise.resolve(context._ENTRIES[edge.entryKey]),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(timeoutError()), Math.max(0, deadline - Date.now()))
        }),
      ])
    } catch (err) {
      if (err && typeof err.message === 'string' && err.message.startsWith(`edge function "${fn.id}"`)) throw err
      throw functionError(fn, 'failed to load its module', err)
    } finally {
      clearTimeout(timer)
    }
    const handler = mod && mod[edge.handlerExport]
    if (typeof handler === 'function') {
      this.handler = handler
      return
    }
    if (mod && typeof mod.default === 'function') {
      this.handler = legacyHandler(mod.default, fn, owner.manifest.config || {})
      return
    }
    throw new Error(`edge function "${fn.id}": _ENTRIES["${edge.entryKey}"] has no function export "${edge.handlerExport}"`)
  }

  /** Adds to the fresh edge-runtime context what Next's sandbox adds (production behaviour). */
  extend(context, env, wasm) {
    context.process = processPolyfill(env)
    Object.defineProperty(context, 'require', {
      enumerable: false,
      value: (id) => {
        const mod = NATIVE_MODULES.get(id) || NATIVE_MODULES.get(`node:${id}`)
        if (!mod) throw new TypeError(`Native module not found: ${id}`)
        return mod
      },
    })
    context.AsyncLocalStorage = AsyncLocalStorage

    // Webpack builds wrap dynamic code evaluation in these (code generation from strings stays
    // disabled, as in production `next start`).
    context.__next_eval__ = (f) => {
      this.log('warn', 'dynamic code evaluation in the edge runtime', { function: this.fn.id })
      return f()
    }
    context.__next_webassembly_compile__ = (f) => f()
    context.__next_webassembly_instantiate__ = (f) => f()

    // Outgoing fetch: Next's default user-agent. `blob:<name>` is the function's own asset (a
    // next/og font, …), read from the output as Next's sandbox reads it from the dist dir.
    const innerFetch = context.fetch
    const assets = (this.fn.edge && this.fn.edge.assets) || {}
    const outputDir = this.owner.outputDir
    context.fetch = async (input, init = {}) => {
      const url = typeof input === 'string' ? input : input instanceof context.URL || input instanceof URL ? input.href : input && input.url
      if (typeof url === 'string' && url.startsWith('blob:') && Object.hasOwn(assets, url.slice('blob:'.length))) {
        const bytes = await fs.promises.readFile(path.join(outputDir, assets[url.slice('blob:'.length)]))
        return new context.Response(new Uint8Array(bytes))
      }
      const headers = new context.Headers(init.headers ?? (typeof input === 'object' && input && 'headers' in input ? input.headers : undefined))
      if (!headers.has('user-agent')) headers.set('user-agent', 'Next.js Middleware')
      return innerFetch(input, { ...init, headers })
    }

    // `new Request(url, { next: { revalidate } })` keeps `next` (Next's fetch cache reads it).
    const InnerRequest = context.Request
    context.Request = class Request extends InnerRequest {
      constructor(input, init) {
        super(input, init)
        this.next = init == null ? undefined : init.next
      }
    }

    for (const name of EDGE_UNSUPPORTED_NODE_APIS) {
      if (name in context) continue
      Object.defineProperty(context, name, {
        get: () => () => {
          throw unsupported(name)
        },
        enumerable: false,
      })
    }

    // Timers: tracked so `close()` stops them; a throwing callback is logged instead of taking the
    // process down.
    const innerSetTimeout = context.setTimeout
    const innerSetInterval = context.setInterval
    const guard = (cb, kind) => (...args) => {
      try {
        cb(...args)
      } catch (err) {
        this.log('error', `edge ${kind} callback threw`, { function: this.fn.id, error: err && err.message })
      }
    }
    context.setTimeout = (cb, ms, ...args) => {
      if (typeof cb !== 'function') return innerSetTimeout(cb, ms, ...args)
      const id = innerSetTimeout(
        (...a) => {
          this.timers.delete(id)
          guard(cb, 'setTimeout')(...a)
        },
        ms,
        ...args,
      )
      this.timers.add(id)
      return id
    }
    context.setInterval = (cb, ms, ...args) => {
      if (typeof cb !== 'function') return innerSetInterval(cb, ms, ...args)
      const id = innerSetInterval(guard(cb, 'setInterval'), ms, ...args)
      this.intervals.add(id)
      return id
    }
    context.clearTimeout = (id) => {
      this.timers.delete(id)
      clearTimeout(id)
    }
    context.clearInterval = (id) => {
      this.intervals.delete(id)
      clearInterval(id)
    }

    Object.assign(context, wasm)
    return context
  }

  /**
   * Calls the handler: Node Request in, Node Response out.
   *
   * @param {Request} request
   * @param {{ waitUntil?: Function, signal?: AbortSignal, requestMeta?: object }} options
   * @returns {Promise<Response>}
   */
  async call(request, options) {
    const { fn, log } = this
    const context = this.runtime.context

    // Abort: one sandbox AbortController fed by the request's and the caller's signals.
    const controller = new context.AbortController()
    const sources = [request.signal, options.signal].filter(Boolean)
    const onAbort = (event) => {
      if (!controller.signal.aborted) controller.abort(event && event.target ? event.target.reason : undefined)
    }
    for (const s of sources) {
      if (s.aborted) onAbort({ target: s })
      else s.addEventListener('abort', onAbort, { once: true })
    }
    const cleanup = () => {
      for (const s of sources) s.removeEventListener('abort', onAbort)
    }

    let response
    let teeBranch = null
    try {
      const headers = new context.Headers()
      for (const [key, value] of request.headers) headers.append(key, value)
      const method = request.method.toUpperCase()
      const init = { method, headers, signal: controller.signal }
      if (method !== 'GET' && method !== 'HEAD' && request.body) {
        // Middleware gets a tee of the body (`next start`: cloneBodyStream), so that the caller's
        // request stays readable for the function the request goes on to.
        if (fn.kind === 'middleware') {
          teeBranch = request.clone().body
          init.body = teeBranch
        } else {
          init.body = request.body
        }
        init.duplex = 'half'
      }
      const edgeRequest = new context.Request(request.url, init)

      const waitUntil = (promise) => {
        const settled = Promise.resolve(promise).catch((err) => {
          log('error', 'edge function waitUntil rejected', { function: fn.id, error: err && err.message })
        })
        if (typeof options.waitUntil === 'function') options.waitUntil(settled)
      }

      try {
        response = await this.handler(edgeRequest, {
          waitUntil,
          signal: controller.signal,
          requestMeta: options.requestMeta,
        })
      } catch (err) {
        throw functionError(fn, 'threw', err)
      } finally {
        // Middleware is done with the body once it answered: stop teeing what it did not read.
        if (teeBranch && !teeBranch.locked) teeBranch.cancel().catch(() => {})
      }
      if (!response || typeof response.status !== 'number' || !response.headers) {
        throw new Error(`edge function "${fn.id}" did not return a Response`)
      }
    } catch (err) {
      cleanup()
      throw err
    }

    const headers = new Headers()
    for (const [key, value] of response.headers) {
      if (key === 'set-cookie') continue
      headers.append(key, value)
    }
    const cookies = typeof response.headers.getSetCookie === 'function' ? response.headers.getSetCookie() : []
    for (const cookie of cookies) headers.append('set-cookie', cookie)
    for (const name of FORBIDDEN_RESPONSE_HEADERS) headers.delete(name)

    let body = null
    if (response.body && !NULL_BODY_STATUSES.has(response.status)) {
      body = passThroughBody(response.body, cleanup)
    } else {
      if (response.body) response.body.cancel().catch(() => {})
      cleanup()
    }
    let out
    try {
      out = new Response(body, { status: response.status, statusText: response.statusText, headers })
    } catch (err) {
      if (body) body.cancel(err).catch(() => {})
      throw functionError(fn, 'returned an invalid response', err)
    }
    Object.defineProperty(out, INVOCATION, { value: { url: request.url, requestHeaders: request.headers } })
    return out
  }

  close() {
    for (const id of this.timers) clearTimeout(id)
    for (const id of this.intervals) clearInterval(id)
    this.timers.clear()
    this.intervals.clear()
  }
}

/** Next's NextURL names a loopback host (`127.x.x.x`, `[::1]`) `localhost`. */
const LOOPBACK_HOSTNAME = /^(?:127(?:\.(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)){3}|\[::1\]|localhost)$/

/**
 * `location`/`x-middleware-rewrite` relative to the request when same-origin (Next's
 * getRelativeURL), the request's URL taken as middleware saw it: a request to 127.0.0.1 is
 * `localhost` there, so a rewrite built from `request.url` names `localhost` and is same-origin
 * (taken as external, it would be proxied back to this server).
 */
function relativeUrl(value, base) {
  try {
    const seen = new URL(base)
    if (LOOPBACK_HOSTNAME.test(seen.hostname)) seen.hostname = 'localhost'
    const url = new URL(value, seen)
    return url.origin === seen.origin ? url.pathname + url.search + url.hash : url.toString()
  } catch {
    return value
  }
}

/**
 * Reads a middleware Response (Next's internal protocol) the way `next start` does
 * (server/lib/router-utils/resolve-routes.js):
 *
 * - `kind: 'next'`: continue routing with `requestHeaders` (the request headers the rest of the
 *   request must see) and add `responseHeaders` to the final response;
 * - `kind: 'rewrite'`: same, but route `rewrite` (an absolute URL; `external` when its origin
 *   differs from the request's, i.e. proxy it); `responseHeaders` carries
 *   `x-middleware-rewrite` as `next start` sends it;
 * - `kind: 'redirect'`: answer `redirect.status` with `location: redirect.url` (relative when
 *   same-origin, like `next start`) and `responseHeaders`;
 * - `kind: 'response'`: middleware answered; send `response` (status, cleaned headers, body stream).
 *
 * @param {Response} response what `EdgeFunctions#invoke` returned for the middleware
 * @param {object} [request] the request middleware saw; defaults to what `invoke` recorded
 * @param {string} [request.url] its absolute URL
 * @param {Headers} [request.headers] its headers
 * @returns {{ kind: 'next'|'rewrite'|'redirect'|'response', requestHeaders?: Headers,
 *   responseHeaders: Headers, rewrite?: URL, external?: boolean,
 *   redirect?: { url: string, status: number }, response?: Response }}
 */
function middlewareOutcome(response, request = {}) {
  const recorded = response[INVOCATION] || {}
  const url = request.url || recorded.url
  const baseHeaders = request.headers || recorded.requestHeaders

  const single = new Map()
  for (const [key, value] of response.headers) if (key !== 'set-cookie') single.set(key, value)
  const setCookies = response.headers.getSetCookie()

  let requestHeaders = baseHeaders ? new Headers(baseHeaders) : undefined
  const override = single.get('x-middleware-override-headers')
  if (override !== undefined) {
    requestHeaders = new Headers()
    for (const name of override.split(',').map((s) => s.trim()).filter(Boolean)) {
      const value = single.get(`x-middleware-request-${name}`)
      if (value !== undefined) requestHeaders.set(name, value)
      single.delete(`x-middleware-request-${name}`)
    }
    single.delete('x-middleware-override-headers')
  }

  const rewriteValue = single.get('x-middleware-rewrite')
  const location = single.get('location')
  const isNext = single.has('x-middleware-next')
  const responded = rewriteValue === undefined && !isNext && location === undefined

  const responseHeaders = new Headers()
  const forward = (key, value) => {
    responseHeaders.append(key, value)
    if (!requestHeaders) return
    if (key === 'set-cookie') requestHeaders.append(key, value)
    else requestHeaders.set(key, value)
  }
  for (const [key, value] of single) {
    if (IPC_FORBIDDEN_HEADERS.has(key)) continue
    if (['content-length', 'x-middleware-next', 'x-middleware-rewrite', 'x-middleware-redirect', 'x-middleware-refresh'].includes(key)) {
      continue
    }
    if (key === 'x-middleware-set-cookie') {
      // Cookies middleware set for the rest of the request, not for the client.
      if (requestHeaders) requestHeaders.set(key, value)
      continue
    }
    if (key === 'location') continue
    forward(key, value)
  }
  for (const cookie of setCookies) forward('set-cookie', cookie)

  if (responded) {
    const body = NULL_BODY_STATUSES.has(response.status) ? null : response.body
    const out = new Response(body, { status: response.status, statusText: response.statusText, headers: responseHeaders })
    return { kind: 'response', responseHeaders, response: out }
  }

  if (rewriteValue !== undefined) {
    const base = url || rewriteValue
    // Relative when same-origin, then taken against the request's own origin.
    const relative = relativeUrl(rewriteValue, base)
    responseHeaders.set('x-middleware-rewrite', relative)
    const rewrite = new URL(relative, base)
    const external = url ? rewrite.origin !== new URL(url).origin : false
    return { kind: 'rewrite', requestHeaders, responseHeaders, rewrite, external }
  }

  if (location !== undefined) {
    if (REDIRECT_STATUSES.has(response.status)) {
      const target = url ? relativeUrl(location, url) : location
      responseHeaders.set('location', target)
      return { kind: 'redirect', requestHeaders, responseHeaders, redirect: { url: target, status: response.status } }
    }
    // A `location` without a redirect status is an ordinary response.
    responseHeaders.set('location', location)
    const body = NULL_BODY_STATUSES.has(response.status) ? null : response.body
    const out = new Response(body, { status: response.status, statusText: response.statusText, headers: responseHeaders })
    return { kind: 'response', responseHeaders, response: out }
  }

  return { kind: 'next', requestHeaders, responseHeaders }
}

module.exports = { EdgeFunctions, middlewareOutcome }
