#!/usr/bin/env node
'use strict'

// Regenerates every generated file and fails if any differs from what is committed:
//   binding.js, binding.d.ts  <- npm run build:native (napi's loader and type definitions)
//   npm/<platform>/           <- napi create-npm-dirs (per-platform packages, from package.json napi.targets)
// The addon is rebuilt first if it is older than the Rust sources (see ensure-native.js).
// Run in CI after the build; locally, run it and commit what it regenerates.

const { spawnSync } = require('node:child_process')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..')
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx'

function run(cmd, args) {
  const res = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit' })
  if (res.status !== 0) process.exit(res.status || 1)
}

run(process.execPath, [path.join(__dirname, 'ensure-native.js')])
run(npx, ['napi', 'create-npm-dirs'])
const diff = spawnSync('git', ['status', '--porcelain', '--', 'binding.js', 'binding.d.ts', 'npm'], {
  cwd: ROOT,
  encoding: 'utf8',
})
if (diff.status !== 0) process.exit(diff.status || 1)
if (diff.stdout.trim()) {
  console.error('Generated files differ from the committed ones (regenerate and commit them):')
  console.error(diff.stdout)
  spawnSync('git', ['--no-pager', 'diff', '--stat', '--', 'binding.js', 'binding.d.ts', 'npm'], { cwd: ROOT, stdio: 'inherit' })
  process.exit(1)
}
console.log('generated files are up to date')
