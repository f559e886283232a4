'use strict'

// Tag revalidation state, with Next 16's semantics (next/dist/server/lib/incremental-cache/
// tags-manifest.external.js): per tag `{ stale?, expired? }` in epoch ms.
// - `revalidateTag(tag, profile)` / `updateTags(tags, { expire })`: stale now (served stale while
//   it regenerates), expired `expire` seconds later.
// - `revalidateTag(tag)` without a profile, `updateTag`, `revalidatePath`: expired now (the next
//   read renders before it answers).
// Shared by the stores, the page cache and the Next cache handlers, so all of them agree.

/**
 * The new state of one tag after a revalidation.
 * @param {{ stale?: number, expired?: number } | undefined} existing
 * @param {{ expire?: number } | undefined} durations
 * @param {number} now epoch ms
 */
function nextTagState(existing, durations, now) {
  const out = { ...(existing || {}) }
  if (durations) {
    out.stale = now
    if (durations.expire !== undefined) out.expired = now + durations.expire * 1000
  } else {
    out.expired = now
  }
  return out
}

/** Whether an entry written at `createdAt` is expired by one of the tag states (Next's areTagsExpired). */
function tagsExpired(states, createdAt, now = Date.now()) {
  for (const s of Object.values(states || {})) {
    if (s && typeof s.expired === 'number' && s.expired <= now && s.expired > createdAt) return true
  }
  return false
}

/** Whether an entry written at `createdAt` is stale by one of the tag states (Next's areTagsStale). */
function tagsStale(states, createdAt) {
  for (const s of Object.values(states || {})) {
    if (s && typeof s.stale === 'number' && s.stale > createdAt) return true
  }
  return false
}

/** The latest expiry among the states (what a 'use cache' handler's getExpiration answers). */
function latestExpiration(states) {
  let max = 0
  for (const s of Object.values(states || {})) if (s && typeof s.expired === 'number' && s.expired > max) max = s.expired
  return max
}

// The process-global through which the runtime hands its cache store to the cache handler
// modules Next loads from the function assets (they are separate module instances).
const STORE_SYMBOL = Symbol.for('@acme/next-adapter/cache-store')

module.exports = { nextTagState, tagsExpired, tagsStale, latestExpiration, STORE_SYMBOL }
