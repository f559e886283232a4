#!/usr/bin/env node
'use strict'

// `npm run build:native`: builds the addon (`napi build --platform --release`, writing
// binding.js and binding.d.ts) with profile-guided optimization when it can:
//   1. an instrumented build (target/pgo-generate, `-Cprofile-generate`),
//   2. the training run, scripts/pgo-train.js, with that build loaded,
//   3. `llvm-profdata merge` of its profiles,
//   4. the release build with them (target/pgo-use, `-Cprofile-use`).
// The routing hot path is bound by instruction-cache misses inside Node (V8 runs between two
// routing calls): the profile lets LLVM lay the hot code out together and inline by measured
// frequency, ~9% less time per routed request than the plain build (bench/ab-router.js).
//
// PGO needs the llvm-profdata of rustc's own LLVM version (`rustc -vV`); it is found in
// LLVM_PROFDATA, as llvm-profdata-<major> on PATH, in /usr/lib/llvm-<major>/bin (Debian:
// `apt-get install llvm-<major>`), in rustup's llvm-tools, or as llvm-profdata of that version.
//   ACME_PGO=0  plain release build (faster to build; for a quick edit-test loop)
//   ACME_PGO=1  PGO or fail (CI)
//   unset       PGO when llvm-profdata is found, else a plain build with a notice
// The addon reports which it is: `nativeBuild()` is 'pgo' or 'plain' ('instrumented' for step 1's).

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..')
const NAPI = path.join(ROOT, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
const PGO_DIR = path.join(ROOT, 'target', 'pgo')

function fail(message) {
  console.error(`[build-native] ${message}`)
  process.exit(1)
}

function run(cmd, args, env = {}) {
  const res = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } })
  if (res.error) fail(`${path.basename(cmd)} could not start: ${res.error.message}`)
  if (res.status !== 0) fail(`${path.basename(cmd)} ${args.join(' ')} exited with ${res.status ?? res.signal}`)
}

function output(cmd, args) {
  const res = spawnSync(cmd, args, { encoding: 'utf8' })
  return res.status === 0 ? res.stdout : null
}

/** A field of `rustc -vV` (its text `vv`), e.g. `LLVM version` → '22.1.2'. */
function rustcField(vv, name) {
  const m = vv && new RegExp(`^${name}: (.+)$`, 'm').exec(vv)
  return m ? m[1].trim() : null
}

/** An llvm-profdata for LLVM `major`, or null (`vv`: the text of `rustc -vV`). */
function findProfdata(major, vv) {
  if (process.env.LLVM_PROFDATA) return process.env.LLVM_PROFDATA
  const sysroot = (output('rustc', ['--print', 'sysroot']) || '').trim()
  const host = rustcField(vv, 'host')
  const candidates = [
    `llvm-profdata-${major}`,
    `/usr/lib/llvm-${major}/bin/llvm-profdata`,
    sysroot && host ? path.join(sysroot, 'lib', 'rustlib', host, 'bin', 'llvm-profdata') : null,
    'llvm-profdata',
  ].filter(Boolean)
  for (const c of candidates) {
    const v = output(c, ['--version'])
    // (An llvm-profdata of another LLVM may not read this rustc's raw profiles.)
    if (v && new RegExp(`LLVM version ${major}\\.`).test(v)) return c
  }
  return null
}

/** `napi build` of the release addon, with extra rustc flags (passed \x1f-separated, as
 * CARGO_ENCODED_RUSTFLAGS, so a profile path with spaces stays one flag; RUSTFLAGS set by the
 * caller are kept). */
function napiBuild(args, rustflags) {
  if (rustflags.length === 0) return run(process.execPath, [NAPI, 'build', '--platform', '--release', ...args])
  const inherited = process.env.CARGO_ENCODED_RUSTFLAGS
    ? process.env.CARGO_ENCODED_RUSTFLAGS.split('\x1f')
    : (process.env.RUSTFLAGS || '').split(/\s+/)
  const flags = [...inherited, ...rustflags].filter(Boolean).join('\x1f')
  run(process.execPath, [NAPI, 'build', '--platform', '--release', ...args], { CARGO_ENCODED_RUSTFLAGS: flags })
}

const RELEASE_ARGS = ['--js', 'binding.js', '--dts', 'binding.d.ts']

function main() {
  const mode = process.env.ACME_PGO
  if (mode === '0') return napiBuild(RELEASE_ARGS, [])
  const vv = output('rustc', ['-vV'])
  const major = (rustcField(vv, 'LLVM version') || '').split('.')[0] || null
  const profdata = major && findProfdata(major, vv)
  if (!profdata) {
    const why = major
      ? `no llvm-profdata of LLVM ${major} (rustc's) found (apt-get install llvm-${major}, or set LLVM_PROFDATA)`
      : 'could not read rustc -vV'
    if (mode === '1') fail(`ACME_PGO=1: ${why}`)
    console.error(`[build-native] ${why}: building without profile-guided optimization`)
    return napiBuild(RELEASE_ARGS, [])
  }

  const profiles = path.join(PGO_DIR, 'profiles')
  const instrumented = path.join(PGO_DIR, 'instrumented')
  fs.rmSync(profiles, { recursive: true, force: true })
  fs.rmSync(instrumented, { recursive: true, force: true })
  fs.mkdirSync(profiles, { recursive: true })

  console.error('[build-native] 1/4 instrumented build (target/pgo-generate)')
  napiBuild(
    ['--target-dir', path.join(ROOT, 'target', 'pgo-generate'), '--output-dir', instrumented, '--no-js', '--dts', 'binding.d.ts'],
    [`-Cprofile-generate=${profiles}`],
  )
  const addon = fs.readdirSync(instrumented).find((n) => n.endsWith('.node'))
  if (!addon) fail(`the instrumented build left no .node in ${instrumented}`)

  console.error('[build-native] 2/4 training run (scripts/pgo-train.js)')
  run(process.execPath, [path.join(__dirname, 'pgo-train.js')], {
    NAPI_RS_NATIVE_LIBRARY_PATH: path.join(instrumented, addon),
    LLVM_PROFILE_FILE: path.join(profiles, 'train-%p-%m.profraw'),
  })
  const raw = fs.readdirSync(profiles).filter((n) => n.endsWith('.profraw'))
  if (raw.length === 0) fail(`the training run wrote no profile into ${profiles}`)

  console.error(`[build-native] 3/4 ${profdata} merge`)
  const merged = path.join(PGO_DIR, 'merged.profdata')
  run(profdata, ['merge', '-o', merged, ...raw.map((n) => path.join(profiles, n))])

  console.error('[build-native] 4/4 release build with the profile (target/pgo-use)')
  napiBuild(['--target-dir', path.join(ROOT, 'target', 'pgo-use'), ...RELEASE_ARGS], [`-Cprofile-use=${merged}`])
}

main()
