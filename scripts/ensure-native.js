#!/usr/bin/env node
'use strict'

// Builds the native addon (`npm run build:native`) when it is missing or older than the Rust
// sources, so `npm test` and `npm run demo` work on a fresh clone without a separate step.
// Usage: node scripts/ensure-native.js [--force]

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..')

function newestMtime(p) {
  const st = fs.statSync(p)
  if (!st.isDirectory()) return st.mtimeMs
  let newest = st.mtimeMs
  for (const name of fs.readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, name)))
  return newest
}

function sourcesMtime() {
  const inputs = ['Cargo.toml', 'Cargo.lock', 'build.rs', 'src', 'crates/acme-core/src', 'crates/acme-core/Cargo.toml']
  return Math.max(...inputs.map((p) => path.join(ROOT, p)).filter(fs.existsSync).map(newestMtime))
}

function addons() {
  return fs.readdirSync(ROOT).filter((n) => n.endsWith('.node')).map((n) => path.join(ROOT, n))
}

function needsBuild() {
  const built = addons()
  if (built.length === 0) return 'no native addon built yet'
  const addonTime = Math.min(...built.map((p) => fs.statSync(p).mtimeMs))
  if (addonTime < sourcesMtime()) return 'Rust sources changed since the last build'
  return null
}

function main() {
  const reason = process.argv.includes('--force') ? 'forced' : needsBuild()
  if (!reason) return
  console.error(`[ensure-native] ${reason}: npm run build:native`)
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const res = spawnSync(npm, ['run', 'build:native'], { cwd: ROOT, stdio: 'inherit' })
  if (res.status !== 0) process.exit(res.status || 1)
}

main()
