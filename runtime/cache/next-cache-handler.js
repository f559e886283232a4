'use strict'

// Next's incremental cache handler (`cacheHandler` in next.config, set by the adapter's
// modifyConfig): the data cache of `fetch` and `unstable_cache`, and `revalidateTag` /
// `revalidatePath`, on the platform's cache store. Next loads this file from the function assets
// (it traces it into them), so it finds the store through a process-global the runtime registers
// (runtime/cache/tags.js STORE_SYMBOL). Without one (the same build under `next start`) it is
// Next's own filesystem cache, unchanged.
//
// Under `acme-next start` the entrypoints run in minimal mode: Next never asks this handler for
// pages (the platform caches responses itself), only for FETCH entries; page entries it is handed
// anyway are ignored.

const { STORE_SYMBOL, tagsExpired, nextTagState } = require('./tags')

const FETCH_PREFIX = 'fetch:'

function platformStore() {
  return globalThis[STORE_SYMBOL] || null
}

/** Next's in-process tag manifest, which IncrementalCache consults for staleness. */
function nextTagsManifest() {
  try {
    return require('next/dist/server/lib/incremental-cache/tags-manifest.external.js').tagsManifest
  } catch {
    return null
  }
}

class AcmeCacheHandler {
  constructor(options) {
    this.options = options || {}
    this.store = platformStore()
    this.revalidatedTags = this.options.revalidatedTags || []
    if (!this.store) {
      const FileSystemCache = require('next/dist/server/lib/incremental-cache/file-system-cache.js').default
      this.fallback = new FileSystemCache(this.options)
    }
  }

  resetRequestCache() {
    if (this.fallback && this.fallback.resetRequestCache) this.fallback.resetRequestCache()
  }

  async get(key, ctx) {
    if (this.fallback) return this.fallback.get(key, ctx)
    if (!ctx || ctx.kind !== 'FETCH') return null
    let entry
    try {
      entry = await this.store.get(FETCH_PREFIX + key)
    } catch {
      return null // the store logs its own outages; a miss renders
    }
    if (!entry) return null
    const tags = [...new Set([...(ctx.tags || []), ...(ctx.softTags || []), ...(entry.tags || [])])]
    if (tags.some((t) => this.revalidatedTags.includes(t))) return null
    if (tags.length) {
      let states = {}
      try {
        states = await this.store.getTagStates(tags)
      } catch {
        states = {}
      }
      if (tagsExpired(states, entry.createdAt)) return null
      // IncrementalCache decides staleness from Next's in-process manifest: bring this process's
      // copy up to date with what any instance revalidated.
      const manifest = nextTagsManifest()
      if (manifest) for (const [t, s] of Object.entries(states)) manifest.set(t, { ...(manifest.get(t) || {}), ...s })
    }
    let value
    try {
      value = JSON.parse(entry.body.toString('utf8'))
    } catch {
      return null
    }
    return { lastModified: entry.createdAt, value }
  }

  async set(key, data, ctx) {
    if (this.fallback) return this.fallback.set(key, data, ctx)
    if (!data || data.kind !== 'FETCH') return
    const tags = (ctx && ctx.tags) || data.tags || []
    try {
      await this.store.set(FETCH_PREFIX + key, {
        body: Buffer.from(JSON.stringify({ ...data, tags })),
        createdAt: Date.now(),
        tags,
        revalidate: data.revalidate,
      })
    } catch {
      // a data cache write that fails only costs a later refetch
    }
  }

  async revalidateTag(tags, durations) {
    if (this.fallback) return this.fallback.revalidateTag(tags, durations)
    const list = [].concat(tags || []).filter(Boolean)
    if (!list.length) return
    const manifest = nextTagsManifest()
    const now = Date.now()
    if (manifest) for (const t of list) manifest.set(t, nextTagState(manifest.get(t), durations, now))
    await this.store.updateTags(list, durations)
  }
}

module.exports = AcmeCacheHandler
module.exports.default = AcmeCacheHandler
