'use strict'

// Response compression as next start does it (next.config `compress`, default on): which
// responses are encoded for which Accept-Encoding, `Vary: Accept-Encoding`, and that a page
// rendered for a gzip client is stored uncompressed (a later identity client gets plain bytes).
// `acme-next start` against `next start` on the app-router build.

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { ensureBuilt } = require('./helpers/fixtures')
const { startOracle, startAcme, stop } = require('./helpers/runtime-servers')
const { request } = require('./helpers/differential')
const { negotiate, compressible } = require('../runtime/compress')

/** A GET (or HEAD) with this Accept-Encoding. */
const get = (origin, path, headers, method = 'GET') => request(origin, { method, path, headers })

/** What is compared: encoding, Vary, and the decoded body (HTML: without per-render ids). */
function shape(r, method) {
  const text = r.body.toString().replace(/\b1\d{12}\b/g, 'T')
  return {
    status: r.status,
    'content-encoding': r.headers['content-encoding'],
    vary: r.headers.vary,
    body: method === 'HEAD' ? '' : /<html/.test(text) ? text.length > 0 : text,
  }
}

describe('negotiation (unit)', () => {
  test('accept-encoding as negotiator reads it, gzip preferred', () => {
    assert.equal(negotiate('gzip, deflate, br'), 'gzip')
    assert.equal(negotiate('deflate, gzip'), 'gzip')
    assert.equal(negotiate('deflate'), 'deflate')
    assert.equal(negotiate('br'), null)
    assert.equal(negotiate('gzip;q=0, deflate'), 'deflate')
    assert.equal(negotiate('gzip;q=0.1, identity;q=1'), null)
    assert.equal(negotiate('*'), 'gzip')
    assert.equal(negotiate('*, gzip;q=0'), 'deflate')
    assert.equal(negotiate(''), null)
    assert.equal(negotiate(undefined), null)
  })
  test('compressible types', () => {
    for (const t of ['text/html; charset=utf-8', 'application/json', 'text/x-component', 'application/manifest+json', 'image/svg+xml', 'application/javascript']) assert.ok(compressible(t), t)
    for (const t of ['image/png', 'image/webp', 'video/mp4', undefined, '']) assert.ok(!compressible(t), String(t))
  })
})

describe('compression against next start (app-router)', () => {
  let acme
  let oracle
  let chunk
  before(async () => {
    const out = ensureBuilt('app-router')
    const dir = path.join(out, 'static', '_next', 'static', 'chunks')
    const big = fs.readdirSync(dir).find((f) => f.endsWith('.js') && fs.statSync(path.join(dir, f)).size > 4096)
    chunk = `/_next/static/chunks/${big}`
    acme = await startAcme('app-router')
    oracle = await startOracle('app-router')
  })
  after(async () => {
    await stop(acme)
    await stop(oracle)
  })

  const CASES = [
    ['/', 'gzip, deflate, br'],
    ['/dynamic', 'gzip'],
    ['/dynamic', 'deflate'],
    ['/dynamic', 'gzip;q=0'],
    ['/dynamic', 'br'],
    ['/api/hello', 'gzip'],
    ['/api/edge', 'gzip'],
    ['/robots.txt', 'gzip'],
    ['/nope', 'gzip'],
    ['/images/logo.svg', 'gzip'],
    ['/about', 'identity'],
    ['/about', 'gzip', 'HEAD'],
  ]
  for (const [pathname, ae, method = 'GET'] of CASES) {
    test(`${method} ${pathname} accept-encoding: ${ae}`, async () => {
      const [a, n] = [await get(acme.origin, pathname, { 'accept-encoding': ae }, method), await get(oracle.origin, pathname, { 'accept-encoding': ae }, method)]
      assert.deepEqual(shape(a, method), shape(n, method))
    })
  }

  test('a static chunk is gzip-encoded for a gzip client and equal to the file', async () => {
    const [a, n] = [await get(acme.origin, chunk, { 'accept-encoding': 'gzip' }), await get(oracle.origin, chunk, { 'accept-encoding': 'gzip' })]
    assert.equal(a.headers['content-encoding'], n.headers['content-encoding'])
    assert.equal(a.headers['content-encoding'], 'gzip')
    assert.ok(a.raw.length < a.body.length)
    assert.deepEqual(a.body, n.body)
  })

  test('a page rendered for a gzip client is stored uncompressed', async () => {
    const first = await get(acme.origin, '/blog/compressed-post', { 'accept-encoding': 'gzip' })
    assert.equal(first.status, 200)
    assert.equal(first.headers['content-encoding'], 'gzip')
    const second = await get(acme.origin, '/blog/compressed-post', { 'accept-encoding': 'identity' })
    assert.equal(second.status, 200)
    assert.equal(second.headers['content-encoding'], undefined)
    assert.equal(second.headers['x-nextjs-cache'], 'HIT')
    assert.match(second.body.toString(), /^<!DOCTYPE html>/)
    assert.equal(second.headers.vary.split(',').filter((v) => v.trim() === 'Accept-Encoding').length, 1)
  })
})
