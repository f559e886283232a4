'use strict'

// `acme-next start` against `next start`, differentially: every fixture is built once through the
// adapter; `next start` serves its own copy of the build, `acme-next start` serves the output
// copied outside the repository. The same requests go to both; status, location, content-type,
// cache-control, x-nextjs-cache, x-action-revalidated and the (normalized) body must agree, except for the differences
// listed in KNOWN_DIFFERENCES with their reason.
//
// Part of `npm test`; alone: `npm run test:runtime`.

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { buildFixture } = require('./helpers/fixtures')
const { startOracle, startAcme, stop } = require('./helpers/runtime-servers')
const { request, compareServers } = require('./helpers/differential')

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
      const result = await compareServers(name, oracle.origin, acme.origin, buildId)
      compared += result.compared
      differences.push(...result.differences)
      const { mismatches } = result
      assert.deepEqual(mismatches, [], `responses differ:\n${mismatches.join('\n')}`)
    })

    if (name === 'app-router') {
      test('prerender headers as next start sends them (x-nextjs-prerender, x-nextjs-stale-time)', async () => {
        // Twice (`1, 1`) on a build-time page from the cache, once on one rendered at runtime.
        const paths = [{ path: '/about' }, { path: '/about?_rsc', headers: { rsc: '1' } }, { path: '/blog/third-x' }, { path: '/blog/third-x' }, { path: '/nope' }, { path: '/nope?_rsc', headers: { rsc: '1' } }]
        const seen = []
        for (const server of [oracle, acme]) {
          const seq = []
          for (const r of paths) {
            const res = await request(server.origin, r)
            seq.push(`${r.path} ${res.status} prerender=${res.headers['x-nextjs-prerender']} stale-time=${res.headers['x-nextjs-stale-time']}`)
          }
          seen.push(seq)
        }
        assert.ok(seen[0].some((l) => l.includes('prerender=1, 1')), seen[0].join('\n'))
        assert.deepEqual(seen[1], seen[0])
      })

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
