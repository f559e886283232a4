'use strict'

// A/B of two Router builds in one process, on the bench:routing corpus and call path:
//   node bench/ab-router.js <rootA> <rootB> [fixture|all] [rounds]
// Each root is a checkout with its addon built (e.g. a `git worktree` of the commit to compare,
// built with `npm run build:native`). Passes alternate between A and B (the order flips every
// round), so a shared machine's drift hits both sides; the medians and B/A are printed, with the
// median and quartiles of the rounds' own B/A (when the quartiles straddle 1, the run did not
// resolve the difference). Use it for changes of a few percent, which separate bench:routing
// runs cannot resolve.
const h = require('../__test__/helpers/routing-harness.js')
const { resolveRoutes } = require('@next/routing')
const path = require('path')
async function main() {
  const [rootA, rootB] = [process.argv[2], process.argv[3]]
  if (!rootA || !rootB) throw new Error('usage: node bench/ab-router.js <rootA> <rootB> [fixture|all] [rounds]')
  const names = process.argv[4] && process.argv[4] !== 'all' ? [process.argv[4]] : h.FIXTURES
  const rounds = Number(process.argv[5] || 15)
  const sides = [rootA, rootB].map((root) => require(path.resolve(root, 'runtime/router.js')).createRouter)
  const fixtures = []
  for (const name of names) {
    const fx = h.loadFixture(name)
    const f = { fx, routers: sides.map((c) => c(fx.text)), reqs: h.corpus(fx, 4000, 7), outcomes: [] }
    for (const req of f.reqs) { const o = await h.runOracle(fx, req, resolveRoutes); f.outcomes.push(o.mwResult ? h.serverOutcome(o.mwResult) : null) }
    fixtures.push(f)
  }
  const run = (s) => { for (const f of fixtures) { const r = f.routers[s]; for (let i = 0; i < f.reqs.length; i++) { const d = r.resolve(f.reqs[i]); if (d.kind === 'middleware') r.resume(d.continuation, f.outcomes[i] || {}).kind } } }
  const total = fixtures.reduce((a, f) => a + f.reqs.length, 0)
  const times = [[], []]
  for (let r = 0; r < rounds + 2; r++) for (const s of r % 2 ? [0, 1] : [1, 0]) { const t = process.hrtime.bigint(); run(s); if (r >= 2) times[s].push(Number(process.hrtime.bigint() - t) / 1e3 / total) }
  const sorted = (xs) => [...xs].sort((a, b) => a - b)
  const med = (xs) => sorted(xs)[xs.length >> 1]
  // Each round runs both sides back to back: its B/A is the least exposed to the machine's
  // drift, and the spread of those ratios says what difference this run can resolve.
  const ratios = sorted(times[1].map((b, i) => b / times[0][i]))
  const q = (f) => ratios[Math.min(ratios.length - 1, Math.floor(f * ratios.length))].toFixed(3)
  console.log(
    `${names.join(',')}: A ${med(times[0]).toFixed(3)} µs/req  B ${med(times[1]).toFixed(3)} µs/req  B/A ${(med(times[1]) / med(times[0])).toFixed(3)}` +
      `  (per round: median ${q(0.5)}, quartiles ${q(0.25)}–${q(0.75)})`,
  )
}
main().catch((e) => {
  console.error(e)
  process.exit(1)
})
