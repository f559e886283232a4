'use strict'

// Builds fixture apps for real with the `next` package from npm, through the adapter.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..', '..')
const NEXT_BIN = path.join(ROOT, 'node_modules', 'next', 'dist', 'bin', 'next')
const FIXTURES = path.join(ROOT, '__test__', 'fixtures')

// Fixtures built with arguments of their own: `webpack` is built with webpack (`next build`
// uses Turbopack unless told otherwise).
const BUILD_ARGS = { webpack: ['--webpack'] }

function fixtureDir(name) {
  return path.join(FIXTURES, name)
}

/**
 * Runs `next build` in a fixture from scratch. Returns { status, stdout, stderr, dir, outputDir }.
 * Extra environment variables (e.g. ACME_CAPTURE_CONTEXT) are passed through.
 */
function buildFixture(name, env = {}) {
  const dir = fixtureDir(name)
  fs.rmSync(path.join(dir, '.next'), { recursive: true, force: true })
  const res = spawnSync(process.execPath, [NEXT_BIN, 'build', ...(BUILD_ARGS[name] || [])], {
    cwd: dir,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...env },
    encoding: 'utf8',
    timeout: 300_000,
  })
  return {
    status: res.status,
    stdout: res.stdout,
    stderr: res.stderr,
    dir,
    outputDir: env.ACME_OUTPUT_DIR || path.join(dir, '.acme', 'output'),
  }
}

/**
 * Builds a fixture unless its output already exists and is of the build in `.next` (for suites
 * that only read it). A build that wrote its output elsewhere (`ACME_OUTPUT_DIR`, as
 * report.test.js builds) leaves `.next` of another build than `.acme/output`: a `next start` on
 * the fixture would then answer the output's `_next/data/<buildId>` URLs with 404s.
 */
function ensureBuilt(name) {
  const manifest = path.join(fixtureDir(name), '.acme', 'output', 'manifest.json')
  if (!fs.existsSync(manifest) || !sameBuild(name, manifest)) {
    const res = buildFixture(name)
    if (res.status !== 0) throw new Error(`next build of ${name} failed:\n${res.stdout}\n${res.stderr}`)
  }
  return path.dirname(manifest)
}

/** Whether the fixture's `.next` is the build its output manifest was written from. */
function sameBuild(name, manifest) {
  try {
    const buildId = fs.readFileSync(path.join(fixtureDir(name), '.next', 'BUILD_ID'), 'utf8').trim()
    return JSON.parse(fs.readFileSync(manifest, 'utf8')).buildId === buildId
  } catch {
    return false
  }
}

module.exports = { ROOT, NEXT_BIN, BUILD_ARGS, fixtureDir, buildFixture, ensureBuilt }
