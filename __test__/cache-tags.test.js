'use strict'

// On-demand revalidation, differentially: the same request sequence against `next start` and
// `acme-next start` on one build of the cache-tags fixture (revalidateTag with and without a
// profile, revalidatePath, unstable_cache and fetch tags, pages-router res.revalidate(), updateTag in
// a server action), compared
// as observable state: status, x-nextjs-cache and which generation of each value a page shows.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const { buildFixture } = require('./helpers/fixtures')
const { freePort } = require('./helpers/net')
const { startOracle, startAcme, stop } = require('./helpers/runtime-servers')

const FIXTURE = 'cache-tags'

// A child process: `next build` runs synchronously in this one and must reach it.
const ORIGIN_SCRIPT = `
let hits = 0
const server = require('node:http').createServer((req, res) => {
  if (req.url === '/reset') hits = 1000
  else hits++
  res.end(String(hits))
})
server.listen(Number(process.argv[1]), '127.0.0.1', () => process.stdout.write('ready\\n'))
`

/** The data origin the fixture's tagged fetch reads: answers a counter of its hits. */
async function startDataOrigin() {
  const port = await freePort()
  const child = spawn(process.execPath, ['-e', ORIGIN_SCRIPT, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve)
    child.once('exit', (code) => reject(new Error(`data origin exited with ${code}`)))
  })
  const origin = `http://127.0.0.1:${port}`
  return {
    origin,
    reset: async () => (await fetch(`${origin}/reset`)).arrayBuffer(),
    close: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', r), process.kill(child.pid)))),
  }
}

function field(body, name) {
  const m = new RegExp(`id="${name}">${name}:(?:<!-- -->)?([^<]*)<`).exec(body)
  return m ? m[1] : null
}

/**
 * Runs the sequence against one server; every observation names each value by the order in
 * which it first appeared (values differ between servers, generations must not).
 */
async function runSequence(origin, data) {
  const seen = new Map()
  const generation = (kind, value) => {
    if (value === null) return null
    const k = `${kind}:${value}`
    if (!seen.has(k)) seen.set(k, [...seen.keys()].filter((x) => x.startsWith(`${kind}:`)).length)
    return seen.get(k)
  }
  const log = []
  const get = async (path, label, headers) => {
    const res = await fetch(origin + path, headers ? { headers } : undefined)
    const body = await res.text()
    const obs = {
      label,
      path,
      status: res.status,
      cache: res.headers.get('x-nextjs-cache'),
      render: generation(`render${path.split('?')[0]}`, field(body, 'render')),
      data: generation('data', field(body, 'data')),
      ucache: generation('ucache', field(body, 'ucache')),
    }
    log.push(obs)
    return Object.defineProperty({ ...obs }, 'html', { value: body })
  }
  const call = async (path) => {
    const res = await fetch(origin + path, { method: 'POST' })
    assert.equal(res.status, 200, `${origin}${path}`)
    await res.arrayBuffer()
  }
  /** Reads until the background regeneration landed (a HIT), recording only that read. */
  const settle = async (path, label) => {
    for (let i = 0; i < 100; i++) {
      const res = await fetch(origin + path)
      await res.arrayBuffer()
      if (res.headers.get('x-nextjs-cache') === 'HIT') return get(path, label)
      await new Promise((r) => setTimeout(r, 100))
    }
    return get(path, `${label} (never settled)`)
  }
  await data.reset()
  await get('/tagged', 'seed')
  await get('/by-path', 'seed')
  await get('/legacy', 'seed')
  // A pages-router page asked for by an app page's client (RSC): its HTML, from the same entry.
  await get('/legacy?_rsc', 'seed, as an RSC request', { rsc: '1' })

  // revalidateTag(tag, 'max'): stale now; served stale once, regenerated in the background. The
  // fetch entry tagged `data` is stale too: the regeneration still sees the old value and
  // refreshes it behind itself, the next regeneration sees the new one.
  await call('/api/revalidate?tag=data&profile=max')
  await get('/tagged', 'after revalidateTag(data, max)')
  await settle('/tagged', 'regenerated after revalidateTag(data, max)')

  // revalidateTag(tag) without a profile: expired now, the next read renders before answering;
  // the unstable_cache entry tagged `ucache` is recomputed in that render.
  await call('/api/revalidate?tag=ucache')
  await get('/tagged', 'after revalidateTag(ucache)')
  await get('/tagged', 'again')

  // revalidateTag(tag, { expire: 0 }): stale and expired at once.
  await call('/api/revalidate?tag=data&expire=0')
  await get('/tagged', 'after revalidateTag(data, {expire: 0})')
  await settle('/tagged', 'settled after revalidateTag(data, {expire: 0})')

  // revalidatePath: the implicit `_N_T_/by-path` tag expires; /tagged is untouched.
  await call('/api/revalidate?path=/by-path')
  await get('/by-path', 'after revalidatePath(/by-path)')
  await get('/by-path', 'again')
  await get('/tagged', 'untouched by revalidatePath(/by-path)')

  // revalidatePath('/', 'layout') expires every page below the root layout.
  await call('/api/revalidate?path=/&type=layout')
  await call('/api/revalidate?path=' + encodeURIComponent('/tagged'))
  await get('/tagged', 'after revalidatePath(/tagged)')

  // pages router on-demand: res.revalidate() regenerates before the API answers.
  await call('/api/revalidate-legacy')
  await get('/legacy', 'after res.revalidate(/legacy)')
  await get('/legacy', 'again')
  await get('/legacy?_rsc', 'again, as an RSC request', { rsc: '1' })

  // updateTag(tag) in a server action: expired now, and the action's own response already shows
  // fresh data (read-your-own-writes); the next reads of both pages render before answering.
  await get('/tagged', 'before updateTag(data)')
  const page = await get('/update-tag', 'seed')
  const actionId = /name="\$ACTION_ID_([0-9a-f]+)"/.exec(page.html)
  assert.ok(actionId, `${origin}/update-tag has a server action form`)
  const boundary = '----acme-update-tag'
  const res = await fetch(origin + '/update-tag', {
    method: 'POST',
    headers: { 'next-action': actionId[1], accept: 'text/x-component', 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: `--${boundary}\r\nContent-Disposition: form-data; name="0"\r\n\r\n["$K1"]\r\n--${boundary}--\r\n`,
  })
  const flight = await res.text()
  const flightData = /data:(?:",")?(\d+)/.exec(flight)
  log.push({
    label: 'server action calling updateTag(data)',
    path: '/update-tag',
    status: res.status,
    cache: res.headers.get('x-nextjs-cache'),
    revalidated: res.headers.get('x-action-revalidated'),
    render: null,
    data: generation('data', flightData ? flightData[1] : null),
    ucache: null,
  })
  await get('/update-tag', 'after updateTag(data)')
  await get('/update-tag', 'again')
  await get('/tagged', 'after updateTag(data)')

  // res.revalidate() fails where next start's fails: on a path whose render fails, and on a 404
  // that is no revalidation (none here: the app router's not-found page is revalidated).
  for (const [path, label] of [
    ['/broken-ssr', 'res.revalidate of a page whose render fails'],
    ['/never-a-page', 'res.revalidate of a URL no route matches'],
    ['/never-a-page&onlyGenerated=1', 'res.revalidate of it, unstable_onlyGenerated'],
  ]) {
    const res = await fetch(`${origin}/api/revalidate-legacy?path=${path}`, { method: 'POST' })
    const body = await res.json()
    log.push({ label, path, status: res.status, cache: null, render: null, data: null, ucache: null, error: body.error ?? null })
  }
  return log
}

let data
let oracle
let acme

before(async () => {
  data = await startDataOrigin()
  const res = buildFixture(FIXTURE, { DATA_ORIGIN: data.origin })
  assert.equal(res.status, 0, `next build failed:\n${res.stdout}\n${res.stderr}`)
})

after(async () => {
  await stop(oracle)
  await stop(acme)
  if (data) await data.close()
})

test('on-demand revalidation: acme-next start answers the sequence as next start does', { timeout: 240_000 }, async () => {
  oracle = await startOracle(FIXTURE, { env: { DATA_ORIGIN: data.origin } })
  const expected = await runSequence(oracle.origin, data)
  await stop(oracle)
  oracle = null
  acme = await startAcme(FIXTURE, { env: { DATA_ORIGIN: data.origin } })
  const actual = await runSequence(acme.origin, data)
  const line = (o) => `${o.label.padEnd(48)} ${o.path.padEnd(9)} ${o.status} ${String(o.cache).padEnd(11)} r${o.render} d${o.data} u${o.ucache}`
  assert.deepEqual(actual, expected, `next start:\n${expected.map(line).join('\n')}\nacme-next:\n${actual.map(line).join('\n')}\n`)

  // The sequence must have exercised something: each kind of revalidation changed what it names.
  const at = (label) => expected.find((o) => o.label === label)
  assert.notEqual(at('regenerated after revalidateTag(data, max)').render, at('seed').render)
  assert.notEqual(at('after revalidateTag(ucache)').ucache, at('seed').ucache)
  assert.notEqual(at('after revalidatePath(/by-path)').render, expected.find((o) => o.path === '/by-path').render)
  assert.notEqual(at('after res.revalidate(/legacy)').render, expected.find((o) => o.path === '/legacy').render)
  const action = at('server action calling updateTag(data)')
  assert.equal(action.status, 200)
  assert.notEqual(action.data, null, 'the action response shows the data')
  assert.notEqual(action.data, expected.filter((o) => o.label === 'seed' && o.path === '/update-tag')[0].data, 'read-your-own-writes: fresh data in the action response')
  assert.notEqual(at('after updateTag(data)').data, at('before updateTag(data)').data)
  assert.equal(at('res.revalidate of a page whose render fails').status, 500)
  assert.match(at('res.revalidate of a page whose render fails').error, /Failed to revalidate \/broken-ssr: Invalid response 500/)
})
