'use strict'

// Next's 'use cache' handler (`cacheHandlers.default` / `.remote`, set by the adapter's
// modifyConfig) on the platform's cache store: entries under `use-cache:` keys, tag expiry in
// the same tag states as revalidateTag/revalidatePath. Without a platform store (the same build
// under `next start`) it is Next's built-in in-memory handler.

const { STORE_SYMBOL, tagsExpired, tagsStale, latestExpiration, nextTagState } = require('./tags')

const PREFIX = 'use-cache:'

function streamFromBuffer(buf) {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(new Uint8Array(buf))
      controller.close()
    },
  })
}

async function bufferFromStream(stream) {
  const chunks = []
  const reader = stream.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    chunks.push(Buffer.from(value))
  }
  return Buffer.concat(chunks)
}

function nextTagsManifest() {
  try {
    return require('next/dist/server/lib/incremental-cache/tags-manifest.external.js').tagsManifest
  } catch {
    return null
  }
}

let fallback = null
function fallbackHandler() {
  if (!fallback) fallback = require('next/dist/server/lib/cache-handlers/default.js').createDefaultCacheHandler(50 * 1024 * 1024)
  return fallback
}

const pending = new Map()

const handler = {
  async get(cacheKey, softTags) {
    const store = globalThis[STORE_SYMBOL]
    if (!store) return fallbackHandler().get(cacheKey, softTags)
    if (pending.has(cacheKey)) await pending.get(cacheKey)
    let entry
    try {
      entry = await store.get(PREFIX + cacheKey)
    } catch {
      return undefined
    }
    if (!entry) return undefined
    let meta
    try {
      meta = JSON.parse(entry.meta)
    } catch {
      return undefined
    }
    const now = Date.now()
    if (meta.expire < 0 || now > meta.timestamp + meta.revalidate * 1000) return undefined
    let revalidate = meta.revalidate
    const tags = [...(meta.tags || []), ...(softTags || [])]
    if (tags.length) {
      let states = {}
      try {
        states = await store.getTagStates(tags)
      } catch {
        states = {}
      }
      if (tagsExpired(states, meta.timestamp, now)) return undefined
      if (tagsStale(states, meta.timestamp)) revalidate = -1
    }
    return { ...meta, revalidate, value: streamFromBuffer(entry.body) }
  },

  async set(cacheKey, pendingEntry) {
    const store = globalThis[STORE_SYMBOL]
    if (!store) return fallbackHandler().set(cacheKey, pendingEntry)
    let done
    pending.set(cacheKey, new Promise((r) => (done = r)))
    try {
      const entry = await pendingEntry
      if (entry.expire === 0) return // a dynamic entry: nothing to keep
      const body = await bufferFromStream(entry.value)
      const meta = { ...entry }
      delete meta.value
      await store.set(PREFIX + cacheKey, { body, meta: JSON.stringify(meta), createdAt: meta.timestamp, tags: meta.tags || [] })
    } catch {
      // not cached: the next read renders again
    } finally {
      pending.delete(cacheKey)
      done()
    }
  },

  async refreshTags() {
    // Tag states are read from the store on every get/getExpiration.
  },

  async getExpiration(tags) {
    const store = globalThis[STORE_SYMBOL]
    if (!store) return fallbackHandler().getExpiration(tags)
    try {
      return latestExpiration(await store.getTagStates(tags))
    } catch {
      return 0
    }
  },

  async updateTags(tags, durations) {
    const store = globalThis[STORE_SYMBOL]
    if (!store) return fallbackHandler().updateTags(tags, durations)
    const manifest = nextTagsManifest()
    const now = Date.now()
    if (manifest) for (const t of tags) manifest.set(t, nextTagState(manifest.get(t), durations, now))
    await store.updateTags(tags, durations)
  },
}

module.exports = handler
module.exports.default = handler
