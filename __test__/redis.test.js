'use strict'

// The Redis cache store for real: a `redis-server` on a loopback port (own directory, nothing
// saved, stopped by PID) and two `acme-next start` instances on one build of the cache-tags
// fixture, each with its own copy of the output (nothing shared but Redis).

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { ensureBuilt } = require('./helpers/fixtures')
const { freePort } = require('./helpers/net')
const { startAcme, stop } = require('./helpers/runtime-servers')
const { createRedisCacheStore } = require('../runtime/cache/redis')

const FIXTURE = 'cache-tags'
const HAS_REDIS = spawnSync('redis-server', ['--version']).status === 0

let redis
let tmp
let renderLog
let a
let b

async function startRedis(port, dir) {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--enable-debug-command', 'local']
  const child = spawn('redis-server', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.output = ''
  child.stdout.on('data', (d) => (child.output += d))
  child.stderr.on('data', (d) => (child.output += d))
  const deadline = Date.now() + 10_000
  while (!/Ready to accept connections/.test(child.output)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start:\n${child.output}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  return { child, port }
}

async function stopRedis(r, signal = 'SIGTERM') {
  if (!r || r.child.exitCode !== null || r.child.signalCode !== null) return
  const exited = new Promise((resolve) => r.child.once('exit', resolve))
  process.kill(r.child.pid, signal)
  await exited
}

function field(body, name) {
  const m = new RegExp(`id="${name}">${name}:(?:<!-- -->)?([^<]*)<`).exec(body)
  return m ? m[1] : null
}

async function get(server, p) {
  const res = await fetch(server.origin + p)
  const body = await res.text()
  return { status: res.status, cache: res.headers.get('x-nextjs-cache'), render: field(body, 'render'), ucache: field(body, 'ucache') }
}

async function post(server, p) {
  const res = await fetch(server.origin + p, { method: 'POST' })
  assert.equal(res.status, 200, p)
  await res.arrayBuffer()
}

function renders(name) {
  if (!fs.existsSync(renderLog)) return 0
  return fs.readFileSync(renderLog, 'utf8').split('\n').filter((l) => l.startsWith(`${name} `)).length
}

before(async () => {
  // A real Redis or a failure that says so: a skipped suite would pass with nothing tested.
  assert.ok(HAS_REDIS, "no redis-server on PATH: install Debian's redis-server (`.ci/run` does)")
  ensureBuilt(FIXTURE)
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'acme-redis-'))
  renderLog = path.join(tmp, 'renders.log')
  redis = await startRedis(await freePort(), tmp)
  const env = { ACME_CACHE_URL: `redis://127.0.0.1:${redis.port}/3`, RENDER_LOG: renderLog }
  a = await startAcme(FIXTURE, { env })
  b = await startAcme(FIXTURE, { env })
})

after(async () => {
  await stop(a)
  await stop(b)
  await stopRedis(redis)
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
})

test('the store keeps deployments apart and stores large bodies in chunks', async () => {
  const url = `redis://127.0.0.1:${redis.port}/4`
  const one = createRedisCacheStore(url, { namespace: 'acme:one:' })
  const two = createRedisCacheStore(url, { namespace: 'acme:two:' })
  try {
    const big = Buffer.alloc(1024 * 1024 + 17, 7)
    big.write('head', 0)
    await one.set('/big', { status: 200, headers: { a: 'b' }, body: big, createdAt: 5, tags: ['t'] })
    const back = await one.get('/big')
    assert.ok(back.body.equals(big), 'the body comes back whole')
    assert.equal(back.status, 200)
    assert.deepEqual(back.headers, { a: 'b' })
    assert.equal(await two.get('/big'), null, 'another deployment does not see it')
    const chunks = await one.client.command('KEYS', 'acme:one:c:/big:*')
    assert.equal(chunks.length, 5, 'stored as 256 KiB chunks')
    await one.updateTags(['t'])
    assert.ok((await one.getTagStates(['t'])).t.expired > 0)
    assert.deepEqual(await two.getTagStates(['t']), {})
    const token = await one.lock('k', 5000)
    assert.ok(token)
    assert.equal(await one.lock('k', 5000), null, 'one holder at a time')
    await one.unlock('k', 'not-the-token')
    assert.equal(await one.lock('k', 5000), null, 'only the holder releases it')
    await one.unlock('k', token)
    assert.ok(await one.lock('k', 5000))
  } finally {
    one.close()
    two.close()
  }
})

test('a page cached by one instance is a hit on the other', async () => {
  await post(a, '/api/revalidate?path=/by-path')
  const first = await get(a, '/by-path')
  assert.equal(first.cache, 'MISS')
  const onB = await get(b, '/by-path')
  assert.equal(onB.cache, 'HIT')
  assert.equal(onB.render, first.render, 'B serves what A rendered')
})

test('revalidateTag and revalidatePath through one instance are seen by the other', async () => {
  const before = await get(b, '/tagged')
  await post(a, '/api/revalidate?tag=ucache')
  const expired = await get(b, '/tagged')
  assert.equal(expired.cache, 'MISS', 'revalidateTag(tag) expired it everywhere')
  assert.notEqual(expired.render, before.render)
  assert.notEqual(expired.ucache, before.ucache, 'unstable_cache entry tagged ucache recomputed')
  await post(a, '/api/revalidate?tag=ucache&profile=max')
  assert.equal((await get(b, '/tagged')).cache, 'STALE', "revalidateTag(tag, 'max') made it stale everywhere")

  await post(b, '/api/revalidate?path=/by-path')
  const onA = await get(a, '/by-path')
  assert.equal(onA.cache, 'MISS', 'revalidatePath through B expired it on A')
  assert.equal((await get(b, '/by-path')).render, onA.render)
})

test('a stale ISR page under concurrent load on both instances is regenerated once', { timeout: 60_000 }, async () => {
  // The seed is as old as the build (the seed pack's time): wait until it is stale (revalidate 5 s).
  const manifest = JSON.parse(fs.readFileSync(path.join(a.dir, 'output', 'manifest.json'), 'utf8'))
  const built = fs.statSync(path.join(a.dir, 'output', manifest.seedPack.file)).mtimeMs
  if (Date.now() < built + 5500) await new Promise((r) => setTimeout(r, built + 5500 - Date.now()))
  for (let round = 0; round < 2; round++) {
    const startCount = renders('isr-race')
    const burst = []
    for (let i = 0; i < 20; i++) burst.push(get(a, '/isr-race'), get(b, '/isr-race'))
    const answers = await Promise.all(burst)
    assert.ok(answers.every((r) => r.status === 200))
    assert.ok(answers.some((r) => r.cache === 'STALE'), `round ${round}: the burst saw it stale`)
    let settled
    for (let i = 0; i < 100; i++) {
      const [x, y] = await Promise.all([get(a, '/isr-race'), get(b, '/isr-race')])
      if (x.cache === 'HIT' && y.cache === 'HIT' && x.render === y.render) {
        settled = x
        break
      }
      await new Promise((r) => setTimeout(r, 100))
    }
    assert.ok(settled, `round ${round}: both instances serve the regenerated page`)
    assert.equal(renders('isr-race') - startCount, 1, `round ${round}: exactly one render for ${answers.length} requests on two instances`)
    // Next round: wait until the regenerated entry is stale again.
    if (round === 0) await new Promise((r) => setTimeout(r, 5500))
  }
})

test('Redis that stops answering for a while: requests keep succeeding', { timeout: 60_000 }, async () => {
  const { createRedisClient } = require('../runtime/cache/resp')
  const admin = createRedisClient(`redis://127.0.0.1:${redis.port}`, { timeoutMs: 10_000 })
  try {
    // DEBUG SLEEP blocks the whole server, longer than the instances' 1 s command timeout.
    const sleeping = admin.command('DEBUG', 'SLEEP', '2.5')
    await new Promise((r) => setTimeout(r, 100))
    const answers = await Promise.all([get(a, '/by-path'), get(b, '/tagged'), get(a, '/legacy'), get(b, '/isr-race')])
    assert.deepEqual(answers.map((r) => r.status), [200, 200, 200, 200])
    await sleeping
    // Back to sharing once Redis answers again.
    await new Promise((r) => setTimeout(r, 2500))
    await post(a, '/api/revalidate?path=/by-path')
    const fresh = await get(a, '/by-path')
    assert.equal(fresh.cache, 'MISS')
      assert.equal((await get(b, '/by-path')).render, fresh.render)
  } finally {
    admin.close()
  }
})

test('Redis killed mid-run and restarted: every request succeeds and the cache recovers', { timeout: 60_000 }, async () => {
  const failures = []
  let served = 0
  let running = true
  const paths = ['/by-path', '/tagged', '/legacy', '/isr-race']
  const loop = async (server) => {
    for (let i = 0; running; i++) {
      const p = paths[i % paths.length]
      try {
        const r = await get(server, p)
        if (r.status !== 200) failures.push(`${p}: ${r.status}`)
        served++
      } catch (err) {
        failures.push(`${p}: ${err.message}`)
      }
      await new Promise((r) => setTimeout(r, 10))
    }
  }
  const loops = [loop(a), loop(b)]
  await new Promise((r) => setTimeout(r, 500))
  const port = redis.port
  await stopRedis(redis, 'SIGKILL')
  // Revalidation while Redis is away: applied by the instance that made it, sent once it is back.
  await post(a, '/api/revalidate?path=/by-path')
  await new Promise((r) => setTimeout(r, 1500))
  redis = await startRedis(port, tmp)
  await new Promise((r) => setTimeout(r, 3000)) // reconnect backoff is at most 2 s
  running = false
  await Promise.all(loops)
  assert.deepEqual(failures, [], `no failed request among ${served}`)
  assert.ok(served > 50, `the load ran (${served} requests)`)

  // Recovered: shared again (Redis restarted empty: the revalidation made during the outage was
  // replayed, so the seed counts as expired and renders once).
  await post(b, '/api/revalidate?path=/by-path')
  const fresh = await get(a, '/by-path')
  assert.equal(fresh.cache, 'MISS')
  const onB = await get(b, '/by-path')
  assert.equal(onB.cache, 'HIT')
  assert.equal(onB.render, fresh.render)
  assert.match(a.child.output + b.child.output, /cache store unavailable/, 'the outage was logged')
})
