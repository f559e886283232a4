'use strict'

// A small Redis client (RESP2 over one TCP connection, pipelined), so the runtime stays
// self-contained: no npm client to bundle. It fails fast instead of queueing while Redis is
// unreachable (callers fall back), and reconnects by itself with a capped backoff.

const net = require('node:net')

const CRLF = Buffer.from('\r\n')

class RedisError extends Error {}

/** Encodes one command as a RESP array of bulk strings. */
function encode(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)]
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a))
    parts.push(Buffer.from(`$${b.length}\r\n`), b, CRLF)
  }
  return Buffer.concat(parts)
}

/**
 * Parses one reply at `offset`: `{ value, end }`, or null when the buffer does not hold it whole.
 * Bulk strings stay Buffers (bodies are binary); errors become RedisError values.
 */
function parseReply(buf, offset) {
  if (offset >= buf.length) return null
  const lineEnd = buf.indexOf(CRLF, offset)
  if (lineEnd < 0) return null
  const type = buf[offset]
  const line = buf.toString('latin1', offset + 1, lineEnd)
  const next = lineEnd + 2
  switch (type) {
    case 0x2b: // +
      return { value: line, end: next }
    case 0x2d: // -
      return { value: new RedisError(line), end: next }
    case 0x3a: // :
      return { value: Number(line), end: next }
    case 0x24: {
      // $
      const len = Number(line)
      if (len < 0) return { value: null, end: next }
      if (buf.length < next + len + 2) return null
      return { value: buf.subarray(next, next + len), end: next + len + 2 }
    }
    case 0x2a: {
      // *
      const n = Number(line)
      if (n < 0) return { value: null, end: next }
      const out = []
      let at = next
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, at)
        if (!r) return null
        out.push(r.value)
        at = r.end
      }
      return { value: out, end: at }
    }
    default:
      throw new RedisError(`unexpected reply type ${JSON.stringify(String.fromCharCode(type))}`)
  }
}

/** Parses `redis://[user:password@]host[:port][/db]`. */
function parseRedisUrl(url) {
  let u
  try {
    u = new URL(url)
  } catch {
    throw new Error(`invalid cache URL ${JSON.stringify(url)}: expected redis://host:port/db`)
  }
  if (u.protocol !== 'redis:') throw new Error(`invalid cache URL ${JSON.stringify(url)}: only redis:// is supported`)
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0
  if (!Number.isInteger(db) || db < 0) throw new Error(`invalid cache URL ${JSON.stringify(url)}: the database must be a number`)
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    db,
    username: decodeURIComponent(u.username || ''),
    password: decodeURIComponent(u.password || ''),
  }
}

/**
 * Creates a client. `onState(up: boolean, error?)` is told when the connection comes and goes.
 * @param {string} url
 * @param {{ timeoutMs?: number, onState?: Function }} options
 */
function createRedisClient(url, { timeoutMs = 1000, onState = () => {} } = {}) {
  const opts = parseRedisUrl(url)
  let socket = null
  let ready = false
  let closed = false
  let buffer = Buffer.alloc(0)
  let pending = [] // { resolve, reject, timer }
  let backoff = 50
  let reconnectTimer = null
  let connecting = null

  function failAll(err) {
    const list = pending
    pending = []
    for (const p of list) {
      clearTimeout(p.timer)
      p.reject(err)
    }
  }

  function drop(err) {
    if (socket) {
      socket.removeAllListeners()
      socket.on('error', () => {})
      socket.destroy()
    }
    socket = null
    const wasReady = ready
    ready = false
    connecting = null
    buffer = Buffer.alloc(0)
    failAll(err)
    if (wasReady) onState(false, err)
    if (!closed && !reconnectTimer) {
      reconnectTimer = setTimeout(() => {
        reconnectTimer = null
        connect().catch(() => {})
      }, backoff)
      reconnectTimer.unref()
      backoff = Math.min(backoff * 2, 2000)
    }
  }

  function onData(chunk) {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk
    let at = 0
    for (;;) {
      let r
      try {
        r = parseReply(buffer, at)
      } catch (err) {
        return drop(err)
      }
      if (!r) break
      at = r.end
      const p = pending.shift()
      if (!p) continue
      clearTimeout(p.timer)
      if (r.value instanceof RedisError) p.reject(r.value)
      else p.resolve(r.value)
    }
    buffer = at === buffer.length ? Buffer.alloc(0) : buffer.subarray(at)
  }

  function send(args) {
    return new Promise((resolve, reject) => {
      if (!socket) return reject(new Error('redis: not connected'))
      const timer = setTimeout(() => {
        // Replies come in order: one that is late makes every later one unreliable.
        drop(new Error(`redis: no reply within ${timeoutMs} ms`))
      }, timeoutMs)
      timer.unref()
      pending.push({ resolve, reject, timer })
      socket.write(encode(args))
    })
  }

  function connect() {
    if (connecting) return connecting
    connecting = new Promise((resolve, reject) => {
      const s = net.createConnection({ host: opts.host, port: opts.port })
      socket = s
      s.setNoDelay(true)
      const t = setTimeout(() => drop(new Error(`redis: cannot connect to ${opts.host}:${opts.port} within ${timeoutMs} ms`)), timeoutMs)
      t.unref()
      s.on('data', onData)
      s.on('error', (err) => {
        clearTimeout(t)
        drop(err)
        reject(err)
      })
      s.on('close', () => {
        clearTimeout(t)
        drop(new Error('redis: connection closed'))
        reject(new Error('redis: connection closed'))
      })
      s.on('connect', async () => {
        clearTimeout(t)
        try {
          if (opts.password) await send(opts.username ? ['AUTH', opts.username, opts.password] : ['AUTH', opts.password])
          if (opts.db) await send(['SELECT', opts.db])
          ready = true
          backoff = 50
          onState(true)
          resolve()
        } catch (err) {
          drop(err)
          reject(err)
        }
      })
    })
    return connecting
  }

  return {
    /** Sends a command; rejects at once while disconnected. */
    async command(...args) {
      if (closed) throw new Error('redis: client closed')
      if (!ready) {
        if (!socket && !reconnectTimer) await connect()
        else if (connecting && !ready) await connecting
        if (!ready) throw new Error('redis: not connected')
      }
      return send(args)
    },
    get ready() {
      return ready
    },
    connect,
    close() {
      closed = true
      if (reconnectTimer) clearTimeout(reconnectTimer)
      reconnectTimer = null
      if (socket) socket.end()
      failAll(new Error('redis: client closed'))
    },
  }
}

module.exports = { createRedisClient, parseRedisUrl, parseReply, encode, RedisError }
