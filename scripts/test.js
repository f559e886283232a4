#!/usr/bin/env node
'use strict'

// `npm test`: every test, in the order that fails fastest.
//   1. cargo test (the napi-free core: parsing, classification, routing, output writer)
//   2. the native addon is built if missing or stale
//   3. node:test suites in __test__/*.test.js, one file at a time (they build fixture apps
//      with the real `next` package, which must not run twice at once in one fixture)
// Extra arguments are passed to node --test (e.g. --test-name-pattern=...).

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..')

function run(cmd, args) {
  console.log(`\n$ ${[cmd, ...args].join(' ')}`)
  const res = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' } })
  if (res.status !== 0) {
    console.error(`\n${cmd} ${args.join(' ')} failed (exit ${res.status ?? res.signal})`)
    process.exit(res.status || 1)
  }
}

const extra = process.argv.slice(2)
if (!process.env.ACME_SKIP_CARGO_TEST) run('cargo', ['test', '--workspace', '--quiet'])
run(process.execPath, [path.join(__dirname, 'ensure-native.js')])
const files = fs
  .readdirSync(path.join(ROOT, '__test__'))
  .filter((n) => n.endsWith('.test.js'))
  .sort()
  .map((n) => path.join('__test__', n))
run(process.execPath, ['--test', '--test-concurrency=1', ...extra, ...files])
