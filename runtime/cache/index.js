'use strict'

// Chooses the cache store of a runtime instance and hands it to the Next cache handlers.

const fs = require('node:fs')
const path = require('node:path')
const { createFsCacheStore } = require('./fs')
const { STORE_SYMBOL, tagsExpired, tagsStale } = require('./tags')

/** The runtime's cache directory: `cacheDir`, else $ACME_CACHE_DIR, else `<output>/../cache`. */
function cacheDirFor({ outputDir, cacheDir }) {
  return cacheDir || process.env.ACME_CACHE_DIR || path.join(outputDir, '..', 'cache')
}

/**
 * The configured store: Redis with `cacheUrl` / $ACME_CACHE_URL (`redis://[:password@]host:port[/db]`),
 * else the filesystem below `cacheDir` / $ACME_CACHE_DIR / `<output>/../cache`.
 */
function createCacheStore({ outputDir, manifest, cacheDir, cacheUrl, log = () => {} }) {
  const url = cacheUrl || process.env.ACME_CACHE_URL
  let store
  if (url) {
    const { createRedisCacheStore } = require('./redis')
    // Two deployments sharing one Redis never read each other's entries.
    const namespace = `acme:${manifest.deploymentId || manifest.buildId || 'default'}:`
    store = createRedisCacheStore(url, { namespace, log })
  } else {
    store = createFsCacheStore(cacheDirFor({ outputDir, cacheDir }))
  }
  return withDataCacheSeeds(store, path.join(outputDir, 'data-cache'))
}

const FETCH_PREFIX = 'fetch:'

/**
 * The store, falling back on a data cache miss to the entries the build wrote (the adapter copies
 * `.next/cache/fetch-cache` to `<output>/data-cache/`), aged from their file times as `next start`
 * ages them.
 */
function withDataCacheSeeds(store, seedDir) {
  if (!fs.existsSync(seedDir)) return store
  const get = store.get.bind(store)
  store.get = async (key) => {
    const entry = await get(key)
    if (entry || !key.startsWith(FETCH_PREFIX)) return entry
    const name = key.slice(FETCH_PREFIX.length)
    if (!/^[A-Za-z0-9_-]+$/.test(name)) return null
    try {
      const file = path.join(seedDir, name)
      const body = await fs.promises.readFile(file)
      const { mtimeMs } = await fs.promises.stat(file)
      const value = JSON.parse(body.toString('utf8'))
      return { body, createdAt: mtimeMs, tags: value.tags || [], seed: true }
    } catch {
      return null
    }
  }
  return store
}

/**
 * Makes `store` the one the Next cache handlers of this process use: the incremental cache
 * handler the adapter configured finds it here, and the 'use cache' handlers (default and
 * remote) are registered where Next looks for a platform's (`initializeCacheHandlers` reads
 * `globalThis[Symbol.for('@next/cache-handlers')]`); a user's `cacheHandlers` still win.
 */
function registerCacheStore(store) {
  globalThis[STORE_SYMBOL] = store
  const NEXT_HANDLERS = Symbol.for('@next/cache-handlers')
  if (!globalThis[NEXT_HANDLERS]) {
    const useCache = require('./next-use-cache-handler')
    globalThis[NEXT_HANDLERS] = { DefaultCache: useCache, RemoteCache: useCache }
  }
}

/** 'expired' | 'stale' | null: what revalidated tags say about a cached page entry. */
async function tagStateOf(store, entry) {
  if (!entry.tags || !entry.tags.length || !store.getTagStates) return null
  let states
  try {
    states = await store.getTagStates(entry.tags)
  } catch {
    return null // the store is down: its entries are as fresh as we can tell
  }
  // After the read: a revalidation it waited for may be younger than the request.
  if (tagsExpired(states, entry.createdAt, Date.now())) return 'expired'
  if (tagsStale(states, entry.createdAt)) return 'stale'
  return null
}

module.exports = { createCacheStore, cacheDirFor, registerCacheStore, tagStateOf }
