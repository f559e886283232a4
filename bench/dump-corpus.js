'use strict'

// Writes, for each routing fixture, the manifest and the request corpus (with the middleware
// outcome of each request) that the core-only timing example reads:
//   node bench/dump-corpus.js
//   cargo run --release -p acme-core --example corpus_timing -- \
//     bench/.work/manifest-app-router.json bench/.work/corpus-app-router.json 15
// (`TIMING_TOP=n` before `cargo` also prints the n slowest requests.) Same corpus as
// `npm run bench:routing` (4,000 requests per fixture, seed 7).

const fs = require('node:fs')
const path = require('node:path')
const h = require('../__test__/helpers/routing-harness.js')
const { resolveRoutes } = require('@next/routing')

const OUT = path.join(__dirname, '.work')

async function main() {
  fs.mkdirSync(OUT, { recursive: true })
  for (const name of h.FIXTURES) {
    const fx = h.loadFixture(name)
    const corpus = []
    for (const req of h.corpus(fx, 4000, 7)) {
      const mr = (await h.runOracle(fx, req, resolveRoutes)).mwResult
      // The napi form of the outcome (flat header lists), in the field names the example reads.
      const o = mr && h.toOutcome(mr)
      corpus.push({
        method: req.method,
        url: req.url,
        headers: Object.entries(req.headers).flat(),
        outcome: o && {
          body_sent: o.bodySent,
          request_headers: o.requestHeaders ?? null,
          response_headers: o.responseHeaders ?? null,
          redirect: o.redirect ? [o.redirect.url, o.redirect.status] : null,
          rewrite: o.rewrite ?? null,
        },
      })
    }
    fs.writeFileSync(path.join(OUT, `manifest-${name}.json`), fx.text)
    fs.writeFileSync(path.join(OUT, `corpus-${name}.json`), JSON.stringify(corpus))
    console.log(`${name}: ${corpus.length} requests -> bench/.work/corpus-${name}.json`)
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
