'use strict'

// The `_rsc` cache-busting search parameter of RSC requests, checked as `next start` checks it
// (`experimental.validateRSCRequestHeaders`, on by default; Next's minimal mode, which our
// entrypoints run in, leaves it to the platform). The client hashes the headers a Flight response
// varies on into `_rsc`, so a CDN that keys on the URL alone never serves one tree's payload for
// another; a request whose `_rsc` does not match its headers is redirected (307) to the URL with
// the right value instead of being answered.

const crypto = require('node:crypto')

const PREFETCH = 'next-router-prefetch'
const SEGMENT_PREFETCH = 'next-router-segment-prefetch'
const STATE_TREE = 'next-router-state-tree'
const NEXT_URL = 'next-url'
const PARAM = '_rsc'
const DIGEST_BYTES = 12

/** What the hash covers, or null when no varying header is present (the expected `_rsc` is empty). */
function hashInput(headers) {
  const raw = headers[PREFETCH]
  const prefetch = raw === '1' || raw === '2' || raw === '3' ? raw : undefined
  const segment = headers[SEGMENT_PREFETCH]
  const tree = headers[STATE_TREE]
  const nextUrl = headers[NEXT_URL]
  if ((prefetch === undefined || prefetch === '0') && segment === undefined && tree === undefined && nextUrl === undefined) return null
  const norm = (v) => (v === undefined ? '0' : Array.isArray(v) ? v.join(',') : v)
  return [prefetch ?? '0', norm(segment), norm(tree), norm(nextUrl)].join(',')
}

/** The current form: SHA-256 truncated to 96 bits, base64url without padding. */
function expectedParam(headers) {
  const input = hashInput(headers)
  if (input === null) return ''
  return crypto.createHash('sha256').update(input).digest().subarray(0, DIGEST_BYTES).toString('base64url')
}

/** The legacy 5-character form (djb2, base 36) older clients without a secure context send. */
function legacyParam(headers) {
  const input = hashInput(headers)
  if (input === null) return ''
  let hash = 5381
  for (let i = 0; i < input.length; i++) hash = ((hash << 5) + hash + input.charCodeAt(i)) & 0xffffffff
  return (hash >>> 0).toString(36).slice(0, 5)
}

/** The raw value of `_rsc` in a query string (`''` for a bare `_rsc`), or null when absent. */
function paramOf(search) {
  for (const pair of search.split('&')) {
    if (pair === PARAM) return ''
    if (pair.startsWith(`${PARAM}=`)) return new URLSearchParams(pair).get(PARAM)
  }
  return null
}

/**
 * Where to redirect an RSC request whose `_rsc` does not match its headers, or null when it
 * matches. `url` is the URL to redirect to with the right `_rsc` (path and query, as the client
 * can request it); other query pairs keep their spelling.
 * @param {import('node:http').IncomingHttpHeaders} headers
 * @param {string} url
 */
function rscRedirectLocation(headers, url) {
  const u = new URL(url, 'http://x')
  const rawQuery = u.search.startsWith('?') ? u.search.slice(1) : u.search
  const actual = paramOf(rawQuery)
  const expected = expectedParam(headers)
  if (actual === expected) return null
  if (actual !== null && actual === legacyParam(headers)) return null
  const pairs = rawQuery.split('&').filter((pair) => pair && !pair.startsWith(`${PARAM}=`) && pair !== PARAM)
  pairs.push(expected ? `${PARAM}=${expected}` : PARAM)
  return `${u.pathname}?${pairs.join('&')}`
}

module.exports = { rscRedirectLocation, expectedParam, legacyParam }
