'use strict'

// The `config-flags` fixture: next.config options that change responses beyond routes:
// `skipTrailingSlashRedirect` (`/about/` is served, not redirected), `skipMiddlewareUrlNormalize`
// (middleware sees a `_next/data` URL as sent; the pages show what it saw), `generateEtags: false`,
// `poweredByHeader: false` and `compress: false` — `acme-next start` against `next start` on
// the same build, with the headers these options decide compared too.

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { ensureBuilt } = require('./helpers/fixtures')
const { startOracle, startAcme, stop } = require('./helpers/runtime-servers')
const { request, view, compareEach } = require('./helpers/differential')

const GZIP = { 'accept-encoding': 'gzip' }
// What the options decide: until the twenty-ninth session acme sent kept renders gzipped with
// `compress: false` (they are stored compressed), and ETags on static files and the 404 page
// with `generateEtags: false`.
const EXTRA = ['etag', 'x-powered-by', 'content-encoding', 'last-modified']

function flagsView(res, method) {
  const out = view(res, method)
  for (const name of EXTRA) if (res.headers[name] !== undefined) out[name] = res.headers[name]
  return out
}

describe('config-flags fixture against next start', () => {
  let acme
  let oracle
  let requests
  before(async () => {
    const out = ensureBuilt('config-flags')
    const manifest = require(require('node:path').join(out, 'manifest.json'))
    const data = `/_next/data/${manifest.buildId}`
    const chunk = manifest.staticFiles.find((s) => s.pathname.startsWith('/_next/static/') && s.pathname.endsWith('.js')).pathname
    requests = [
      { path: '/', headers: GZIP },
      { path: '/about', headers: GZIP },
      { path: '/about/' },
      { path: '/file.txt' },
      { path: '/file.txt/' },
      { path: chunk, headers: GZIP },
      { path: '/nope/' },
      { path: '/nope', headers: { rsc: '1' } },
      { path: '/blog/first', headers: GZIP },
      { path: '/blog/first/' },
      { path: '/blog/new', headers: GZIP },
      { path: '/blog/new', headers: GZIP },
      { path: '/posts/1', headers: GZIP },
      { path: '/posts/1/' },
      { path: `${data}/posts/1.json`, headers: GZIP },
      { path: `${data}/ssr.json`, headers: { 'x-nextjs-data': '1' } },
      { path: '/ssr' },
      { path: '/ssr/' },
      { path: '/headers/' },
      { path: '/api/hello/', headers: GZIP },
      { path: '/api/time/' },
      { path: '/mw-rewrite/' },
      { path: '/go/x/' },
    ]
    acme = await startAcme('config-flags')
    oracle = await startOracle('config-flags', { hostname: 'localhost' })
  })
  after(async () => {
    await stop(acme)
    await stop(oracle)
  })

  test('answers as next start, the options\' headers included', async () => {
    const results = await compareEach(oracle.origin, acme.origin, requests, { see: flagsView })
    assert.deepEqual(results.filter((r) => !r.same), [])
  })

  test('the options are in force on next start (the comparison shows them)', async () => {
    const home = await request(oracle.origin, { path: '/', headers: GZIP })
    assert.equal(home.headers['content-encoding'], undefined)
    assert.equal(home.headers['x-powered-by'], undefined)
    assert.equal((await request(oracle.origin, { path: '/file.txt' })).headers.etag, undefined)
    assert.equal((await request(oracle.origin, { path: '/about/' })).status, 200)
    assert.match(String((await request(oracle.origin, { path: '/ssr/' })).body), /middleware saw <!-- -->\/ssr\//)
  })
})
