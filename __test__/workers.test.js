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
    http
      .get(`${server.origin}${p}`, { agent: false }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d) => (body += d))
        res.on('end', () => {
          const m = /id="render">render:(?:<!-- -->)?([^<]*)</.exec(body)
          resolve({ status: res.statusCode, cache: res.headers['x-nextjs-cache'], render: m && m[1] })
        })
      })
      .on('error', reject)
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
