'use strict'

// `acme-next start` against `next start`, differentially: every fixture is built once through the
// adapter; `next start` serves its own copy of the build, `acme-next start` serves the output
// copied outside the repository. The same requests go to both; status, location, content-type,
// cache-control, x-nextjs-cache and the (normalized) body must agree, except for the differences
// listed in KNOWN_DIFFERENCES with their reason.
//
// Part of `npm test`; alone: `npm run test:runtime`.

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const http = require('node:http')
const zlib = require('node:zlib')
const { buildFixture } = require('./helpers/fixtures')
const { startOracle, startAcme, stop } = require('./helpers/runtime-servers')

/** One raw HTTP request (the path is sent as written: no URL normalization). */
function request(origin, { method = 'GET', path, headers = {} }) {
  const { hostname, port } = new URL(origin)
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, method, path, headers: { 'accept-encoding': 'identity', ...headers } }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        let body = Buffer.concat(chunks)
        if (res.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body)
        resolve({ status: res.statusCode, headers: res.headers, body })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

const VOLATILE = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z|\b1\d{12}\b/g
// A dynamic RSC render keys its viewport and metadata elements with the render's request id, a
// fresh nanoid per request (`getFlightViewportKey`/`getFlightMetadataKey` in Next's
// app-render.js: `requestId + 'v'` / `requestId + 'm'`): three `next start` responses to
// `/dynamic?_rsc` carried three different keys there and were otherwise identical.
const RSC_REQUEST_ID = /("\$L?[0-9a-z]+",)"[A-Za-z0-9_-]{21}([vm])"/g

/** What is compared of a body: the `<h1>` (HTML), JSON without times, a hash otherwise. */
function bodyDigest(contentType, body) {
  const text = body.toString('utf8')
  if (/text\/html/.test(contentType)) {
    const h1 = [...text.matchAll(/<h1[^>]*>([\s\S]*?)<\/h1>/g)].map((m) => m[1].replace(/<!-- -->/g, ''))
    const loading = /id="loading"/.test(text) ? ' [fallback shell]' : ''
    return `h1=${JSON.stringify(h1)}${loading}`
  }
  if (/json/.test(contentType)) {
    try {
      return `json=${JSON.stringify(JSON.parse(text.replace(VOLATILE, 'T')))}`
    } catch {
      return `text=${text.replace(VOLATILE, 'T')}`
    }
  }
  if (/x-component/.test(contentType)) {
    const masked = text.replace(VOLATILE, 'T').replace(RSC_REQUEST_ID, '$1"<request-id>$2"')
    return `rsc=${crypto.createHash('sha256').update(masked).digest('hex').slice(0, 16)}`
  }
  return `sha256=${crypto.createHash('sha256').update(body).digest('hex').slice(0, 16)} bytes=${body.length}`
}

function normContentType(v) {
  if (!v) return undefined
  return String(v).toLowerCase().replace('application/javascript', 'text/javascript').replace(/\s+/g, '')
}

function normCacheControl(v) {
  return v === undefined ? undefined : String(v).split(',').map((s) => s.trim()).join(', ')
}

/** The compared view of a response. */
function view(res, method) {
  return {
    status: res.status,
    location: res.headers.location,
    'content-type': normContentType(res.headers['content-type']),
    'cache-control': normCacheControl(res.headers['cache-control']),
    'x-nextjs-cache': res.headers['x-nextjs-cache'],
    body: method === 'HEAD' || res.status === 304 ? '' : bodyDigest(String(res.headers['content-type'] || ''), res.body),
  }
}

const RSC = { rsc: '1' }

const REQUESTS = {
  'app-router': (buildId) => [
    { path: '/' },
    { path: '/about' },
    { path: '/about?_rsc', headers: RSC },
    { path: '/about?_rsc=_i_aeImnuN6u1u1r', headers: { ...RSC, 'next-router-prefetch': '1', 'next-router-segment-prefetch': '/_tree' } },
    { path: '/isr' },
    { path: '/blog/first' },
    { path: '/blog/second?_rsc', headers: RSC },
    { path: '/blog/new-post' },
    { path: '/blog/new-post' },
    { path: '/products/1' },
    { path: '/products/3' },
    { path: '/dynamic' },
    { path: '/dynamic?_rsc', headers: RSC },
    { path: '/cached' },
    { path: '/nope' },
    { path: '/nope?_rsc', headers: RSC },
    { path: '/api/hello?x=1' },
    { path: '/api/hello', headers: { 'x-no-cors': '1' } },
    { path: '/api/static' },
    { path: '/api/edge?q=1' },
    { path: '/robots.txt' },
    { path: '/robots.txt', method: 'HEAD' },
    { path: '/robots.txt', headers: { range: 'bytes=0-3' } },
    { path: '/robots.txt', headers: { range: 'bytes=500-600' } },
    { path: '/images/logo.svg' },
    { path: '/data/file.json' },
    { path: '/.well-known/security.txt' },
    { path: '/favicon.ico' },
    { path: `/_next/static/${buildId}/_buildManifest.js` },
    { path: `/_next/static/${buildId}/nope.js` },
    { path: '/old-blog/hello' },
    { path: '/temp-redirect' },
    { path: '/legacy?go=home' },
    { path: '/legacy' },
    { path: '/about/' },
    { path: '/before-files-about' },
    { path: '/after-files/x' },
    { path: '/header-rewrite', headers: { 'x-rewrite-me': 'yes' } },
    { path: '/header-rewrite' },
    { path: '/fallback-rewrite/first' },
    { path: '/rewrite-me' },
    { path: '/old' },
    { path: '/mw-response' },
    { path: '/%2e%2e/%2e%2e/etc/passwd' },
    { path: '/_next/static/../../package.json' },
    { path: '/_next/static/%2e%2e/%2e%2e/package.json' },
    { path: '/manifest.json' },
    { path: '/server/node_modules/next/package.json' },
  ],
  'pages-router': (buildId) => [
    { path: '/' },
    { path: '/ssr?a=1' },
    { path: `/_next/data/${buildId}/ssr.json` },
    { path: '/isr' },
    { path: `/_next/data/${buildId}/isr.json` },
    { path: '/posts/1' },
    { path: '/posts/3' },
    { path: '/posts/3' },
    { path: `/_next/data/${buildId}/posts/2.json` },
    { path: '/posts/404' },
    { path: '/docs/intro' },
    { path: '/docs/nope' },
    { path: '/fallback/prebuilt' },
    { path: '/fallback/new' },
    { path: '/api/hello?q=1' },
    { path: '/api/edge' },
    { path: '/hello.txt' },
    { path: '/hello.txt', method: 'HEAD' },
    { path: '/404' },
    { path: '/nope' },
    { path: '/%2e%2e/%2e%2e/etc/passwd' },
    { path: '/_next/static/../../package.json' },
  ],
  'i18n-basepath': () => [
    { path: '/base/' },
    { path: '/base' },
    { path: '/base/fr/' },
    { path: '/base/about/' },
    { path: '/base/about/?tag=x' },
    { path: '/base/fr/about/' },
    { path: '/base/posts/1/' },
    { path: '/base/fr/posts/1/' },
    { path: '/base/posts/9/' },
    { path: '/base/ssr/' },
    { path: '/base/api/hello/' },
    { path: '/base/hello.txt' },
    { path: '/base/old/1/' },
    { path: '/base/before/x/' },
    { path: '/base/after/1/' },
    { path: '/base/fb/x/' },
    { path: '/' },
    { path: '/about/' },
    { path: '/base/nope/' },
  ],
}

// Differences between `next start` and `acme-next start` that are accepted, with the reason.
// Keyed by `<fixture> <method> <path>[ <headers>]`; the value is the reason (any field may
// differ) or `{ fields, reason }` (only those fields may differ; the others are still compared).
const KNOWN_DIFFERENCES = {
  'app-router GET /robots.txt {"range":"bytes=500-600"}':
    'next start answers an unsatisfiable Range with 500 (an error in its static handler); acme answers 416 + content-range as RFC 9110 asks',
}

const FIXTURES = ['app-router', 'pages-router', 'i18n-basepath']
const differences = []
let compared = 0

for (const name of FIXTURES) {
  describe(`acme-next start vs next start: ${name}`, { timeout: 600_000 }, () => {
    let oracle
    let acme
    let buildId
    before(async () => {
      const res = buildFixture(name)
      assert.equal(res.status, 0, `next build of ${name} failed:\n${res.stdout}\n${res.stderr}`)
      buildId = require('node:fs').readFileSync(`${res.dir}/.next/BUILD_ID`, 'utf8').trim()
      oracle = await startOracle(name)
      acme = await startAcme(name)
    })
    after(async () => {
      await stop(oracle)
      await stop(acme)
    })

    test('same responses as next start', async () => {
      const mismatches = []
      for (const r of REQUESTS[name](buildId)) {
        const method = r.method || 'GET'
        const a = view(await request(oracle.origin, r), method)
        const b = view(await request(acme.origin, r), method)
        compared++
        const fields = Object.keys(a).filter((k) => a[k] !== b[k])
        if (!fields.length) continue
        const key = `${name} ${method} ${r.path}${r.headers ? ` ${JSON.stringify(r.headers)}` : ''}`
        const entry = KNOWN_DIFFERENCES[key]
        const known = entry && (typeof entry === 'string' || fields.every((f) => entry.fields.includes(f))) ? entry.reason || entry : undefined
        const diff = fields.map((f) => `${f}: next=${JSON.stringify(a[f])} acme=${JSON.stringify(b[f])}`).join('; ')
        differences.push(`${key}: ${diff}${known ? ` (known: ${known})` : ''}`)
        if (!known) mismatches.push(`${key}\n    ${diff}`)
      }
      assert.deepEqual(mismatches, [], `responses differ:\n${mismatches.join('\n')}`)
    })

    if (name === 'app-router') {
      test('ISR page regenerates after revalidate on both servers', { timeout: 60_000 }, async () => {
        const time = (res) => /id="time">([^<]+)</.exec(res.body.toString())[1]
        for (const server of [oracle, acme]) {
          const first = await request(server.origin, { path: '/isr-fast' })
          await new Promise((r) => setTimeout(r, 3000))
          const stale = await request(server.origin, { path: '/isr-fast' })
          assert.equal(stale.headers['x-nextjs-cache'], 'STALE', `${server.origin} after revalidate`)
          let fresh
          for (let i = 0; i < 20; i++) {
            await new Promise((r) => setTimeout(r, 250))
            fresh = await request(server.origin, { path: '/isr-fast' })
            if (time(fresh) !== time(first)) break
          }
          assert.notEqual(time(fresh), time(first), `${server.origin} regenerated /isr-fast`)
          assert.match(fresh.headers['cache-control'], /s-maxage=2\b/)
        }
      })
    }
  })
}

after(() => {
  console.log(`compared ${compared} requests; ${differences.length} differences`)
  for (const d of differences) console.log(`  ${d}`)
})
