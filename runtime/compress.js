'use strict'

// Response compression as `next start` does it (`compress: true`, Next's default: the
// `compression` middleware in front of everything): a compressible response of 1 KiB or more
// (or of unknown length) is gzip- (or deflate-) encoded when the client accepts it, and every
// compressible response says `Vary: Accept-Encoding`, so caches keep the encodings apart.
// Responses that are already encoded (the seed pack's gzip bodies), HEAD, `no-transform` and
// bodiless statuses pass untouched.

const zlib = require('node:zlib')

const THRESHOLD = 1024
// mime-db's compressible types that the `compressible` package's pattern does not cover.
const COMPRESSIBLE = new Set([
  'application/dart', 'application/ecmascript', 'application/javascript', 'application/json', 'application/octet-stream',
  'application/postscript', 'application/raml+yaml', 'application/rtf', 'application/tar', 'application/toml',
  'application/vnd.dart', 'application/vnd.ms-fontobject', 'application/vnd.ms-opentype', 'application/wasm',
  'application/x-httpd-php', 'application/x-javascript', 'application/x-ns-proxy-autoconfig', 'application/x-sh',
  'application/x-tar', 'application/x-www-form-urlencoded', 'application/xml', 'application/xml-dtd', 'font/otf', 'font/ttf',
  'image/bmp', 'image/vnd.adobe.photoshop', 'image/vnd.microsoft.icon', 'image/vnd.ms-dds', 'image/x-icon', 'image/x-ms-bmp',
  'message/rfc822', 'model/gltf-binary', 'x-shader/x-fragment', 'x-shader/x-vertex',
])
const COMPRESSIBLE_PATTERN = /^text\/|\+(?:json|text|xml)$/i
const NO_TRANSFORM = /(?:^|,)\s*?no-transform\s*?(?:,|$)/

// A server answers with a handful of content types: each is classified once.
const classified = new Map()

/** Whether a content type is worth compressing (the `compressible` package's answer). */
function compressible(contentType) {
  if (!contentType) return false
  const key = String(contentType)
  let yes = classified.get(key)
  if (yes === undefined) {
    const type = key.split(';')[0].trim().toLowerCase()
    yes = COMPRESSIBLE.has(type) || COMPRESSIBLE_PATTERN.test(type)
    if (classified.size < 256) classified.set(key, yes)
  }
  return yes
}

/**
 * The encoding to answer with, as `negotiator` picks it among gzip, deflate and identity (an
 * unlisted identity gets the lowest listed quality; ties go to the client's order), with gzip
 * preferred over deflate when both are acceptable. Null: send it as it is.
 * @param {string | undefined} header `Accept-Encoding`
 */
function negotiate(header) {
  if (!header) return null
  const listed = new Map()
  let order = 0
  let minQ = 1
  let star
  for (const part of String(header).split(',')) {
    const [rawName, ...params] = part.trim().split(';')
    const name = rawName.trim().toLowerCase()
    if (!name) continue
    let q = 1
    for (const p of params) {
      const [k, v] = p.trim().split('=')
      if (k === 'q') q = Number.parseFloat(v)
    }
    if (Number.isNaN(q)) q = 0
    if (name === '*') star = { q, order: order++ }
    else if (!listed.has(name)) listed.set(name, { q, order: order++ })
    minQ = Math.min(minQ, q)
  }
  const quality = (name) => listed.get(name) || (star && { q: star.q, order: star.order }) || (name === 'identity' ? { q: minQ, order: Infinity } : { q: 0, order: Infinity })
  let best = null
  let bestQ = 0
  let bestOrder = Infinity
  for (const name of ['gzip', 'deflate', 'identity']) {
    const { q, order: o } = quality(name)
    if (q > bestQ || (q === bestQ && q > 0 && o < bestOrder)) {
      best = name
      bestQ = q
      bestOrder = o
    }
  }
  if (best === 'deflate' && quality('gzip').q > 0) best = 'gzip'
  return best === 'identity' ? null : best
}

// What compression changed on a response: `{ vary, encoded }` (`vary`: the value before).
const CHANGED = Symbol('acme.compression')

/** Adds a field to `Vary` unless it is there (or `*`); true when it was added. */
function appendVary(res, field) {
  const current = res.getHeader('vary')
  if (current === undefined) {
    res.setHeader('vary', field)
    return true
  }
  const list = [].concat(current).join(',')
  const names = list.split(',').map((s) => s.trim().toLowerCase())
  if (names.includes('*') || names.includes(field.toLowerCase())) return false
  res.setHeader('vary', `${list}, ${field}`)
  return true
}

/** Adds `Accept-Encoding` to `Vary`, remembering the value before (see headersBeforeCompression). */
function addVary(res) {
  const before = res.getHeader('vary')
  if (appendVary(res, 'Accept-Encoding')) res[CHANGED] = { vary: before, encoded: false }
}

/**
 * A response's headers as its producer set them, without what compression added: what a cache
 * may keep (the body it captured is the uncompressed one).
 * @param {import('node:http').ServerResponse} res
 */
function headersBeforeCompression(res) {
  const headers = res.getHeaders()
  const changed = res[CHANGED]
  if (!changed) return headers
  if (changed.encoded) delete headers['content-encoding']
  if (changed.vary === undefined) delete headers.vary
  else headers.vary = changed.vary
  return headers
}

/** The head decision shared by both paths: whether the response is compressible at all (adds `Vary`). */
function varies(r) {
  if (!compressible(r.getHeader('content-type'))) return false
  const cacheControl = r.getHeader('cache-control')
  if (cacheControl && NO_TRANSFORM.test(String(cacheControl))) return false
  addVary(r)
  return true
}

/** Applies headers given to writeHead() before deciding (as the on-headers package does). */
function takeHeadFields(r, reason, headers) {
  const fields = typeof reason === 'string' ? headers : reason
  if (!fields || r.headersSent) return
  if (Array.isArray(fields)) {
    for (let i = 0; i + 1 < fields.length; i += 2) r.setHeader(fields[i], fields[i + 1])
  } else {
    for (const k of Object.keys(fields)) r.setHeader(k, fields[k])
  }
}

/**
 * Makes `res` compress its body when it should, deciding when its head is written. Call once
 * per request, before anything is written.
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 */
function compressResponse(req, res) {
  const encoding = req.method === 'HEAD' ? null : negotiate(req.headers['accept-encoding'])
  const writeHead = res.writeHead
  if (!encoding) {
    // Nothing to encode for this client: only `Vary` is due (one hook, no stream).
    res.writeHead = function varyingWriteHead(statusCode, reason, headers) {
      res.writeHead = writeHead
      takeHeadFields(this, reason, headers)
      varies(this)
      return typeof reason === 'string' ? writeHead.call(this, statusCode, reason) : writeHead.call(this, statusCode)
    }
    return
  }
  const write = res.write
  const end = res.end
  let stream = null
  let endLength // the length of a body sent with end() before any head
  let ended = false

  res.writeHead = function compressedWriteHead(statusCode, reason, headers) {
    res.writeHead = writeHead
    takeHeadFields(this, reason, headers)
    if (typeof statusCode === 'number') this.statusCode = statusCode
    decide(this)
    return typeof reason === 'string' ? writeHead.call(this, this.statusCode, reason) : writeHead.call(this, this.statusCode)
  }

  function decide(r) {
    if (!varies(r)) return
    const length = r.getHeader('content-length')
    if ((length !== undefined && Number(length) < THRESHOLD) || (endLength !== undefined && endLength < THRESHOLD)) return
    const current = r.getHeader('content-encoding')
    if (current && current !== 'identity') return
    if (!encoding || r.statusCode === 204 || r.statusCode === 304) return
    stream = encoding === 'gzip' ? zlib.createGzip() : zlib.createDeflate()
    r[CHANGED] ??= { vary: r.getHeader('vary'), encoded: false }
    r[CHANGED].encoded = true
    r.setHeader('content-encoding', encoding)
    r.removeHeader('content-length')
    stream.on('data', (chunk) => {
      if (write.call(r, chunk) === false) stream.pause()
    })
    stream.on('end', () => end.call(r))
    r.on('drain', () => stream.resume())
    // A writer piping into the response waits for `drain` after write() said false; that false
    // came from the encoder, so its drain is the one to pass on.
    stream.on('drain', () => r.emit('drain'))
  }

  res.write = function compressedWrite(chunk, enc, cb) {
    if (ended) return false
    if (!this.headersSent) this.writeHead(this.statusCode)
    if (!stream) return write.call(this, chunk, enc, cb)
    return stream.write(typeof chunk === 'string' ? Buffer.from(chunk, typeof enc === 'string' ? enc : undefined) : chunk, cb)
  }

  res.end = function compressedEnd(chunk, enc, cb) {
    if (ended) return this
    if (typeof chunk === 'function') {
      cb = chunk
      chunk = undefined
    } else if (typeof enc === 'function') {
      cb = enc
      enc = undefined
    }
    if (!this.headersSent) {
      if (this.getHeader('content-length') === undefined) endLength = chunk ? (typeof chunk === 'string' ? Buffer.byteLength(chunk, enc) : chunk.length) : 0
      this.writeHead(this.statusCode)
    }
    if (!stream) return end.call(this, chunk, enc, cb)
    ended = true
    if (cb) this.once('finish', cb)
    if (chunk) stream.end(typeof chunk === 'string' ? Buffer.from(chunk, enc) : chunk)
    else stream.end()
    return this
  }

  // Streaming renders flush after each chunk they want on the wire (Next's pipe helpers call it).
  res.flush = function flush() {
    if (stream) stream.flush()
  }
}

module.exports = { compressResponse, headersBeforeCompression, appendVary, compressible, negotiate }
