'use strict'

// What the published package holds, and how it fails on a machine without its binary.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..')

test('npm pack ships only what users need', () => {
  const [info] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json'], { cwd: ROOT, encoding: 'utf8' }))
  const files = info.files.map((f) => f.path)
  for (const needed of ['index.js', 'index.d.ts', 'binding.js', 'binding.d.ts', 'platform.js', 'bundle.js', 'runtime/cli.js', 'package.json', 'README.md', 'LICENSE']) {
    assert.ok(files.includes(needed), `${needed} is published`)
  }
  const forbidden = files.filter(
    (f) =>
      f.endsWith('.rs') ||
      f.endsWith('.node') ||
      /^(crates|src|__test__|bench|scripts|examples|npm|target|\.ci)\//.test(f) ||
      /(^|\/)(Cargo\.(toml|lock)|build\.rs)$/.test(f),
  )
  assert.deepEqual(forbidden, [], 'no Rust sources, binaries, fixtures or tooling')
})

test('a missing binary names the package that would have fitted', async () => {
  // A copy of the package without its .node file and without platform packages to fall back on.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acme-no-binary-'))
  try {
    // Every published file (package.json `files`), but no binary and no platform package.
    const pkg = require('../package.json')
    for (const f of [...pkg.files, 'package.json']) fs.cpSync(path.join(ROOT, f), path.join(dir, f), { recursive: true })
    assert.ok(!fs.readdirSync(dir).some((f) => f.endsWith('.node')))
    const script = `
      const adapter = require(${JSON.stringify(path.join(dir, 'index.js'))})
      adapter.onBuildComplete({ projectDir: ${JSON.stringify(dir)} }).then(
        () => console.log('loaded?'),
        (e) => console.log(JSON.stringify({ code: e.code, message: e.message })),
      )`
    const out = execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' })
    const err = JSON.parse(out)
    assert.equal(err.code, 'ACME_NATIVE_BINARY_MISSING')
    const { platformSuffix } = require('../platform.js')
    assert.match(err.message, new RegExp(`@acme/next-adapter-${platformSuffix()}`))
    assert.match(err.message, /optional dependency/)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('an unsupported platform lists the platforms that have binaries', () => {
  const { missingBinaryError } = require('../platform.js')
  const err = missingBinaryError(new Error('x'), { platform: 'freebsd', arch: 'x64', musl: false })
  assert.match(err.message, /no prebuilt binary for freebsd-x64/)
  assert.match(err.message, /linux-x64-gnu, linux-arm64-gnu, linux-x64-musl, darwin-x64, darwin-arm64, win32-x64-msvc/)
})

test('modifyConfig fails early for a Next.js without the stable adapter API', () => {
  const adapter = require('@acme/next-adapter')
  for (const v of ['15.5.4', '16.0.3', '16.1.7', '17.0.0']) {
    assert.throws(() => adapter.modifyConfig({}, { phase: 'phase-production-build', nextVersion: v }), {
      code: 'ACME_UNSUPPORTED_NEXT_VERSION',
      message: new RegExp(`Next\\.js ${v.replace(/\./g, '\\.')}`),
    })
  }
  for (const v of ['16.2.0', '16.3.8', '16.4.6']) {
    const config = { images: {} }
    assert.deepEqual(adapter.modifyConfig(config, { phase: 'phase-production-build', nextVersion: v }).images, config.images)
  }
})

test('modifyConfig sets deploymentId from ACME_DEPLOYMENT_ID and says when it replaces one', (t) => {
  const adapter = require('@acme/next-adapter')
  const ctx = { phase: 'phase-production-build', nextVersion: '16.4.6' }
  const warnings = []
  t.mock.method(console, 'warn', (msg) => warnings.push(msg))
  const saved = process.env.ACME_DEPLOYMENT_ID
  try {
    delete process.env.ACME_DEPLOYMENT_ID
    const untouched = { deploymentId: 'mine', images: {} }
    assert.equal(adapter.modifyConfig(untouched, ctx).deploymentId, 'mine', 'without the variable it is kept')

    process.env.ACME_DEPLOYMENT_ID = 'dpl-42'
    const set = adapter.modifyConfig({ images: { x: 1 } }, ctx)
    assert.deepEqual({ images: set.images, deploymentId: set.deploymentId }, { images: { x: 1 }, deploymentId: 'dpl-42' })
    assert.deepEqual(warnings, [])

    const replaced = adapter.modifyConfig({ deploymentId: 'mine' }, ctx)
    assert.equal(replaced.deploymentId, 'dpl-42')
    assert.equal(warnings.length, 1)
    assert.match(warnings[0], /`deploymentId` "mine" is replaced by ACME_DEPLOYMENT_ID "dpl-42"/)
  } finally {
    if (saved === undefined) delete process.env.ACME_DEPLOYMENT_ID
    else process.env.ACME_DEPLOYMENT_ID = saved
  }
})

test('modifyConfig points the cache handler at the platform store and keeps a user handler with a warning', (t) => {
  const adapter = require('@acme/next-adapter')
  const path = require('node:path')
  const fs = require('node:fs')
  const ctx = { phase: 'phase-production-build', nextVersion: '16.4.6' }
  const warnings = []
  t.mock.method(console, 'warn', (msg) => warnings.push(msg))
  const set = adapter.modifyConfig({ cacheHandlers: { static: undefined } }, ctx)
  assert.ok(path.isAbsolute(set.cacheHandler) && fs.existsSync(set.cacheHandler), set.cacheHandler)
  assert.match(set.cacheHandler, /runtime[\\/]cache[\\/]next-cache-handler\.js$/)
  assert.deepEqual(set.cacheHandlers, { static: undefined }, "'use cache' handlers are registered at run time, not here")
  assert.deepEqual(warnings, [])
  const kept = adapter.modifyConfig({ cacheHandler: '/app/my-handler.js', cacheHandlers: { remote: '/app/remote.js' } }, ctx)
  assert.equal(kept.cacheHandler, '/app/my-handler.js')
  assert.equal(kept.cacheHandlers.remote, '/app/remote.js')
  assert.equal(warnings.length, 2)
  assert.match(warnings[0], /`cacheHandler` \("\/app\/my-handler\.js"\) is kept/)
  assert.match(warnings[1], /`cacheHandlers\.remote` \("\/app\/remote\.js"\) is kept/)
  const served = adapter.modifyConfig({}, { phase: 'phase-production-server', nextVersion: '16.4.6' })
  assert.equal(served.cacheHandler, undefined, 'next start on the same project keeps its own cache')
})
