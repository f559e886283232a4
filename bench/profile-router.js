'use strict'

// Our side of bench:routing alone, looped, for a sampling profiler:
//   perf record -F 2000 -o /tmp/router.perf -- node --perf-basic-prof bench/profile-router.js
//   perf report -i /tmp/router.perf --no-children --sort sym      (or --sort dso,srcline)
// The same corpus and call path as bench/routing.js (runtime/router.js, recorded middleware
// outcomes replayed); the oracle runs once, untimed, to record them. PROFILE_SECONDS (default 20)
// sets how long the loop runs; PROFILE_FIXTURE=name limits it to one fixture. For source lines,
// build the addon with its line tables: CARGO_PROFILE_RELEASE_STRIP=false
// CARGO_PROFILE_RELEASE_DEBUG=line-tables-only npm run build:native (same code, same profile).

const h = require('../__test__/helpers/routing-harness.js')
const { createRouter } = require('../runtime/router.js')
const { resolveRoutes } = require('@next/routing')

const SECONDS = Number(process.env.PROFILE_SECONDS || 20)

async function main() {
  const names = process.env.PROFILE_FIXTURE ? [process.env.PROFILE_FIXTURE] : h.FIXTURES
  const fixtures = names.map((name) => {
    const fx = h.loadFixture(name)
    return { fx, router: createRouter(fx.text), reqs: h.corpus(fx, 4000, 7), outcomes: [] }
  })
  for (const f of fixtures) {
    for (const req of f.reqs) {
      const o = await h.runOracle(f.fx, req, resolveRoutes)
      f.outcomes.push(o.mwResult ? h.serverOutcome(o.mwResult) : null)
    }
  }
  const run = () => {
    for (const f of fixtures) {
      for (let i = 0; i < f.reqs.length; i++) {
        const d = f.router.resolve(f.reqs[i])
        if (d.kind === 'middleware' && f.router.resume(d.continuation, f.outcomes[i] || {}).kind === undefined) {
          throw new Error('no kind')
        }
      }
    }
  }
  for (let i = 0; i < 20; i++) run()
  const total = fixtures.reduce((a, f) => a + f.reqs.length, 0)
  const end = Date.now() + SECONDS * 1000
  let passes = 0
  const t0 = process.hrtime.bigint()
  while (Date.now() < end) {
    run()
    passes++
  }
  const perRequest = Number(process.hrtime.bigint() - t0) / passes / total
  console.log(`${passes} passes over ${total} requests, ${perRequest.toFixed(0)} ns a request`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
