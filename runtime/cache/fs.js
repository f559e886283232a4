'use strict'

// The default cache store: one file per cache key below a directory, written atomically
// (temporary file + rename), so it survives restarts and a crash never leaves half an entry.
//
// The store interface (a Redis store implements the same four methods):
//   get(key)                 -> Promise<Entry | null>
//   set(key, entry)          -> Promise<void>
//   getTagTimestamps(tags)   -> Promise<Record<tag, ms>>   when a tag was last invalidated
//   setTagTimestamp(tag, ms) -> Promise<void>
// Entry: { status, headers, body: Buffer, encoding: 'identity'|'gzip', createdAt (ms),
//          revalidate (s | false), expire (s | undefined), tags: string[] }

const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')

const MAGIC = 'ACME1'

function fileOf(dir, key) {
  const h = crypto.createHash('sha256').update(key).digest('hex')
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
 * Creates a filesystem cache store.
 * @param {string} dir directory for the cache (created on first write)
 * @returns {{ get: Function, set: Function, getTagTimestamps: Function, setTagTimestamp: Function, dir: string }}
 */
function createFsCacheStore(dir) {
  const tagsFile = path.join(dir, 'tags.json')
  let tags = null

  async function loadTags() {
    if (!tags) {
      try {
        tags = JSON.parse(await fs.promises.readFile(tagsFile, 'utf8'))
      } catch {
        tags = {}
      }
    }
    return tags
  }

  return {
    dir,
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
    async getTagTimestamps(list) {
      const all = await loadTags()
      const out = {}
      for (const t of list) if (all[t]) out[t] = all[t]
      return out
    },
    async setTagTimestamp(tag, ms) {
      const all = await loadTags()
      all[tag] = ms
      await writeAtomic(tagsFile, JSON.stringify(all))
    },
  }
}

module.exports = { createFsCacheStore }
