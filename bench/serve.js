#!/usr/bin/env node
'use strict'

// bench:serve — requests/s, cold start and idle RSS of `acme-next start` against its two anchors
// on the same app, in one run: `next start` and Next's standalone server (`output: 'standalone'`,
// `node server.js`, what self-hosters pick today). Each ratio is against the FASTER anchor.
// A benchmark, not a test: the machine is shared, so it prints medians and ratios.
//
//   npm run bench:serve [-- --duration 5] [-- --rounds 3] [-- --connections 32]
//
// Needs wrk (`apt-get install wrk`). The app is generated under bench/.work/serve-app (a static
// page, an SSR page, a route handler and a public file; no middleware), built once through the
// adapter and once as standalone. Servers run one at a time on loopback and are stopped by PID.
// Last lines: `BENCH serve <case> acme=<rps> anchor=<rps> (<which>) ratio=<x>`, then cold start
// and RSS lines (for those, lower is better: ratio = acme / anchor), then `--workers 2` against
// `--workers 1` on prerender hits.

const { spawn, spawnSync, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { freePort } = require('../__test__/helpers/net')

const ROOT = path.resolve(__dirname, '..')
const WORK = path.join(__dirname, '.work')
const APP = path.join(WORK, 'serve-app')
const STANDALONE_APP = path.join(WORK, 'serve-app-standalone')
const NEXT_BIN = path.join(ROOT, 'node_modules', 'next', 'dist', 'bin', 'next')

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const DURATION = arg('duration', 5)
const ROUNDS = arg('rounds', 3)
const CONNECTIONS = arg('connections', 32)

const CASES = [
  { name: 'public-file', path: '/file.txt' },
  { name: 'prerendered-page', path: '/' },
  { name: 'ssr-page', path: '/ssr' },
  { name: 'api-route', path: '/api/hello' },
  // After the warm-up request, every answer comes from the optimizer's cache.
  { name: 'image-cached', path: '/_next/image?url=%2Fphoto.png&w=640&q=75' },
]

function write(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, text)
}

function generate(dir, config) {
  fs.rmSync(dir, { recursive: true, force: true })
  write(path.join(dir, 'next.config.js'), `module.exports = ${config}\n`)
  write(path.join(dir, 'app', 'layout.js'), 'export default function L({ children }) { return <html><body>{children}</body></html> }\n')
  write(path.join(dir, 'app', 'page.js'), 'export default function Home() { return <main><h1>Home</h1><p>prerendered</p></main> }\n')
  write(
    path.join(dir, 'app', 'ssr', 'page.js'),
    "import { headers } from 'next/headers'\nexport default async function Ssr() { const h = await headers(); return <main><h1>SSR</h1><p>{h.get('user-agent')}</p></main> }\n",
  )
  write(
    path.join(dir, 'app', 'api', 'hello', 'route.js'),
    "export const dynamic = 'force-dynamic'\nexport function GET() { return Response.json({ hello: 'world' }) }\n",
  )
  write(path.join(dir, 'public', 'file.txt'), 'a public file\n'.repeat(20))
  fs.writeFileSync(path.join(dir, 'public', 'photo.png'), gradientPng(1200, 800))
}

/** An RGB PNG with a gradient, for the image optimizer case. */
function gradientPng(w, h) {
  const zlib = require('node:zlib')
  const chunk = (type, data) => {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(data.length)
    const body = Buffer.concat([Buffer.from(type), data])
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(zlib.crc32(body) >>> 0)
    return Buffer.concat([len, body, crc])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(w, 0)
  ihdr.writeUInt32BE(h, 4)
  ihdr.set([8, 2, 0, 0, 0], 8)
  const raw = Buffer.alloc((w * 3 + 1) * h)
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set([x % 256, y % 256, (x + y) % 256], y * (w * 3 + 1) + 1 + x * 3)
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  return Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))])
}

function build(dir) {
  const res = spawnSync(process.execPath, [NEXT_BIN, 'build'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ACME_QUIET: '1' },
  })
  if (res.status !== 0) throw new Error(`next build in ${dir} failed:\n${res.stdout}\n${res.stderr}`)
}

function findFile(dir, name) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isFile() && e.name === name) return p
    if (e.isDirectory() && e.name !== 'node_modules') {
      const found = findFile(p, name)
      if (found) return found
    }
  }
  return null
}

async function start(server) {
  const port = await freePort()
  const { cmd, args, cwd, env } = server.spawn(port)
  const t0 = process.hrtime.bigint()
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] })
  const url = `http://127.0.0.1:${port}`
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${server.name} exited with ${child.exitCode}`)
    try {
      const res = await fetch(`${url}/`)
      await res.arrayBuffer()
      if (res.status === 200) break
    } catch {}
    await new Promise((r) => setTimeout(r, 5))
  }
  const coldMs = Number(process.hrtime.bigint() - t0) / 1e6
  return { child, url, coldMs }
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve()
    child.once('exit', resolve)
    child.kill('SIGTERM')
  })
}

function rssMb(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024
}

function wrk(url) {
  const out = execFileSync('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${DURATION}s`, url], { encoding: 'utf8' })
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out)
  if (non2xx) throw new Error(`${url}: ${non2xx[1]} non-2xx responses`)
  return Number(rps[1])
}

/**
 * Warms a route with one request. The previous case's wrk run blocked this process's event loop
 * for longer than the server's keep-alive timeout, so the pooled connection may have just been
 * closed by the server (UND_ERR_SOCKET): retry once on a fresh connection.
 */
async function warm(url) {
  try {
    await (await fetch(url)).arrayBuffer()
  } catch (err) {
    if (!err.cause || err.cause.code !== 'UND_ERR_SOCKET') throw err
    await (await fetch(url)).arrayBuffer()
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function main() {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' })
  } catch (err) {
    if (err.code === 'ENOENT') throw new Error('wrk is not installed: apt-get install wrk')
  }
  console.log('building the bench app (through the adapter, and as standalone)…')
  generate(APP, "{ adapterPath: require.resolve('@acme/next-adapter') }")
  build(APP)
  generate(STANDALONE_APP, "{ output: 'standalone' }")
  build(STANDALONE_APP)
  const serverJs = findFile(path.join(STANDALONE_APP, '.next', 'standalone'), 'server.js')
  const standaloneDir = path.dirname(serverJs)
  // Standalone does not copy static assets and public/: its docs ask the deployer to.
  fs.cpSync(path.join(STANDALONE_APP, '.next', 'static'), path.join(standaloneDir, '.next', 'static'), { recursive: true })
  fs.cpSync(path.join(STANDALONE_APP, 'public'), path.join(standaloneDir, 'public'), { recursive: true })

  const servers = [
    {
      name: 'acme',
      spawn: (port) => ({
        cmd: process.execPath,
        args: [path.join(ROOT, 'runtime', 'cli.js'), 'start', '--dir', path.join(APP, '.acme', 'output'), '--port', String(port), '--hostname', '127.0.0.1'],
        cwd: APP,
        env: { ACME_LOG: 'silent', ACME_CACHE_DIR: path.join(WORK, 'serve-cache') },
      }),
    },
    {
      name: 'next-start',
      spawn: (port) => ({ cmd: process.execPath, args: [NEXT_BIN, 'start', '-p', String(port), '-H', '127.0.0.1'], cwd: APP, env: {} }),
    },
    {
      name: 'standalone',
      spawn: (port) => ({ cmd: process.execPath, args: [serverJs], cwd: standaloneDir, env: { PORT: String(port), HOSTNAME: '127.0.0.1' } }),
    },
  ]

  // Load fetch's client before timing anything: otherwise the first server's cold start (always
  // acme's, round 1) also pays for loading it in this process.
  await fetch(`http://127.0.0.1:${await freePort()}/`).catch(() => {})
  const results = Object.fromEntries(servers.map((s) => [s.name, { cold: [], rss: [], rps: Object.fromEntries(CASES.map((c) => [c.name, []])) }]))
  for (let round = 1; round <= ROUNDS; round++) {
    for (const server of servers) {
      fs.rmSync(path.join(WORK, 'serve-cache'), { recursive: true, force: true })
      const { child, url, coldMs } = await start(server)
      try {
        results[server.name].cold.push(coldMs)
        await new Promise((r) => setTimeout(r, 500))
        results[server.name].rss.push(rssMb(child.pid))
        for (const c of CASES) {
          try {
            await warm(url + c.path)
            results[server.name].rps[c.name].push(wrk(url + c.path))
          } catch (err) {
            throw new Error(`${server.name} ${c.path}: ${err.message}${err.cause ? ` (${err.cause.code || err.cause})` : ''}`)
          }
        }
        console.log(
          `round ${round} ${server.name.padEnd(10)} cold ${coldMs.toFixed(0)} ms  rss ${results[server.name].rss.at(-1).toFixed(0)} MB  ` +
            CASES.map((c) => `${c.name} ${results[server.name].rps[c.name].at(-1).toFixed(0)}/s`).join('  '),
        )
      } finally {
        await stop(child)
      }
    }
  }

  console.log(`\nmedians of ${ROUNDS} rounds, wrk -t2 -c${CONNECTIONS} -d${DURATION}s`)
  for (const c of CASES) {
    const acme = median(results.acme.rps[c.name])
    const [anchorName, anchor] = ['next-start', 'standalone']
      .map((n) => [n, median(results[n].rps[c.name])])
      .sort((a, b) => b[1] - a[1])[0]
    console.log(`BENCH serve ${c.name} acme=${acme.toFixed(0)} anchor=${anchor.toFixed(0)} (${anchorName}) ratio=${(acme / anchor).toFixed(2)}x`)
  }
  for (const [metric, unit] of [
    ['cold', 'ms'],
    ['rss', 'MB'],
  ]) {
    const acme = median(results.acme[metric])
    const [anchorName, anchor] = ['next-start', 'standalone']
      .map((n) => [n, median(results[n][metric])])
      .sort((a, b) => a[1] - b[1])[0]
    console.log(`BENCH serve ${metric === 'cold' ? 'cold-start' : 'idle-rss'} acme=${acme.toFixed(0)}${unit} anchor=${anchor.toFixed(0)}${unit} (${anchorName}) ratio=${(acme / anchor).toFixed(2)}x`)
  }
  await benchWorkers()
}

/**
 * `acme-next start --workers N` on prerender hits: the same wrk load against 1 and 2 workers
 * (sharing one filesystem cache), each round both, medians and their ratio. wrk competes for
 * the same cores, so on a 2-core machine the ratio stays well below 2.
 */
async function benchWorkers() {
  const counts = [1, 2]
  const rps = Object.fromEntries(counts.map((n) => [n, []]))
  for (let round = 1; round <= ROUNDS; round++) {
    for (const n of counts) {
      fs.rmSync(path.join(WORK, 'serve-cache'), { recursive: true, force: true })
      const server = {
        name: `acme-w${n}`,
        spawn: (port) => ({
          cmd: process.execPath,
          args: [path.join(ROOT, 'runtime', 'cli.js'), 'start', '--dir', path.join(APP, '.acme', 'output'), '--port', String(port), '--hostname', '127.0.0.1', '--workers', String(n)],
          cwd: APP,
          env: { ACME_LOG: 'silent', ACME_CACHE_DIR: path.join(WORK, 'serve-cache') },
        }),
      }
      const { child, url } = await start(server)
      try {
        // Every worker answers the port: warm them all before measuring.
        for (let i = 0; i < 20; i++) await warm(`${url}/`)
        rps[n].push(wrk(`${url}/`))
        console.log(`round ${round} workers=${n} prerendered-page ${rps[n].at(-1).toFixed(0)}/s`)
      } finally {
        await stop(child)
      }
    }
  }
  const one = median(rps[1])
  const two = median(rps[2])
  console.log(`BENCH serve workers prerendered-page w1=${one.toFixed(0)} w2=${two.toFixed(0)} ratio=${(two / one).toFixed(2)}x`)
}

main().catch((err) => {
  console.error(err.message)
  process.exit(1)
})
