'use strict'

// The build report: report.json of real `next build`s of the app-router fixture, the deployment
// hash across two rebuilds of the same source and after a one-line change, and `inspect()`.

const { test, describe, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { buildFixture, fixtureDir } = require('./helpers/fixtures')
const { readJson } = require('./helpers/output-check')
const { inspect } = require('../runtime/inspect.js')

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'acme-report-test-'))
// A copy at the same depth as the fixtures, so `next` resolves from the repository's node_modules.
const copyName = `.report-copy-${process.pid}`
const copyDir = fixtureDir(copyName)
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true })
  fs.rmSync(copyDir, { recursive: true, force: true })
})

function built(name, outputDir) {
  const res = buildFixture(name, { ACME_OUTPUT_DIR: outputDir })
  assert.equal(res.status, 0, `next build of ${name} failed:\n${res.stdout}\n${res.stderr}`)
  return {
    stdout: res.stdout,
    manifest: readJson(path.join(outputDir, 'manifest.json')),
    report: readJson(path.join(outputDir, 'report.json')),
    reportText: fs.readFileSync(path.join(outputDir, 'report.json'), 'utf8'),
  }
}

describe('app-router fixture', () => {
  let first
  let second
  let changed
  let encryptionKey
  before(() => {
    first = built('app-router', path.join(tmp, 'first'))
    second = built('app-router', path.join(tmp, 'second'))
    const srm = path.join(fixtureDir('app-router'), '.next', 'server', 'server-reference-manifest.json')
    encryptionKey = readJson(srm).encryptionKey

    fs.cpSync(fixtureDir('app-router'), copyDir, {
      recursive: true,
      filter: (src) => !/[\\/](\.next|\.acme|node_modules)$/.test(src),
    })
    const about = path.join(copyDir, 'app', 'about', 'page.js')
    const source = fs.readFileSync(about, 'utf8')
    assert.match(source, /<h1>About<\/h1>/)
    fs.writeFileSync(about, source.replace('<h1>About</h1>', '<h1>About us</h1>'))
    changed = built(copyName, path.join(tmp, 'changed'))
  })

  test('two builds of the same source have the same deploymentHash', () => {
    assert.match(first.manifest.deploymentHash, /^[0-9a-f]{64}$/)
    assert.notEqual(first.manifest.buildId, second.manifest.buildId, 'each build is random')
    assert.notEqual(first.manifest.contentHash, second.manifest.contentHash, 'contentHash covers exact bytes')
    assert.equal(second.manifest.deploymentHash, first.manifest.deploymentHash)
    assert.equal(first.report.deploymentHash, first.manifest.deploymentHash)
    assert.equal(first.report.contentHash, first.manifest.contentHash)
  })

  test('a one-line source change gives another deploymentHash', () => {
    assert.match(changed.manifest.deploymentHash, /^[0-9a-f]{64}$/)
    assert.notEqual(changed.manifest.deploymentHash, first.manifest.deploymentHash)
  })

  test('report.json: detected features and versions', () => {
    const { features, versions } = second.report
    assert.deepEqual(features, {
      rsc: true,
      pagesRouter: false,
      serverActions: true,
      middleware: { kind: 'middleware', runtime: 'edge', detectedBy: 'entry' },
      isr: true,
      imageOptimization: true,
      i18n: false,
      ppr: false,
      after: false,
      edge: true,
    })
    assert.equal(versions.next.version, second.manifest.nextVersion)
    assert.match(versions.react.version, /^19\./)
  })

  test('report.json: the server action of app/action/page.js, without the encryption key', () => {
    const action = second.report.actions.find((a) => a.module.endsWith('app-router/app/action/page.js'))
    assert.ok(action, JSON.stringify(second.report.actions))
    assert.match(action.id, /^[0-9a-f]{42}$/)
    assert.equal(action.export, '$$RSC_SERVER_ACTION_0')
    assert.equal(action.inline, true)
    assert.equal(action.runtime, 'node')
    assert.deepEqual(
      action.workers.map((w) => [w.worker, w.pathname]),
      [['app/action/page', '/action']],
    )
    assert.ok(encryptionKey && encryptionKey.length > 20)
    assert.ok(!second.reportText.includes(encryptionKey), 'the encryption key is not in report.json')
  })

  test('report.json: binding hints and dead outputs', () => {
    const { bindings, deadOutputs, scanned } = second.report
    assert.ok(bindings.env.ACME_FIXTURE_GREETING, JSON.stringify(bindings.env))
    assert.ok(bindings.env.ACME_FIXTURE_GREETING.every((f) => f.includes('/.next/server/')))
    assert.ok(bindings.internalEnv.includes('__NEXT_BUILD_ID'))
    assert.equal(bindings.env.NODE_ENV, undefined)
    assert.ok(bindings.fetchOrigins['https://api.example.com'])
    assert.ok(scanned.files > 0)
    assert.ok(deadOutputs.dead.files > 0 && deadOutputs.dead.bytes > 0)
    assert.ok(deadOutputs.byReason['source-map'].files > 0)
    assert.equal(
      deadOutputs.serverDir.files,
      deadOutputs.placed.files + deadOutputs.packed.files + deadOutputs.dead.files,
    )
  })

  test('the build summary prints lines from the report', () => {
    assert.match(second.stdout, /deployment hash [0-9a-f]{64}/)
    assert.match(second.stdout, /features\s+app router \(RSC\), server actions, middleware \(edge\)/)
    assert.match(second.stdout, /actions\s+1 server action\b/)
    assert.match(second.stdout, /env\s+.*ACME_FIXTURE_GREETING/)
  })

  test('inspect() shows the report and the route table', () => {
    const dir = path.join(tmp, 'second')
    const text = inspect(dir)
    assert.match(text, new RegExp(`deployment hash ${second.manifest.deploymentHash}`))
    assert.match(text, /^Features$/m)
    assert.match(text, /server actions\s+yes/)
    assert.match(text, /middleware \/ proxy\s+middleware \(edge/)
    assert.match(text, /env \(app\)\s+ACME_FIXTURE_GREETING/)
    assert.match(text, /Functions \(\d+\)\n(.*\n)*\s+\/api\/edge\s+edge\s+edge-function/)
    assert.match(text, /\/isr\s+60s/)
    assert.match(text, /public-file\s+5/)
    assert.match(text, /Routing phases\n\s+beforeMiddleware \d+ · beforeFiles \d+/)

    const json = JSON.parse(inspect(dir, { json: true }))
    assert.equal(json.deploymentHash, second.manifest.deploymentHash)
    assert.equal(json.report.actions.length, second.report.actions.length)
    assert.equal(json.routes.functions.length, second.manifest.functions.length)
    assert.equal(json.routes.staticFiles['public-file'], 5)
    assert.throws(() => inspect(path.join(tmp, 'nope')), { code: 'ACME_INSPECT_MISSING' })
  })
})
