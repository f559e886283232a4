'use strict'

// 'use cache' + cacheTag (cacheComponents), differentially: revalidateTag with and without a
// profile against `next start` and `acme-next start` on one build. Under acme-next the 'use cache'
// entries live in the platform store (the handlers the runtime registers).

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { buildFixture } = require('./helpers/fixtures')
const { startOracle, startAcme, stop } = require('./helpers/runtime-servers')

const FIXTURE = 'cache-use-cache'
let oracle
let acme

after(async () => {
  await stop(oracle)
  await stop(acme)
})

async function runSequence(origin) {
  const seen = []
  const log = []
  const get = async (label) => {
    const res = await fetch(`${origin}/uc`)
    const body = await res.text()
    const m = /id="render">render:(?:<!-- -->)?([^<]*)</.exec(body)
    const value = m ? m[1] : null
    if (value !== null && !seen.includes(value)) seen.push(value)
    log.push({ label, status: res.status, cache: res.headers.get('x-nextjs-cache'), value: value === null ? null : seen.indexOf(value) })
  }
  const call = async (q) => {
    const res = await fetch(`${origin}/api/revalidate?${q}`, { method: 'POST' })
    assert.equal(res.status, 200)
    await res.arrayBuffer()
  }
  const settle = async (label) => {
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`${origin}/uc`)
      await res.arrayBuffer()
      if (res.headers.get('x-nextjs-cache') === 'HIT') return get(label)
      await new Promise((r) => setTimeout(r, 100))
    }
    return get(`${label} (never settled)`)
  }
  await get('seed')
  await call('tag=uc&profile=max')
  await get("after revalidateTag(uc, 'max')")
  await settle('regenerated')
  await call('tag=uc')
  await get('after revalidateTag(uc)')
  await get('again')
  return log
}

test("'use cache' entries revalidate by tag as under next start", { timeout: 240_000 }, async () => {
  const res = buildFixture(FIXTURE)
  assert.equal(res.status, 0, `next build failed:\n${res.stdout}\n${res.stderr}`)
  oracle = await startOracle(FIXTURE)
  const expected = await runSequence(oracle.origin)
  await stop(oracle)
  oracle = null
  acme = await startAcme(FIXTURE)
  const actual = await runSequence(acme.origin)
  const line = (o) => `${o.label.padEnd(32)} ${o.status} ${String(o.cache).padEnd(11)} v${o.value}`
  if (process.env.ACME_SHOW) console.log(expected.map(line).join("\n") + "\n--\n" + actual.map(line).join("\n"))
  assert.deepEqual(actual, expected, `next start:\n${expected.map(line).join('\n')}\nacme-next:\n${actual.map(line).join('\n')}\n`)
  const at = (label) => expected.find((o) => o.label === label)
  assert.notEqual(at('regenerated').value, at('seed').value, 'the cached value was recomputed')
  assert.notEqual(at('after revalidateTag(uc)').value, at('regenerated').value)
})
