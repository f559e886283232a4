'use strict'

// `acme-next start --workers 2`: two processes on one port sharing the filesystem store.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { ensureBuilt } = require('./helpers/fixtures')
const { startAcme, stop } = require('./helpers/runtime-servers')

const FIXTURE = 'cache-tags'
let server
let tmp
let renderLog

/** GET on a fresh connection, so the cluster spreads requests over the workers. */
function get(p) {
  return new Promise((resolve, reject) => {
    const req = http
      .get(`${server.origin}${p}`, { agent: false, timeout: 10_000 }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d) => (body += d))
        res.on('end', () => {
          const m = /id="render">render:(?:<!-- -->)?([^<]*)</.exec(body)
          resolve({ status: res.statusCode, cache: res.headers['x-nextjs-cache'], render: m && m[1] })
        })
      })
      .on('error', reject)
    req.on('timeout', () => req.destroy(new Error(`GET ${p}: no answer within 10 s`)))
  })
}

function renders(name) {
  if (!fs.existsSync(renderLog)) return []
  return fs.readFileSync(renderLog, 'utf8').split('\n').filter((l) => l.startsWith(`${name} `))
}

before(async () => {
  ensureBuilt(FIXTURE)
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'acme-workers-'))
  renderLog = path.join(tmp, 'renders.log')
  server = await startAcme(FIXTURE, { env: { RENDER_LOG: renderLog }, args: ['--workers', '2'] })
})

after(async () => {
  await stop(server)
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
})

test('one ready line; both workers serve and share what one rendered', async () => {
  assert.equal(server.child.output.match(/ready on /g).length, 1)
  const res = await fetch(`${server.origin}/api/revalidate?path=/by-path`, { method: 'POST' })
  assert.equal(res.status, 200)
  await res.arrayBuffer()
  const answers = []
  for (let i = 0; i < 16; i++) answers.push(await get('/by-path'))
  assert.equal(answers[0].cache, 'MISS')
  assert.ok(answers.slice(1).every((r) => r.cache === 'HIT' && r.render === answers[0].render), JSON.stringify(answers))
  const pids = new Set(renders('by-path').map((l) => l.split(' ')[1]))
  assert.equal(pids.size, 1, 'rendered once, by one worker')
})

test('a stale page under concurrent load on both workers is regenerated once', { timeout: 60_000 }, async () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(server.dir, 'output', 'manifest.json'), 'utf8'))
  const built = fs.statSync(path.join(server.dir, 'output', manifest.seedPack.file)).mtimeMs
  if (Date.now() < built + 5500) await new Promise((r) => setTimeout(r, built + 5500 - Date.now()))
  const before = renders('isr-race').length
  const answers = await Promise.all(Array.from({ length: 30 }, () => get('/isr-race')))
  assert.ok(answers.every((r) => r.status === 200))
  assert.ok(answers.some((r) => r.cache === 'STALE'))
  for (let i = 0; i < 100; i++) {
    if ((await get('/isr-race')).cache === 'HIT') break
    await new Promise((r) => setTimeout(r, 100))
  }
  assert.equal(renders('isr-race').length - before, 1)
})

/** The worker PIDs of the primary (its child processes). */
function workerPids() {
  const out = require('node:child_process').spawnSync('ps', ['--ppid', String(server.child.pid), '-o', 'pid='], { encoding: 'utf8' }).stdout
  return out.split('\n').map((s) => Number(s.trim())).filter(Boolean)
}

async function waitForWorkers(n, notIn = []) {
  for (let i = 0; i < 200; i++) {
    const pids = workerPids()
    if (pids.length === n && pids.some((p) => !notIn.includes(p))) return pids
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`no new worker among ${JSON.stringify(workerPids())} (was ${JSON.stringify(notIn)}):\n${server.child.output}`)
}

test('a worker killed while serving is replaced and the server keeps answering', { timeout: 60_000 }, async () => {
  const before = workerPids()
  assert.equal(before.length, 2, `two workers: ${JSON.stringify(before)}`)
  process.kill(before[0], 'SIGKILL')
  // Once the primary has seen the death, it hands no connection to the dead worker: every request
  // is answered (by the other worker while the replacement starts). A connection handed over in
  // the instant between the death and the primary noticing it is lost: Node's round-robin
  // cluster does not hand it to another worker.
  const died = new RegExp(`"msg":"worker died, starting another","pid":${before[0]},"code":null,"signal":"SIGKILL","delayMs":0`)
  for (let i = 0; i < 100 && !died.test(server.child.output); i++) await new Promise((r) => setTimeout(r, 50))
  assert.match(server.child.output, died)
  for (let i = 0; i < 20; i++) assert.equal((await get('/by-path')).status, 200, `request ${i} after the kill`)
  const after = await waitForWorkers(2, before)
  assert.ok(!after.includes(before[0]), 'the killed worker is gone')
  assert.ok(after.includes(before[1]), 'the other worker kept running')
  for (let i = 0; i < 20; i++) assert.equal((await get('/by-path')).status, 200, `request ${i} after the replacement`)
})

test('workers that keep dying young are replaced after a growing delay (no spinning crash loop)', { timeout: 60_000 }, async () => {
  // Kill the newest worker as soon as it is there, three times in a row: every death is young.
  let pids = workerPids()
  for (let round = 0; round < 3; round++) {
    const victim = Math.max(...pids)
    process.kill(victim, 'SIGKILL')
    pids = await waitForWorkers(2, pids)
    assert.equal((await get('/by-path')).status, 200)
  }
  const delays = [...server.child.output.matchAll(/"msg":"worker died, starting another".*?"delayMs":(\d+)/g)].map((m) => Number(m[1]))
  assert.equal(delays.length, 4, server.child.output)
  // The last two victims had just started: each waited twice as long as the one before (the
  // first of the three may have been old enough to count as a fresh start: 0 or 100 ms).
  const [, first, second, third] = delays
  assert.ok(first === 0 || first === 100, `first delay ${first}`)
  assert.deepEqual([second, third], [first ? first * 2 : 100, first ? first * 4 : 200])
})

test('SIGTERM to the primary after a replacement drains every worker and exits 0', { timeout: 30_000 }, async () => {
  const child = server.child
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  process.kill(child.pid, 'SIGTERM')
  assert.deepEqual(await exited, { code: 0, signal: null }, child.output.slice(-3000))
  assert.deepEqual(workerPids(), [], 'no worker left behind')
})

test('a revalidation is stored before its response ends: another instance reading right after sees it', { timeout: 120_000 }, async () => {
  // Two processes (as two instances, or two workers) on one cache directory; every revalidation
  // is answered by A, every read right after it by B. Next writes a revalidated tag as the route
  // handler's response completes: the response must not reach the client before it is stored.
  const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'acme-two-'))
  const env = { ACME_CACHE_DIR: shared }
  const a = await startAcme(FIXTURE, { env })
  const b = await startAcme(FIXTURE, { env })
  try {
    const states = []
    for (let i = 0; i < 20; i++) {
      await (await fetch(`${b.origin}/by-path`)).arrayBuffer()
      const res = await fetch(`${a.origin}/api/revalidate?path=/by-path`, { method: 'POST' })
      await res.arrayBuffer()
      const after = await fetch(`${b.origin}/by-path`)
      await after.arrayBuffer()
      states.push(after.headers.get('x-nextjs-cache'))
    }
    assert.deepEqual(states, Array(20).fill('MISS'))
  } finally {
    await stop(a)
    await stop(b)
    fs.rmSync(shared, { recursive: true, force: true })
  }
})
