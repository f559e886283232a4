#!/usr/bin/env node
'use strict'

// Re-captures the onBuildComplete context of every fixture app under __test__/fixtures/ and
// writes it, made portable, to crates/acme-core/tests/fixtures/<name>.context.json.
//
// Usage (from anywhere):
//   node scripts/capture-contexts.js                  # all fixtures (dirs with a next.config.*)
//   node scripts/capture-contexts.js app-router       # only the named fixture(s)
//   node scripts/capture-contexts.js --no-clean ...   # keep each fixture's .next (faster, less reproducible)
//   node scripts/capture-contexts.js --keep-raw ...   # also keep the raw capture in $TMPDIR
//
// How it works: each fixture is built with `node <repo>/node_modules/next/dist/bin/next build`
// and ACME_CAPTURE_CONTEXT pointing at a temp file; index.js writes the serialized context
// there before it calls the native addon. A non-zero exit of `next build` is tolerated only
// if the capture file was written by this run (e.g. the addon is not built yet, or the
// addon failed after the capture); the error is still printed. The capture is then made
// portable: every absolute occurrence of the repo root becomes `/__ROOT__`, and the JSON
// is pretty-printed with 2 spaces. Secrets in config.env (preview/encryption keys) are kept:
// they are throwaway per-build keys.
//
// Exit code: 0 if every fixture produced a capture, 1 otherwise.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { BUILD_ARGS } = require('../__test__/helpers/fixtures')

const ROOT = path.resolve(__dirname, '..')
const FIXTURES_DIR = path.join(ROOT, '__test__', 'fixtures')
const OUT_DIR = path.join(ROOT, 'crates', 'acme-core', 'tests', 'fixtures')
const NEXT_BIN = path.join(ROOT, 'node_modules', 'next', 'dist', 'bin', 'next')
const ROOT_PLACEHOLDER = '/__ROOT__'
const CONFIG_FILES = ['next.config.js', 'next.config.mjs', 'next.config.cjs', 'next.config.ts']

function parseArgs(argv) {
  const opts = { clean: true, keepRaw: false, names: [] }
  for (const arg of argv) {
    if (arg === '--no-clean') opts.clean = false
    else if (arg === '--keep-raw') opts.keepRaw = true
    else if (arg === '-h' || arg === '--help') {
      console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(3, 12).join('\n'))
      process.exit(0)
    } else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}`)
    else opts.names.push(arg)
  }
  return opts
}

function listFixtures() {
  return fs
    .readdirSync(FIXTURES_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && CONFIG_FILES.some((f) => fs.existsSync(path.join(FIXTURES_DIR, d.name, f))))
    .map((d) => d.name)
    .sort()
}

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Replaces the absolute repo root (only where it is a whole path prefix) with /__ROOT__. */
function makePortable(jsonText, root) {
  const re = new RegExp(escapeRegExp(root) + '(?=[/"\\\\]|$)', 'g')
  const replaced = jsonText.replace(re, ROOT_PLACEHOLDER)
  return JSON.stringify(JSON.parse(replaced), null, 2) + '\n'
}

function tail(text, lines) {
  return text.trimEnd().split('\n').slice(-lines).join('\n')
}

function formatSize(bytes) {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MB` : `${(bytes / 1024).toFixed(1)} KB`
}

function capture(name, opts) {
  const dir = path.join(FIXTURES_DIR, name)
  const rawFile = path.join(os.tmpdir(), `ctx-${name}.json`)
  fs.rmSync(rawFile, { force: true })
  if (opts.clean) fs.rmSync(path.join(dir, '.next'), { recursive: true, force: true })

  console.log(`\n== ${name}: next build`)
  const started = Date.now()
  const res = spawnSync(process.execPath, [NEXT_BIN, 'build', ...(BUILD_ARGS[name] || [])], {
    cwd: dir,
    env: { ...process.env, ACME_CAPTURE_CONTEXT: rawFile, NEXT_TELEMETRY_DISABLED: '1' },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
  const seconds = (Date.now() - started) / 1000
  const log = `${res.stdout || ''}${res.stderr || ''}`
  const captured = fs.existsSync(rawFile)

  if (res.error) throw res.error
  if (res.status !== 0) {
    if (!captured) {
      console.error(tail(log, 40))
      console.error(`!! ${name}: next build exited ${res.status} before the context was captured`)
      return { name, ok: false, seconds }
    }
    const errLine = log.split('\n').find((l) => /^(Error|\s*Error):|@acme\/next-adapter:/.test(l))
    console.log(`   next build exited ${res.status} after the capture (tolerated): ${errLine ? errLine.trim() : tail(log, 1)}`)
  } else if (!captured) {
    console.error(tail(log, 40))
    console.error(`!! ${name}: next build succeeded but wrote no capture (is adapterPath set in next.config?)`)
    return { name, ok: false, seconds }
  }

  const portable = makePortable(fs.readFileSync(rawFile, 'utf8'), ROOT)
  fs.mkdirSync(OUT_DIR, { recursive: true })
  const outFile = path.join(OUT_DIR, `${name}.context.json`)
  fs.writeFileSync(outFile, portable)
  if (!opts.keepRaw) fs.rmSync(rawFile, { force: true })
  const size = Buffer.byteLength(portable)
  console.log(`   build ${seconds.toFixed(1)} s, wrote ${path.relative(ROOT, outFile)} (${formatSize(size)})`)
  return { name, ok: true, seconds, size }
}

function main() {
  const opts = parseArgs(process.argv.slice(2))
  if (!fs.existsSync(NEXT_BIN)) throw new Error(`next is not installed at ${NEXT_BIN}: run npm install in ${ROOT}`)
  const all = listFixtures()
  const names = opts.names.length ? opts.names : all
  for (const n of names) if (!all.includes(n)) throw new Error(`no fixture named ${n} (have: ${all.join(', ')})`)

  const results = names.map((n) => capture(n, opts))
  console.log('\nsummary:')
  for (const r of results) {
    console.log(`  ${r.name.padEnd(20)} ${r.ok ? 'ok    ' : 'FAILED'} ${r.seconds.toFixed(1).padStart(6)} s${r.size ? `  ${formatSize(r.size)}` : ''}`)
  }
  process.exitCode = results.every((r) => r.ok) ? 0 : 1
}

try {
  main()
} catch (err) {
  console.error(`capture-contexts: ${err.message}`)
  process.exitCode = 1
}
