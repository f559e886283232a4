'use strict'

// The acme-next command line: help, inspect, and clear failures.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { ensureBuilt } = require('./helpers/fixtures')

const CLI = path.join(__dirname, '..', 'runtime', 'cli.js')
const cli = (...args) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 })

test('--help lists both commands', () => {
  const res = cli('--help')
  assert.equal(res.status, 0)
  assert.match(res.stdout, /acme-next start/)
  assert.match(res.stdout, /acme-next inspect/)
})

test('inspect prints the report and the route table; --json is machine-readable', () => {
  const dir = ensureBuilt('app-router')
  const text = cli('inspect', '--dir', dir)
  assert.equal(text.status, 0, text.stderr)
  assert.match(text.stdout, /deployment hash [0-9a-f]{64}/)
  assert.match(text.stdout, /server actions\s+yes/)
  assert.match(text.stdout, /ACME_FIXTURE_GREETING/)
  const json = cli('inspect', '--dir', dir, '--json')
  assert.equal(json.status, 0, json.stderr)
  const data = JSON.parse(json.stdout)
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'))
  assert.equal(JSON.stringify(data).includes(manifest.deploymentHash), true)
})

test('a directory that is not an output fails with a clear message', () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'acme-cli-'))
  try {
    for (const command of ['inspect', 'start']) {
      const res = cli(command, '--dir', empty, '--port', '0')
      assert.equal(res.status, 1, `${command}: ${res.stdout}${res.stderr}`)
      assert.match(res.stderr, /manifest\.json/)
    }
  } finally {
    fs.rmSync(empty, { recursive: true, force: true })
  }
})

test('unknown commands and bad ports exit 2 with the usage', () => {
  for (const args of [['deploy'], ['start', '--port', 'http']]) {
    const res = cli(...args)
    assert.equal(res.status, 2)
    assert.match(res.stderr, /Usage: acme-next/)
  }
})
