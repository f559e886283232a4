'use strict'

// The Redis cache store (ACME_CACHE_URL / --cache): what several instances share, so they behave
// as one deployment. Same interface as runtime/cache/fs.js.
//
// Keys, below `acme:<deployment or build id>:` so two deployments never read each other's:
//   e:<key>            the entry: "ACME1" + u32 meta length + meta JSON + body (small bodies)
//   c:<key>:<id>:<i>   body chunks of a large entry (meta names id and count): no single command
//                      moves more than CHUNK bytes, so a large page never blocks Redis for others
//   tag:stale, tag:expired   hashes tag -> epoch ms (Next 16 tag semantics, runtime/cache/tags.js)
//   lock:<name>        regeneration locks: SET NX PX with a token, released only by its holder
//
// Redis slow or down: every call fails fast (the client does not queue), the store answers from
// this instance's memory (what it wrote or read last, bounded) and applies tag revalidations
// locally, replaying them to Redis when it is back; errors are logged once per interval.

const crypto = require('node:crypto')
const { createRedisClient } = require('./resp')

const MAGIC = 'ACME1'
const CHUNK = 256 * 1024
const LOG_INTERVAL_MS = 10_000
const MEMORY_LIMIT = 64 * 1024 * 1024
const RELEASE_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

function frame(meta, body) {
  const m = Buffer.from(JSON.stringify(meta))
  const head = Buffer.alloc(9)
  head.write(MAGIC, 0, 'latin1')
  head.writeUInt32BE(m.length, 5)
  return Buffer.concat([head, m, body || Buffer.alloc(0)])
}

function unframe(buf) {
  if (!buf || buf.length < 9 || buf.toString('latin1', 0, 5) !== MAGIC) return null
  const len = buf.readUInt32BE(5)
  return { meta: JSON.parse(buf.toString('utf8', 9, 9 + len)), body: buf.subarray(9 + len) }
}

/** A size-bounded LRU of entries (this instance's fallback while Redis is away). */
function createMemory(limit) {
  const map = new Map()
  let size = 0
  const sizeOf = (e) => (e.body ? e.body.length : 0) + 512
  return {
    get(key) {
      const e = map.get(key)
      if (e) {
        map.delete(key)
        map.set(key, e)
      }
      return e || null
    },
    set(key, entry) {
      const old = map.get(key)
      if (old) size -= sizeOf(old)
      map.delete(key)
      map.set(key, entry)
      size += sizeOf(entry)
      for (const [k, e] of map) {
        if (size <= limit) break
        map.delete(k)
        size -= sizeOf(e)
      }
    },
  }
}

/**
 * @param {string} url redis://host:port/db
 * @param {{ namespace: string, log?: Function, timeoutMs?: number }} options
 */
function createRedisCacheStore(url, { namespace, log = () => {}, timeoutMs = Number(process.env.ACME_CACHE_TIMEOUT_MS) || 1000 }) {
  const ns = namespace
  const memory = createMemory(MEMORY_LIMIT)
  const localTags = new Map() // tag -> { stale, expired }: what this instance knows
  const unacked = new Map() // tag -> its state while this instance's write to Redis is pending
  const unsent = [] // tag revalidations made while Redis was away: [tags, durations, now]
  let lastLog = 0
  let down = false

  function outage(err) {
    down = true
    const now = Date.now()
    if (now - lastLog >= LOG_INTERVAL_MS) {
      lastLog = now
      log({ level: 'error', msg: 'cache store unavailable, serving from memory', store: 'redis', error: String((err && err.message) || err) })
    }
  }

  const client = createRedisClient(url, {
    timeoutMs,
    onState(up, err) {
      if (up) {
        if (down) log({ level: 'info', msg: 'cache store reconnected', store: 'redis' })
        down = false
        replayTags().catch((e) => outage(e))
      } else {
        outage(err)
      }
    },
  })
  client.connect().catch((err) => outage(err))

  async function call(...args) {
    try {
      return await client.command(...args)
    } catch (err) {
      outage(err)
      throw err
    }
  }

  async function writeTags(tags, durations, now) {
    const args = []
    if (durations) {
      await call('HSET', `${ns}tag:stale`, ...tags.flatMap((t) => [t, now]))
      if (durations.expire !== undefined) args.push(...tags.flatMap((t) => [t, now + durations.expire * 1000]))
    } else {
      args.push(...tags.flatMap((t) => [t, now]))
    }
    if (args.length) await call('HSET', `${ns}tag:expired`, ...args)
  }

  async function replayTags() {
    while (unsent.length) {
      const [tags, durations, now] = unsent[0]
      await writeTags(tags, durations, now)
      unsent.shift()
    }
  }

  async function readBody(key, meta, inline) {
    if (!meta.chunks) return inline
    const parts = []
    for (let i = 0; i < meta.chunks; i++) {
      const part = await call('GET', `${ns}c:${key}:${meta.chunkId}:${i}`)
      if (!part) return null // replaced meanwhile: a miss
      parts.push(part)
    }
    return Buffer.concat(parts)
  }

  async function setRemote(key, entry) {
    const { body = Buffer.alloc(0), ...meta } = entry
    if (body.length <= CHUNK) {
      await call('SET', `${ns}e:${key}`, frame(meta, body))
      return
    }
    // Chunks first, then the entry that names them: a reader never sees a half-written body.
    // Chunks expire after a week (so a writer that died between them and the entry leaves no
    // garbage forever): a large entry older than that is a miss and renders again.
    const chunkId = crypto.randomBytes(6).toString('hex')
    const chunks = Math.ceil(body.length / CHUNK)
    for (let i = 0; i < chunks; i++) {
      await call('SET', `${ns}c:${key}:${chunkId}:${i}`, body.subarray(i * CHUNK, (i + 1) * CHUNK), 'PX', 7 * 24 * 3600 * 1000)
    }
    const previous = unframe(await call('GET', `${ns}e:${key}`).catch(() => null))
    await call('SET', `${ns}e:${key}`, frame({ ...meta, chunks, chunkId }, null))
    if (previous && previous.meta.chunks) {
      const old = []
      for (let i = 0; i < previous.meta.chunks; i++) old.push(`${ns}c:${key}:${previous.meta.chunkId}:${i}`)
      // A reader may still be fetching them: let them go a little later.
      for (const k of old) await call('PEXPIRE', k, 60_000).catch(() => {})
    }
  }

  return {
    kind: 'redis',
    client,
    async get(key) {
      let raw
      try {
        raw = await call('GET', `${ns}e:${key}`)
      } catch {
        return memory.get(key)
      }
      const framed = unframe(raw)
      if (!framed) return null
      let body
      try {
        body = await readBody(key, framed.meta, framed.body)
      } catch {
        return memory.get(key)
      }
      if (!body) return null
      const out = { ...framed.meta, body }
      delete out.chunks
      delete out.chunkId
      memory.set(key, out)
      return out
    },
    async set(key, entry) {
      memory.set(key, entry)
      try {
        await setRemote(key, entry)
      } catch {
        // logged as an outage (once per interval); this instance keeps it in memory meanwhile
      }
    },
    async getTagStates(tags) {
      const out = {}
      if (!tags.length) return out
      let stale
      let expired
      try {
        ;[stale, expired] = await Promise.all([call('HMGET', `${ns}tag:stale`, ...tags), call('HMGET', `${ns}tag:expired`, ...tags)])
      } catch {
        for (const t of tags) if (localTags.has(t)) out[t] = localTags.get(t)
        return out
      }
      tags.forEach((t, i) => {
        // A revalidation this instance made and is still writing is newer than what Redis says.
        if (unacked.has(t)) {
          out[t] = unacked.get(t)
          return
        }
        const s = {}
        if (stale[i]) s.stale = Number(stale[i])
        if (expired[i]) s.expired = Number(expired[i])
        if (s.stale !== undefined || s.expired !== undefined) {
          out[t] = s
          localTags.set(t, s)
        }
      })
      return out
    },
    async updateTags(tags, durations) {
      if (!tags.length) return
      const now = Date.now()
      for (const t of tags) {
        const s = { ...(localTags.get(t) || {}) }
        if (durations) {
          s.stale = now
          if (durations.expire !== undefined) s.expired = now + durations.expire * 1000
        } else {
          s.expired = now
        }
        localTags.set(t, s)
        unacked.set(t, s)
      }
      try {
        await writeTags(tags, durations, now)
      } catch {
        if (unsent.length < 10_000) unsent.push([tags, durations, now])
      } finally {
        for (const t of tags) if (unacked.get(t) === localTags.get(t)) unacked.delete(t)
      }
    },
    async lock(name, ttlMs) {
      const token = crypto.randomBytes(12).toString('hex')
      const ok = await call('SET', `${ns}lock:${name}`, token, 'NX', 'PX', ttlMs)
      return ok === 'OK' ? token : null
    },
    async unlock(name, token) {
      await call('EVAL', RELEASE_SCRIPT, 1, `${ns}lock:${name}`, token)
    },
    close() {
      client.close()
    },
  }
}

module.exports = { createRedisCacheStore }
