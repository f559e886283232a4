'use strict'

// The only file that calls the native Router: if its signature changes, only this file changes.
// Every routing decision comes from the Router; the runtime maps a decision to an action.
//
// Per request the Router gets the URL and one string of the values of the few headers routing
// can read (named once by `headerNames()`, each tagged with its index) and answers one string,
// decoded here field by field when the runtime reads it: crossing napi costs per value
// converted, so converting every header and building a decision object tree would cost more
// than routing itself. The calls go through the
// plain functions of `packedCalls()`: a class method costs more to enter than routing takes.

const path = require('node:path')

let binding
function nativeBinding() {
  if (!binding) binding = require(path.join(__dirname, '..', 'binding.js'))
  return binding
}

/**
 * Converts Node's request headers to the record the Router takes (repeated headers stay arrays).
 * @param {import('node:http').IncomingHttpHeaders} headers
 * @returns {Record<string, string | string[]>}
 */
function headerRecord(headers) {
  const out = {}
  for (const key in headers) {
    if (!Object.hasOwn(headers, key)) continue
    const value = headers[key]
    if (value !== undefined) out[key] = value
  }
  return out
}

/** The kind named by a packed decision's first character (a switch: a keyed load on a table of
 * kinds was a megamorphic lookup per decision). */
function kindOf(code) {
  switch (code) {
    case 0x72: return 'resolved' // r
    case 0x52: return 'redirect' // R
    case 0x78: return 'externalRewrite' // x
    case 0x6d: return 'middleware' // m
    case 0x4d: return 'middlewareResponded' // M
    case 0x73: return 'status' // s
    case 0x6e: return 'notFound' // n
    case 0x62: return 'badRequest' // b
    default: return undefined
  }
}

// Field positions of a packed decision (src/router.rs `pack`).
// Field 1: in a `middleware` decision, the offset of the pass-through decision packed after it.
const F_MIDDLEWARE_URL = 2
const F_RESOLVED = 3
const F_INVOCATION = 4
const F_TARGET_KIND = 5
const F_TARGET_ID = 6
const F_RSC = 7
const F_MATCHED_ROUTE = 8
const F_STATUS = 9
const F_REDIRECT_STATUS = 10
const F_REDIRECT_LOCATION = 11
const F_EXTERNAL = 12
// The query as `application/x-www-form-urlencoded` text (decoded only when `query` is read).
const F_QUERY = 13
// The counts of the header pairs and of the route-match pairs that follow from F_LISTS.
const F_COUNTS = 14
const F_LISTS = 16

/** `{ name: value }` of a query's pairs (decoded as `URLSearchParams` decodes them); repeated
 * names become arrays; `undefined` when it has none. */
function queryObject(text) {
  let out
  for (const [k, v] of new URLSearchParams(text)) addPair((out ??= {}), k, v)
  return out
}

/** Sets `out[k]` to `v`, or adds `v` to the values `k` has (an array from the second on). */
function addPair(out, k, v) {
  const prev = out[k]
  if (prev === undefined) out[k] = v
  else if (Array.isArray(prev)) prev.push(v)
  else out[k] = [prev, v]
}

/** `{ name: value }` of `count` pairs from `start`; repeated names become arrays (when `multi`). */
function pairsObject(f, start, count, multi) {
  if (!count) return undefined
  const out = {}
  for (let i = start; i < start + 2 * count; i += 2) {
    if (multi) addPair(out, f[i], f[i + 1])
    else out[f[i]] = f[i + 1]
  }
  return out
}

/** A routing decision decoded lazily from its packed form; absent fields read as `undefined`. */
class Decision {
  constructor(packed) {
    this._p = packed
    this._f = null
    this.kind = kindOf(packed.charCodeAt(0))
  }

  /** The fields; the separator is the second character (NUL unless a value holds one). */
  _fields() {
    return (this._f ??= this._p.split(this._p[1]))
  }

  _str(i) {
    const v = this._fields()[i]
    return v === '' ? undefined : v
  }

  _num(i) {
    const v = this._fields()[i]
    return v === '' ? undefined : Number(v)
  }

  /** The decision's packed form, from which `restore` rebuilds it (a regeneration request to
   * the server itself carries it, and is not routed again). */
  get packed() {
    return this._p
  }

  /** Only a `middleware` decision has one (`Paused`). */
  get continuation() {
    return undefined
  }

  get middlewareUrl() {
    return this._str(F_MIDDLEWARE_URL)
  }

  get resolvedPathname() {
    return this._str(F_RESOLVED)
  }

  get invocationPathname() {
    return this._str(F_INVOCATION)
  }

  get target() {
    if (this._target === undefined) {
      const kind = this._str(F_TARGET_KIND)
      this._target = kind ? { kind, id: this._fields()[F_TARGET_ID] } : null
    }
    return this._target ?? undefined
  }

  get rscPathname() {
    return this._str(F_RSC)
  }

  get matchedRoute() {
    return this._str(F_MATCHED_ROUTE)
  }

  get status() {
    return this._num(F_STATUS)
  }

  get redirect() {
    if (this._redirect === undefined) {
      const status = this._num(F_REDIRECT_STATUS)
      this._redirect = status === undefined ? null : { location: this._fields()[F_REDIRECT_LOCATION], status }
    }
    return this._redirect ?? undefined
  }

  get externalUrl() {
    return this._str(F_EXTERNAL)
  }

  get query() {
    if (this._query === undefined) {
      const q = this._fields()[F_QUERY]
      this._query = (q ? queryObject(q) : undefined) ?? null
    }
    return this._query ?? undefined
  }

  /** The query as a URL carries it, `?` included (`''` when there is none): what an invocation
   * URL forwards, without decoding the pairs and encoding them again. */
  get search() {
    const q = this._fields()[F_QUERY]
    return q ? `?${q}` : ''
  }

  get headers() {
    if (this._headers === undefined) {
      const f = this._fields()
      this._headers = pairsObject(f, F_LISTS, Number(f[F_COUNTS]), true) ?? null
    }
    return this._headers ?? undefined
  }

  get routeMatches() {
    if (this._routeMatches === undefined) {
      const f = this._fields()
      const start = F_LISTS + 2 * Number(f[F_COUNTS])
      this._routeMatches = pairsObject(f, start, Number(f[F_COUNTS + 1]), false) ?? null
    }
    return this._routeMatches ?? undefined
  }

  /** The decision as a plain object with only the fields that have a value (not the continuation). */
  toJSON() {
    const out = { kind: this.kind }
    for (const k of FIELDS) if (this[k] !== undefined) out[k] = this[k]
    return out
  }
}

const FIELDS = [
  'middlewareUrl', 'resolvedPathname', 'invocationPathname', 'target', 'rscPathname', 'matchedRoute',
  'query', 'status', 'headers', 'redirect', 'externalUrl', 'routeMatches',
]

/**
 * A `middleware` decision. It is its own continuation: it keeps the request as routing read it
 * (the Router keeps nothing between the calls) and the decision for middleware passing the
 * request through unchanged, which the Router packed after this one (field 1 is its offset).
 */
class Paused extends Decision {
  /**
   * `pairs`: `[index, value, …]` of the headers routing read, or `values`: them packed. Either
   * is a snapshot: the runtime may change the request's header object before resuming.
   */
  constructor(packed, calls, url, pairs, values) {
    super(packed)
    this._calls = calls
    this._url = url
    this._pairs = pairs
    // The packed header values (built from `pairs` only if `resume` needs them).
    this._values = values
    this._used = false
  }

  get continuation() {
    return this
  }

  /** The decision routing reaches when middleware passes the request through unchanged. */
  _passthrough() {
    const p = this._p
    // Field 1's digits, read in place (up to the separator, the second character).
    const sep = p.charCodeAt(1)
    let at = 0
    for (let i = 2; i < p.length; i++) {
      const c = p.charCodeAt(i)
      if (c === sep) break
      at = 10 * at + (c - 0x30)
    }
    return new Decision(p.slice(at))
  }
}


/**
 * Compiles the routing table of an output.
 * @param {string} manifestJson the text of `manifest.json`
 * @returns {{ resolve: (req: { method?: string, url: string, headers: object }) => object,
 *   resume: (continuation: object, outcome: object) => object, restore: (packed: string) => object,
 *   pathnames: () => string[],
 *   headerNames: () => string[] }}
 * `headers` are Node's `req.headers` (lower-case names) or `rawHeaders`. `resume` takes the
 * `continuation` of a `middleware` decision (the decision itself), once. When middleware passed
 * the request through unchanged (no redirect, rewrite, response or response headers, and the
 * same values of the headers routing reads), `resume` answers without calling the Router.
 */
function createRouter(manifestJson) {
  const router = new (nativeBinding().Router)(manifestJson)
  const calls = router.packedCalls()
  const names = router.headerNames()
  const n = names.length

  // Per header routing reads: its index, and what precedes its value in the packed form (NUL,
  // then the character U+0021 + its index). A request carries few of these headers, so the
  // loops run over the request's own names and absent headers cost nothing (looking up every
  // wanted name on objects of many shapes was a megamorphic load each).
  const index = Object.create(null)
  const prefix = Object.create(null)
  const prefixAt = names.map((_, i) => `\0${String.fromCharCode(0x21 + i)}`)
  for (let i = 0; i < n; i++) {
    index[names[i]] = i
    prefix[names[i]] = prefixAt[i]
  }

  /** A header's value as routing reads it (a repeated header joined with `, `). */
  const headerText = (v) => (typeof v === 'string' ? v : v.join(', '))

  /** The headers routing reads, packed (repeated headers joined with `, `). */
  function headerValues(headers) {
    if (Array.isArray(headers)) return valuesFromFlat(headers)
    let s = ''
    for (const key in headers) {
      const p = prefix[key]
      if (p === undefined) continue
      const v = headers[key]
      if (v === undefined) continue
      s += p
      s += headerText(v)
    }
    return s
  }

  /** The packed header values of a paused request, built when first needed. */
  function valuesOf(c) {
    if (c._values === undefined) {
      let s = ''
      const p = c._pairs
      for (let k = 0; k < p.length; k += 2) s += prefixAt[p[k]] + p[k + 1]
      c._values = s
    }
    return c._values
  }

  /**
   * Whether `after` (middleware's request headers) holds the same headers routing reads as the
   * request had, in any order: then routing reads exactly what it read before middleware.
   */
  function sameRoutingHeaders(after, c) {
    if (!after) return true
    const before = c._pairs
    if (Array.isArray(after) || before === undefined) return headerValues(after) === valuesOf(c)
    let n = 0
    for (const key in after) {
      const i = index[key]
      if (i === undefined) continue
      const v = after[key]
      if (v === undefined) continue
      let k = 0
      while (k < before.length && before[k] !== i) k += 2
      if (k === before.length || headerText(v) !== before[k + 1]) return false
      n++
    }
    return 2 * n === before.length
  }

  /** `[index, value, …]` of the first `count` pairs, sized by a switch (an array literal of all
   * six pairs cut down by setting its `length` cost ~40 ns more a middleware request). */
  function pairsOf(count, i0, v0, i1, v1, i2, v2, i3, v3, i4, v4, i5, v5) {
    switch (count) {
      case 0: return []
      case 1: return [i0, v0]
      case 2: return [i0, v0, i1, v1]
      case 3: return [i0, v0, i1, v1, i2, v2]
      case 4: return [i0, v0, i1, v1, i2, v2, i3, v3]
      case 5: return [i0, v0, i1, v1, i2, v2, i3, v3, i4, v4]
      default: return [i0, v0, i1, v1, i2, v2, i3, v3, i4, v4, i5, v5]
    }
  }

  /** Whether middleware added no response headers. */
  function noHeaders(h) {
    if (!h) return true
    if (Array.isArray(h)) return h.length === 0
    for (const _ in h) return false
    return true
  }

  /** `rawHeaders` form: names in any case, a repeated header repeats its packed entry. */
  function valuesFromFlat(flat) {
    let s = ''
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const p = prefix[String(flat[i]).toLowerCase()]
      if (p !== undefined) s += p + flat[i + 1]
    }
    return s
  }

  /** Response headers as `name\0value\0…` (repeated headers repeat the name). */
  function flatResponseHeaders(h) {
    if (!h) return undefined
    let s = ''
    if (Array.isArray(h)) {
      for (let i = 0; i + 1 < h.length; i += 2) s += `${s ? '\0' : ''}${h[i]}\0${h[i + 1]}`
      return s
    }
    for (const k in h) {
      const v = h[k]
      if (Array.isArray(v)) for (const one of v) s += `${s ? '\0' : ''}${k}\0${one}`
      else s += `${s ? '\0' : ''}${k}\0${v}`
    }
    // None (middleware's usual `{}`): nothing to convert on the way in.
    return s || undefined
  }

  return {
    resolve({ url, headers }) {
      let packed
      let values
      let count = 0
      let i0, v0, i1, v1, i2, v2, i3, v3, i4, v4, i5, v5
      if (!headers) packed = calls.resolve(url)
      else if (Array.isArray(headers)) {
        values = valuesFromFlat(headers)
        packed = values ? calls.resolve(url, values) : calls.resolve(url)
      } else {
        // The values go to the Router as arguments, `index, value` for each header routing
        // reads (the usual request has 1 to 4 of them): one string packed from them is one
        // that V8 must first copy into a flat string, which cost more than the arguments.
        for (const key in headers) {
          const i = index[key]
          if (i === undefined) continue
          const v = headers[key]
          if (v === undefined) continue
          const t = headerText(v)
          switch (count) {
            case 0: i0 = i; v0 = t; break
            case 1: i1 = i; v1 = t; break
            case 2: i2 = i; v2 = t; break
            case 3: i3 = i; v3 = t; break
            case 4: i4 = i; v4 = t; break
            case 5: i5 = i; v5 = t; break
          }
          count++
        }
        switch (count) {
          case 0: packed = calls.resolve(url); break
          case 1: packed = calls.resolve(url, i0, v0); break
          case 2: packed = calls.resolve(url, i0, v0, i1, v1); break
          case 3: packed = calls.resolve(url, i0, v0, i1, v1, i2, v2); break
          case 4: packed = calls.resolve(url, i0, v0, i1, v1, i2, v2, i3, v3); break
          case 5: packed = calls.resolve(url, i0, v0, i1, v1, i2, v2, i3, v3, i4, v4); break
          case 6: packed = calls.resolve(url, i0, v0, i1, v1, i2, v2, i3, v3, i4, v4, i5, v5); break
          default:
            values = headerValues(headers)
            packed = calls.resolve(url, values)
        }
      }
      // 'm': a middleware decision.
      if (packed.charCodeAt(0) !== 0x6d) return new Decision(packed)
      if (values !== undefined || count > 6) return new Paused(packed, calls, url, undefined, values ?? '')
      return new Paused(packed, calls, url, pairsOf(count, i0, v0, i1, v1, i2, v2, i3, v3, i4, v4, i5, v5), undefined)
    },
    resume(continuation, outcome) {
      const c = continuation
      if (!(c instanceof Paused) || c._calls !== calls) {
        throw new Error('[INVALID_CONTINUATION] not the continuation of a middleware decision of this router')
      }
      if (c._used) throw new Error('[INVALID_CONTINUATION] already resumed')
      c._used = true
      const o = outcome || {}
      const moved = o.bodySent || o.redirect || o.rewrite
      if (!moved && noHeaders(o.responseHeaders) && sameRoutingHeaders(o.requestHeaders, c)) return c._passthrough()
      const other = moved
        ? `${o.bodySent ? 1 : 0}\0${o.redirect ? o.redirect.status : ''}\0${o.redirect ? String(o.redirect.url) : ''}\0${o.rewrite ? String(o.rewrite) : ''}`
        : undefined
      return new Decision(
        calls.resume(
          c._url,
          valuesOf(c),
          o.requestHeaders ? headerValues(o.requestHeaders) : undefined,
          flatResponseHeaders(o.responseHeaders),
          other,
        ),
      )
    },
    /** The decision `packed` (a decision's `packed`, not a `middleware` one) is the form of. */
    restore(packed) {
      const kind = typeof packed === 'string' ? kindOf(packed.charCodeAt(0)) : undefined
      if (kind === undefined || kind === 'middleware') throw new Error('[INVALID_DECISION] not the packed form of a decision of this router')
      return new Decision(packed)
    },
    pathnames() {
      return router.pathnames()
    },
    headerNames() {
      return names.slice()
    },
  }
}

module.exports = { createRouter, headerRecord }
