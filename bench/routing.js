'use strict'

// Resolves the routing corpus through the napi Router and through @next/routing's
// resolveRoutes in one run; prints agreement and the speedup of the Router.
// Run: npm run bench:routing   (needs npm run build:native)
//
// What is timed, identically on both sides: every request of the corpus (same order, same
// requests) is routed from its URL string and headers, and when routing invokes middleware, the
// middleware result recorded in the agreement pass is replayed (no middleware code runs in the
// timed passes on either side: the oracle's invokeMiddleware returns the recorded
// MiddlewareResult, our side resumes with the same result in the shape runtime/server.js passes
// it, built beforehand). The oracle builds its URL and Headers from the request inside the timed
// loop (that is its input); our side is called exactly as the runtime calls it: through
// runtime/router.js (`resolve({ method, url, headers })` with `headers` as Node's `req.headers`,
// then `resume(continuation, outcome)`), JS glue included, reading `kind` (and, for middleware,
// `continuation`) as the runtime does. Each side runs ROUNDS passes, alternating; the reported
// times are the medians of the passes. The Router keeps no cache of decisions.

const h = require('../__test__/helpers/routing-harness.js')
const { createRouter } = require('../runtime/router.js')
const { resolveRoutes } = require('@next/routing')

const PER_FIXTURE = Number(process.env.BENCH_PER_FIXTURE || 4000)
const ROUNDS = Number(process.env.BENCH_ROUNDS || 7)

async function main() {
  const fixtures = h.FIXTURES.map((name) => {
    const fx = h.loadFixture(name)
    return { fx, router: createRouter(fx.text), reqs: h.corpus(fx, PER_FIXTURE, 7) }
  })

  // Agreement, and the oracle's middleware results to replay in the timed runs.
  let agree = 0
  let total = 0
  for (const f of fixtures) {
    f.oracle = []
    for (const req of f.reqs) {
      const o = await h.runOracle(f.fx, req, resolveRoutes)
      f.oracle.push(o)
      total++
      if (o.error) {
        if (f.router.resolve(req).kind === 'badRequest') agree++
        continue
      }
      const ours = h.runOurs(f.router, req, o)
      // Agreement as in __test__/routing.test.js: equal, or a documented next-start deviation.
      if (h.agrees(f.fx, req, o, ours)) agree++
    }
    f.outcomes = f.oracle.map((o) => (o.mwResult ? h.serverOutcome(o.mwResult) : null))
  }

  // Timed: the same work on both sides (route the request, replay a precomputed middleware result).
  // Each side's time per fixture too (summed over the fixture's requests in each pass), to say
  // where the ratio is furthest from the target.
  for (const f of fixtures) {
    f.oracleTimes = []
    f.oursTimes = []
  }
  const oracleRun = async () => {
    for (const f of fixtures) {
      const t0 = process.hrtime.bigint()
      const m = f.fx.manifest
      const routes = { ...m.routing, middlewareMatchers: m.middlewareMatchers }
      for (let i = 0; i < f.reqs.length; i++) {
        const req = f.reqs[i]
        const mw = f.oracle[i].mwResult
        try {
          await resolveRoutes({
            url: new URL(req.url), buildId: m.buildId, basePath: m.config.basePath || '', i18n: m.config.i18n,
            headers: new Headers(req.headers), requestBody: null, pathnames: f.fx.pathnames, routes,
            invokeMiddleware: async () => mw,
          })
        } catch {}
      }
      f.oracleTimes.push(Number(process.hrtime.bigint() - t0) / 1e6)
    }
  }
  const oursRun = () => {
    for (const f of fixtures) {
      const t0 = process.hrtime.bigint()
      for (let i = 0; i < f.reqs.length; i++) {
        const req = f.reqs[i]
        const d = f.router.resolve(req)
        if (d.kind === 'middleware' && f.router.resume(d.continuation, f.outcomes[i] || {}).kind === undefined) throw new Error('no kind')
      }
      f.oursTimes.push(Number(process.hrtime.bigint() - t0) / 1e6)
    }
  }
  await oracleRun()
  oursRun()
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
  const oracleTimes = []
  const oursTimes = []
  for (let r = 0; r < ROUNDS; r++) {
    let t = process.hrtime.bigint()
    await oracleRun()
    oracleTimes.push(Number(process.hrtime.bigint() - t) / 1e6)
    t = process.hrtime.bigint()
    oursRun()
    oursTimes.push(Number(process.hrtime.bigint() - t) / 1e6)
  }
  const tOracle = median(oracleTimes)
  const tOurs = median(oursTimes)
  const perOracle = (tOracle * 1000) / total
  const perOurs = (tOurs * 1000) / total
  const build = require('../binding.js').nativeBuild()
  console.log(`requests: ${total} (${fixtures.map((f) => f.fx.name).join(', ')}), median of ${ROUNDS} rounds, no decision cache, addon build: ${build}`)
  // (The warm-up pass is left out.)
  for (const f of fixtures) {
    const o = median(f.oracleTimes.slice(1))
    const u = median(f.oursTimes.slice(1))
    const n = f.reqs.length
    console.log(`  ${f.fx.name}: oracle ${((o * 1000) / n).toFixed(2)} µs, ours ${((u * 1000) / n).toFixed(2)} µs a request, ${(o / u).toFixed(1)}x`)
  }
  console.log(`@next/routing resolveRoutes: ${tOracle.toFixed(1)} ms (${perOracle.toFixed(2)} µs/request)`)
  console.log(`napi Router:                 ${tOurs.toFixed(1)} ms (${perOurs.toFixed(2)} µs/request)`)
  console.log(`BENCH routing agreement=${agree}/${total} speedup=${(tOracle / tOurs).toFixed(1)}`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
