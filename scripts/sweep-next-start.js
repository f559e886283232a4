'use strict'

// Sends the same requests to `next start` and `acme-next start` on one fixture's build and prints
// every response that differs, field by field (the fields `__test__/helpers/differential.js`
// compares). A search tool, not a test: differences it finds become requests of the runtime
// differential (with a fix, or as a listed known difference).
//   node scripts/sweep-next-start.js <fixture> [count] [seed]
// The requests: for the routing differential's fixtures (app-router, pages-router, i18n-basepath,
// webpack, i18n-middleware, config-flags, app-basepath), the GET and HEAD requests among `count`
// (default 300) of the corpus `seed` (default 11) draws (hostile paths, encodings, locales, data
// URLs, RSC headers, cookies); for any fixture, every
// output's URL (a dynamic route's with a made-up parameter), with a trailing slash and as an RSC
// request. They run in order on both servers, so state (ISR, revalidation) evolves alike;
// responses that depend on timing (a background regeneration's race) may differ between runs.

const http = require('node:http')
const h = require('../__test__/helpers/routing-harness.js')
const { startOracle, startAcme, stop } = require('../__test__/helpers/runtime-servers.js')
const { view } = require('../__test__/helpers/differential.js')

const [name, count = '300', seed = '11'] = process.argv.slice(2)
if (!name) {
  console.error('usage: node scripts/sweep-next-start.js <fixture> [count] [seed]')
  process.exit(2)
}

/** Every output's URL, with a trailing slash and as an RSC request. */
function outputRequests(manifest) {
  const paths = new Set()
  const concrete = (p) => p.replace(/\[\.{0,3}[^\]]+\]/g, 'zz')
  for (const s of manifest.staticFiles) if (!s.pathname.startsWith(`${manifest.config.basePath || ''}/_next/static`)) paths.add(s.pathname)
  for (const p of manifest.prerenders) paths.add(concrete(p.pathname))
  for (const f of Object.values(manifest.functions)) if (f.pathname) paths.add(concrete(f.pathname))
  const out = []
  for (const p of [...paths].sort()) {
    out.push({ method: 'GET', path: p, headers: {} })
    if (!p.includes('.')) {
      out.push({ method: 'GET', path: `${p}/`, headers: {} })
      out.push({ method: 'GET', path: `${p}?a=1`, headers: { rsc: '1' } })
    }
  }
  return out
}

/** The corpus's GET and HEAD requests as path and header record. */
function corpusRequests(fx) {
  if (!h.DIFFERENTIAL_FIXTURES.includes(fx.name)) return []
  const out = []
  for (const req of h.corpus(fx, Number(count), Number(seed))) {
    if (req.method !== 'GET' && req.method !== 'HEAD') continue
    const u = new URL(req.url)
    const headers = {}
    const flat = Array.isArray(req.headers) ? req.headers : Object.entries(req.headers).flat()
    for (let i = 0; i + 1 < flat.length; i += 2) headers[flat[i]] = flat[i + 1]
    out.push({ method: req.method, path: u.pathname + u.search, headers })
  }
  return out
}

function send(origin, { method, path: p, headers }) {
  const { hostname, port } = new URL(origin)
  return new Promise((resolve) => {
    const done = (status) => resolve({ status, headers: {}, body: Buffer.alloc(0) })
    let r
    try {
      r = http.request({ hostname, port, method, path: p, headers, insecureHTTPParser: true }, (res) => {
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }))
        res.on('error', (e) => done(`error ${e.code}`))
      })
    } catch (e) {
      return done(`not sent: ${e.code}`)
    }
    r.setTimeout(20_000, () => r.destroy(new Error('timeout')))
    r.on('error', (e) => done(`error ${e.code || e.message}`))
    r.end()
  })
}

async function main() {
  const fx = h.loadFixture(name)
  const reqs = [...corpusRequests(fx), ...outputRequests(fx.manifest)]
  const acme = await startAcme(name)
  const oracle = await startOracle(name)
  let same = 0
  const lines = []
  try {
    for (const r of reqs) {
      const a = view(await send(oracle.origin, r), r.method)
      const b = view(await send(acme.origin, r), r.method)
      const fields = Object.keys(a).filter((k) => a[k] !== b[k])
      if (!fields.length) {
        same++
        continue
      }
      lines.push(`${r.method} ${r.path} ${JSON.stringify(r.headers)}`)
      for (const f of fields) lines.push(`    ${f}: next=${JSON.stringify(a[f])} acme=${JSON.stringify(b[f])}`.slice(0, 400))
    }
  } finally {
    await stop(acme)
    await stop(oracle)
  }
  console.log(lines.join('\n'))
  console.log(`${name}: ${reqs.length} requests, ${same} answered alike, ${reqs.length - same} differ`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
