#!/usr/bin/env node
'use strict'

// bench:build: how long onBuildComplete takes and how much it writes, for our adapter
// (@acme/next-adapter, index.js + the native addon) against Next's reference
// Vercel adapter (@next-community/adapter-vercel@0.0.1-beta.24), on the same captured
// onBuildComplete context of a large generated app (bench/gen-app.js: ~2,000 prerendered
// pages, ~150 routes, ~60 route handlers, ~3,000 public files). This is a benchmark, not a test.
//
//   npm run bench:build [-- --runs N] [-- --rebuild] [-- --app DIR] [-- --keep]
//   node bench/build.js [--runs N] [--rebuild] [--app DIR] [--keep]
//
//   --runs N    replays per adapter (default 5); the two adapters alternate run by run
//   --rebuild   regenerate the app and run `next build` again, even if a context is captured
//   --app DIR   app directory (default bench/.work/big-app); it must be inside the repository
//   --keep      keep every run's acme output (default: only the last run's is kept)
//
// What it does:
//   1. If <app>.context.json is missing, stale (the app's .next has another BUILD_ID) or
//      --rebuild: generate the app and run `next build` once with ACME_CAPTURE_CONTEXT set.
//      The build may fail after the capture while the native addon is not built: only the
//      captured context matters. Build time and log go to <app>.build.json / <app>.build.log.
//   2. Replay the captured JSON N times through each adapter, each replay in a fresh Node
//      process (as in a real build, where onBuildComplete runs once per process): the child
//      parses the JSON and requires the adapter, then times only `await onBuildComplete(ctx)`.
//      - reference: writes <app>/.next/output (Build Output API v3); deleted before each run.
//      - acme: ACME_OUTPUT_DIR=<fresh dir>/ per run, ACME_QUIET=1.
//      `sync` runs before each replay so write-back of the previous output is not timed.
//   3. Measure each output: total bytes with each inode counted once (hardlinked files count
//      once; symlinks count their own few bytes), regular files, symlinks, disk usage.
//   4. Print per-run lines, a table of medians, and finally exactly one line:
//      BENCH build acme_ms=<median> reference_ms=<median> speedup=<ref/acme, 1 dec>x size_ratio=<acme bytes/ref bytes, 2 dec>
//        size_ratio_with_runtime=<same, counting the runtime acme/ the output carries; the reference has none>
//
// If the native addon is not built yet (require of the repo's binding.js fails), only the
// reference side runs: its medians are printed and the script exits with status 2.
// Only `node:` built-ins are used.

const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const { formatBytes } = require('../runtime/format.js')

const REPO_ROOT = path.resolve(__dirname, '..')
const WORK_DIR = path.join(__dirname, '.work')
const ACME_ENTRY = path.join(REPO_ROOT, 'index.js')
const ACME_BINDING = path.join(REPO_ROOT, 'binding.js')
const REFERENCE_PKG = '@next-community/adapter-vercel'
const RESULT_MARKER = '@@bench-result '

// ---------------------------------------------------------------------------------------------
// Child mode: `node build.js --child <acme|reference> <context.json> [outputDir]`
// Prints one RESULT_MARKER line with { ms } (or { error }).
// ---------------------------------------------------------------------------------------------
async function child(which, contextPath, outputDir) {
  const ctx = JSON.parse(fs.readFileSync(contextPath, 'utf8'))
  let adapter
  if (which === 'reference') {
    adapter = require(REFERENCE_PKG)
  } else {
    process.env.ACME_OUTPUT_DIR = outputDir
    process.env.ACME_QUIET = '1'
    adapter = require(ACME_ENTRY)
  }
  const t0 = process.hrtime.bigint()
  await adapter.onBuildComplete(ctx)
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  process.stdout.write(`\n${RESULT_MARKER}${JSON.stringify({ ms })}\n`)
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------
function parseArgs(argv) {
  const opts = { runs: 5, rebuild: false, app: path.join(WORK_DIR, 'big-app'), keep: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i]
      if (v === undefined) fail(`missing value for ${a}`)
      return v
    }
    if (a === '--rebuild') opts.rebuild = true
    else if (a === '--keep') opts.keep = true
    else if (a === '--runs' || a.startsWith('--runs=')) opts.runs = Number(value())
    else if (a === '--app' || a.startsWith('--app=')) opts.app = path.resolve(value())
    else if (a === '-h' || a === '--help') {
      const lines = fs.readFileSync(__filename, 'utf8').split('\n')
      const header = []
      for (const l of lines.slice(3)) {
        if (!l.startsWith('//')) break
        header.push(l.replace(/^\/\/ ?/, ''))
      }
      console.log(header.join('\n'))
      process.exit(0)
    } else fail(`unknown argument ${a} (try --help)`)
  }
  if (!Number.isInteger(opts.runs) || opts.runs < 1) fail('--runs must be a positive integer')
  return opts
}

function fail(msg, code = 1) {
  console.error(`bench:build: ${msg}`)
  process.exit(code)
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const fmtBytes = formatBytes

const fmtMs = (ms) => (ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`)
const rel = (p) => path.relative(process.cwd(), p) || '.'

/**
 * Size of a directory tree: bytes with each inode counted once (hardlinks within the tree, or
 * to files outside it, count once), regular files, symlinks (not followed; their own size is
 * counted), files with more than one link, and disk usage (allocated blocks, inodes once).
 */
function measureTree(root) {
  const seen = new Set()
  const r = { bytes: 0, files: 0, symlinks: 0, hardlinked: 0, disk: 0 }
  const stack = [root]
  while (stack.length) {
    const dir = stack.pop()
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name)
      if (e.isDirectory()) {
        stack.push(p)
        continue
      }
      const st = fs.lstatSync(p, { bigint: true })
      if (e.isSymbolicLink()) r.symlinks++
      else if (e.isFile()) {
        r.files++
        if (st.nlink > 1n) r.hardlinked++
      }
      const key = `${st.dev}:${st.ino}`
      if (seen.has(key)) continue
      seen.add(key)
      r.bytes += Number(st.size)
      r.disk += Number(st.blocks) * 512
    }
  }
  return r
}

function rmrf(p) {
  fs.rmSync(p, { recursive: true, force: true, maxRetries: 3 })
}

// Environment for the replays: no capture, and none of the variables that change what the
// reference adapter does (it reads VERCEL_* and NEXT_ADAPTER_VERCEL_CONFIG; defaults are used).
function replayEnv(extra) {
  const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...extra }
  for (const k of Object.keys(env)) {
    if (k === 'ACME_CAPTURE_CONTEXT' || k === 'NEXT_ADAPTER_VERCEL_CONFIG' || k.startsWith('VERCEL_')) delete env[k]
  }
  return env
}

function runChild(which, contextPath, outputDir) {
  const args = [__filename, '--child', which, contextPath]
  if (outputDir) args.push(outputDir)
  const env = replayEnv(which === 'acme' ? { ACME_OUTPUT_DIR: outputDir, ACME_QUIET: '1' } : {})
  const r = spawnSync(process.execPath, args, { cwd: REPO_ROOT, env, encoding: 'utf8', maxBuffer: 64 << 20 })
  const line = (r.stdout || '').split('\n').find((l) => l.startsWith(RESULT_MARKER))
  const chatter = ((r.stdout || '').replace(/^@@bench-result .*$/m, '') + (r.stderr || '')).trim()
  if (r.status !== 0 || !line) {
    const err = new Error(
      `${which} onBuildComplete failed (exit ${r.status}${r.signal ? `, signal ${r.signal}` : ''})` +
        (chatter ? `:\n${chatter.split('\n').slice(-30).join('\n')}` : ''),
    )
    throw err
  }
  return { ms: JSON.parse(line.slice(RESULT_MARKER.length)).ms, chatter }
}

// ---------------------------------------------------------------------------------------------
// Capture: generate the app and run `next build` with ACME_CAPTURE_CONTEXT
// ---------------------------------------------------------------------------------------------
function captureIsUsable(appDir, contextPath) {
  if (!fs.existsSync(contextPath)) return 'no captured context'
  try {
    const buildId = fs.readFileSync(path.join(appDir, '.next', 'BUILD_ID'), 'utf8').trim()
    const ctxBuildId = JSON.parse(fs.readFileSync(contextPath, 'utf8')).buildId
    if (ctxBuildId !== buildId) return `captured context is for build ${ctxBuildId}, .next has ${buildId}`
  } catch (err) {
    return `the app's build is missing (${err.code || err.message})`
  }
  return null
}

function buildAndCapture(appDir, contextPath) {
  const { generate } = require('./gen-app.js')
  const g = generate(appDir)
  console.log(`gen-app: ${rel(g.dir)}: ${g.total} files (${g.written} written, ${g.removed} removed)`)
  rmrf(contextPath)
  const logPath = `${appDir}.build.log`
  const nextBin = require.resolve('next/dist/bin/next', { paths: [appDir] })
  console.log(`next build in ${rel(appDir)} (log: ${rel(logPath)}) ...`)
  const env = {
    ...process.env,
    NEXT_TELEMETRY_DISABLED: '1',
    ACME_CAPTURE_CONTEXT: contextPath,
    ACME_QUIET: '1',
    ACME_OUTPUT_DIR: path.join(WORK_DIR, 'out', 'during-build'),
  }
  const logFd = fs.openSync(logPath, 'w')
  const t0 = process.hrtime.bigint()
  const r = spawnSync(process.execPath, [nextBin, 'build'], { cwd: appDir, env, stdio: ['ignore', logFd, logFd] })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  fs.closeSync(logFd)
  const tail = () => fs.readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-25).join('\n')
  if (!fs.existsSync(contextPath)) {
    fail(`next build exited ${r.status} without capturing a context (see ${rel(logPath)}):\n${tail()}`)
  }
  if (r.status !== 0) {
    console.log(
      `next build exited ${r.status} after the context was captured ` +
        `(expected while the native addon is not built; see ${rel(logPath)})`,
    )
  }
  const meta = { buildMs: ms, exitCode: r.status, at: new Date().toISOString(), contextBytes: fs.statSync(contextPath).size }
  fs.writeFileSync(`${appDir}.build.json`, JSON.stringify(meta, null, 2) + '\n')
  console.log(`next build: ${fmtMs(ms)}; captured ${rel(contextPath)} (${fmtBytes(meta.contextBytes)})`)
  return meta
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------
async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const appDir = opts.app
  const contextPath = `${appDir}.context.json`
  const relToRepo = path.relative(REPO_ROOT, appDir)
  if (relToRepo.startsWith('..') || path.isAbsolute(relToRepo)) fail(`--app must be inside ${REPO_ROOT}`)

  // 1. Capture.
  const stale = opts.rebuild ? '--rebuild' : captureIsUsable(appDir, contextPath)
  if (stale) {
    console.log(`capture needed: ${stale}`)
    buildAndCapture(appDir, contextPath)
  }
  let meta = null
  try {
    meta = JSON.parse(fs.readFileSync(`${appDir}.build.json`, 'utf8'))
  } catch {}
  const ctx = JSON.parse(fs.readFileSync(contextPath, 'utf8'))
  const o = ctx.outputs
  console.log(
    `context: ${rel(contextPath)} ${fmtBytes(fs.statSync(contextPath).size)}, next ${ctx.nextVersion}, build ${ctx.buildId}` +
      (meta ? ` (next build took ${fmtMs(meta.buildMs)})` : ''),
  )
  console.log(
    `  outputs: ${o.appPages.length} appPages, ${o.appRoutes.length} appRoutes, ${o.pages.length} pages, ` +
      `${o.pagesApi.length} pagesApi, ${o.prerenders.length} prerenders, ${o.staticFiles.length} staticFiles, ` +
      `middleware ${o.middleware ? 'yes' : 'no'}`,
  )
  const publicDir = path.join(ctx.projectDir, 'public')
  if (fs.existsSync(publicDir)) {
    const pub = measureTree(publicDir)
    console.log(`  public/: ${pub.files} files, ${fmtBytes(pub.bytes)}`)
  }

  // 2. Is the native addon there?
  let nativeError = null
  try {
    require(ACME_BINDING)
  } catch (err) {
    nativeError = err
  }
  const sides = nativeError ? ['reference'] : ['reference', 'acme']
  if (nativeError) {
    console.log(`native addon not built (${err1(nativeError)}): running the reference adapter only`)
  }

  // 3. Replays, alternating.
  const refOut = path.join(ctx.distDir, 'output')
  const outRoot = path.join(WORK_DIR, 'out')
  // Earlier invocations' acme outputs go first (only this invocation's are kept).
  for (const name of fs.existsSync(outRoot) ? fs.readdirSync(outRoot) : []) {
    if (/^acme-\d+$/.test(name)) rmrf(path.join(outRoot, name))
  }
  const results = { reference: [], acme: [] }
  let lastAcmeOut = null
  for (let run = 0; run < opts.runs; run++) {
    const order = run % 2 === 0 ? sides : [...sides].reverse()
    for (const which of order) {
      let outDir
      if (which === 'reference') {
        outDir = refOut
        rmrf(outDir)
      } else {
        outDir = path.join(outRoot, `acme-${run + 1}`)
        rmrf(outDir)
        if (lastAcmeOut && !opts.keep) rmrf(lastAcmeOut)
        lastAcmeOut = outDir
      }
      // Flush the previous run's (and the deletion's) dirty pages so that one adapter's
      // write-back does not land in the other's timing. Best effort.
      spawnSync('sync', { stdio: 'ignore' })
      let r
      try {
        r = runChild(which, contextPath, which === 'acme' ? outDir : undefined)
      } catch (err) {
        if (which === 'reference') fail(err.message)
        reportPartial(results)
        fail(err.message)
      }
      if (r.chatter && results[which].length === 0) {
        console.log(`  [${which} output] ${r.chatter.split('\n').slice(0, 10).join('\n  ')}`)
      }
      const size = fs.existsSync(outDir) ? measureTree(outDir) : { bytes: 0, files: 0, symlinks: 0, hardlinked: 0, disk: 0 }
      // Our output also carries the runtime that serves it (acme/ + server.js); the reference's
      // platform brings its own. Both sizes are reported: with and without that runtime.
      const runtimeDir = path.join(outDir, 'acme')
      const runtimeBytes = which === 'acme' && fs.existsSync(runtimeDir) ? measureTree(runtimeDir).bytes : 0
      results[which].push({ ms: r.ms, ...size, runtimeBytes })
      console.log(
        `run ${run + 1}/${opts.runs} ${which.padEnd(9)} ${fmtMs(r.ms).padStart(8)}  ` +
          `${fmtBytes(size.bytes).padStart(9)} in ${size.files} files + ${size.symlinks} symlinks` +
          (size.hardlinked ? ` (${size.hardlinked} hardlinked)` : ''),
      )
    }
  }

  // 4. Report.
  printTable(results, sides)
  console.log(`outputs kept: reference ${rel(refOut)}${lastAcmeOut ? `, acme ${rel(lastAcmeOut)}` : ''}`)
  if (nativeError) {
    fail(
      `native addon not built: require('${rel(ACME_BINDING)}') failed: ${err1(nativeError)}\n` +
        `Build it (npm run build:native) and run again; reference medians are above.`,
      2,
    )
  }
  const acme = summarize(results.acme)
  const ref = summarize(results.reference)
  const speedup = ref.ms / acme.ms
  const runtimeBytes = median(results.acme.map((r) => r.runtimeBytes))
  const sizeRatio = (acme.bytes - runtimeBytes) / ref.bytes
  const withRuntime = acme.bytes / ref.bytes
  console.log(`acme's output includes its runtime (acme/): ${fmtBytes(runtimeBytes)}`)
  console.log(
    `BENCH build acme_ms=${Math.round(acme.ms)} reference_ms=${Math.round(ref.ms)} ` +
      `speedup=${speedup.toFixed(1)}x size_ratio=${sizeRatio.toFixed(2)} size_ratio_with_runtime=${withRuntime.toFixed(2)}`,
  )
}

function err1(err) {
  return String(err && err.message ? err.message : err).split('\n')[0]
}

function summarize(rows) {
  return {
    ms: median(rows.map((r) => r.ms)),
    min: Math.min(...rows.map((r) => r.ms)),
    max: Math.max(...rows.map((r) => r.ms)),
    bytes: median(rows.map((r) => r.bytes)),
    files: median(rows.map((r) => r.files)),
    symlinks: median(rows.map((r) => r.symlinks)),
    hardlinked: median(rows.map((r) => r.hardlinked)),
    disk: median(rows.map((r) => r.disk)),
    runs: rows.length,
  }
}

function printTable(results, sides) {
  const head = ['adapter', 'runs', 'median', 'min', 'max', 'bytes', 'disk', 'files', 'symlinks', 'hardlinked']
  const rows = [head]
  for (const which of sides) {
    if (!results[which].length) continue
    const s = summarize(results[which])
    rows.push([
      which,
      String(s.runs),
      fmtMs(s.ms),
      fmtMs(s.min),
      fmtMs(s.max),
      fmtBytes(s.bytes),
      fmtBytes(s.disk),
      String(s.files),
      String(s.symlinks),
      String(s.hardlinked),
    ])
  }
  const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i].length)))
  console.log('\nmedians (bytes: each inode once; disk: allocated blocks)')
  for (const r of rows) console.log('  ' + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '))
  console.log('')
}

function reportPartial(results) {
  printTable(results, ['reference', 'acme'])
}

if (process.argv[2] === '--child') {
  child(process.argv[3], process.argv[4], process.argv[5]).catch((err) => {
    console.error(err && err.stack ? err.stack : err)
    process.exit(1)
  })
} else {
  main().catch((err) => fail(err && err.stack ? err.stack : String(err)))
}
