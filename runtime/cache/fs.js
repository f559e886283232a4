'use strict'

// The default cache store: one file per cache key below a directory, written atomically
// (temporary file + rename), so it survives restarts and a crash never leaves half an entry.
// Several processes may share the directory (`acme-next start --workers N`, or instances on one
// volume): entries are whole-file renames, tag states are read-modify-written under a lock file,
// and the regeneration lock is an exclusive-create file with an expiry.
//
// The store interface (runtime/cache/redis.js implements the same):
//   get(key)                      -> Promise<Entry | null>
//   set(key, entry)               -> Promise<void>
//   getTagStates(tags)            -> Promise<Record<tag, { stale?: ms, expired?: ms }>>
//   updateTags(tags, durations?)  -> Promise<void>   revalidation (runtime/cache/tags.js semantics)
//   lock(name, ttlMs)             -> Promise<token | null>   null: someone else holds it
//   unlock(name, token)           -> Promise<void>           only the holder's token releases it
// Entry: { status, headers, body: Buffer, encoding: 'identity'|'gzip', createdAt (ms),
//          revalidate (s | false), expire (s | undefined), tags: string[] }
// (the data cache stores `{ body: <JSON>, createdAt, tags }` entries under `fetch:`/`use-cache:` keys).

const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const { nextTagState } = require('./tags')

const MAGIC = 'ACME1'
// A lock file older than this belongs to a process that died holding it.
const TAGS_LOCK_STALE_MS = 5000

function hashOf(key) {
  return crypto.createHash('sha256').update(key).digest('hex')
}

function fileOf(dir, key) {
  const h = hashOf(key)
  return path.join(dir, 'entries', h.slice(0, 2), `${h}.bin`)
}

async function writeAtomic(file, data) {
  await fs.promises.mkdir(path.dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`
  try {
    await fs.promises.writeFile(tmp, data)
    await fs.promises.rename(tmp, file)
  } catch (err) {
    await fs.promises.rm(tmp, { force: true })
    throw err
  }
}

/**
 * Creates `file` exclusively, holding `<expiry ms> <token>`; breaks it once expired (its holder
 * died). Returns the token when taken, else null.
 */
async function tryCreateLock(file, ttlMs) {
  await fs.promises.mkdir(path.dirname(file), { recursive: true })
  const token = crypto.randomBytes(9).toString('hex')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await fs.promises.open(file, 'wx')
      await fh.writeFile(`${Date.now() + ttlMs} ${token}`)
      await fh.close()
      return token
    } catch (err) {
      if (err.code !== 'EEXIST') throw err
    }
    let until = 0
    try {
      until = Number((await fs.promises.readFile(file, 'utf8')).split(' ')[0]) || 0
      if (!until) until = (await fs.promises.stat(file)).mtimeMs + ttlMs // being written right now
    } catch {
      continue // released meanwhile: try again
    }
    if (until > Date.now()) return null
    await fs.promises.rm(file, { force: true })
  }
  return null
}

/** Removes a lock file if `token` still holds it. */
async function releaseLock(file, token) {
  try {
    if ((await fs.promises.readFile(file, 'utf8')).split(' ')[1] !== token) return
  } catch {
    return
  }
  await fs.promises.rm(file, { force: true })
}

/**
 * Creates a filesystem cache store.
 * @param {string} dir directory for the cache (created on first write)
 */
function createFsCacheStore(dir) {
  const tagsFile = path.join(dir, 'tags.json')
  const tagsLock = path.join(dir, 'tags.lock')
  // Tag states cached in memory, keyed by the file's identity: another process replaces the
  // file by a rename (new inode), so one stat per read tells whether to read it again.
  let tags = {}
  let tagsId = null
  // Revalidations still being written: a read waits for them, so the request after the one that
  // revalidated sees it (Next runs the revalidation as waitUntil work, after its response).
  const inflight = new Set()

  async function loadTags() {
    let st
    try {
      // Synchronous on purpose: one stat per cached-page read is cheaper than a thread-pool hop.
      st = fs.statSync(tagsFile)
    } catch {
      tags = {}
      tagsId = null
      return tags
    }
    const id = `${st.ino}:${st.size}:${st.mtimeMs}`
    if (id !== tagsId) {
      try {
        tags = JSON.parse(await fs.promises.readFile(tagsFile, 'utf8'))
        tagsId = id
      } catch {
        tags = {}
        tagsId = null
      }
    }
    return tags
  }

  async function writeTags(list, durations, now) {
    if (!list.length) return
    const deadline = Date.now() + TAGS_LOCK_STALE_MS * 2
    let token
    while (!(token = await tryCreateLock(tagsLock, TAGS_LOCK_STALE_MS))) {
      if (Date.now() > deadline) throw new Error(`cache: ${tagsLock} stays locked; remove it if no acme-next process is running`)
      await new Promise((r) => setTimeout(r, 5))
    }
    try {
      const all = { ...(await loadTags()) }
      for (const t of list) all[t] = nextTagState(all[t], durations, now)
      await writeAtomic(tagsFile, JSON.stringify(all))
      tags = all
      tagsId = null
    } finally {
      await releaseLock(tagsLock, token)
    }
  }

  return {
    dir,
    kind: 'fs',
    async get(key) {
      let buf
      try {
        buf = await fs.promises.readFile(fileOf(dir, key))
      } catch {
        return null
      }
      if (buf.length < 9 || buf.toString('latin1', 0, 5) !== MAGIC) return null
      const metaLen = buf.readUInt32BE(5)
      const meta = JSON.parse(buf.toString('utf8', 9, 9 + metaLen))
      if (meta.key !== key) return null
      return { ...meta.entry, body: buf.subarray(9 + metaLen) }
    },
    async set(key, entry) {
      const { body, ...rest } = entry
      const meta = Buffer.from(JSON.stringify({ key, entry: rest }))
      const head = Buffer.alloc(9)
      head.write(MAGIC, 0, 'latin1')
      head.writeUInt32BE(meta.length, 5)
      await writeAtomic(fileOf(dir, key), Buffer.concat([head, meta, body || Buffer.alloc(0)]))
    },
    async delete(key) {
      await fs.promises.rm(fileOf(dir, key), { force: true })
    },
    /**
     * Every entry on disk as `{ key, size, entry }` (size: the body's bytes; `entry` without the
     * body), read from the files' headers only.
     */
    async list() {
      const out = []
      const root = path.join(dir, 'entries')
      let names
      try {
        names = await fs.promises.readdir(root, { recursive: true })
      } catch {
        return out
      }
      for (const name of names) {
        if (!String(name).endsWith('.bin')) continue
        let fh
        try {
          fh = await fs.promises.open(path.join(root, String(name)), 'r')
          const { size } = await fh.stat()
          const head = Buffer.alloc(9)
          await fh.read(head, 0, 9, 0)
          if (head.toString('latin1', 0, 5) !== MAGIC) continue
          const metaLen = head.readUInt32BE(5)
          const metaBuf = Buffer.alloc(metaLen)
          await fh.read(metaBuf, 0, metaLen, 9)
          const meta = JSON.parse(metaBuf.toString('utf8'))
          out.push({ key: meta.key, size: size - 9 - metaLen, entry: meta.entry })
        } catch {
          // being replaced or unreadable: not counted
        } finally {
          if (fh) await fh.close().catch(() => {})
        }
      }
      return out
    },
    async getTagStates(list) {
      if (inflight.size) await Promise.allSettled([...inflight])
      const all = await loadTags()
      const out = {}
      for (const t of list) if (all[t]) out[t] = all[t]
      return out
    },
    updateTags(list, durations) {
      const p = writeTags(list, durations, Date.now())
      inflight.add(p)
      const done = () => inflight.delete(p)
      p.then(done, done)
      return p
    },
    lock(name, ttlMs) {
      return tryCreateLock(path.join(dir, 'locks', `${hashOf(name)}.lock`), ttlMs)
    },
    unlock(name, token) {
      return releaseLock(path.join(dir, 'locks', `${hashOf(name)}.lock`), token)
    },
  }
}

module.exports = { createFsCacheStore }
