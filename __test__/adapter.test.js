'use strict'

// The adapter end to end: real `next build` of the fixture apps through `@acme/next-adapter`,
// then assertions on what `.acme/output/` holds, and that it runs on its own once copied.

const { test, describe, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { ROOT, buildFixture, fixtureDir } = require('./helpers/fixtures')
const { assertOutputComplete, seedBytes, readJson } = require('./helpers/output-check')

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'acme-adapter-test-'))
after(() => fs.rmSync(tmp, { recursive: true, force: true }))

/**
 * Copies an output directory somewhere with no node_modules above it and serves it with the
 * `server.js` the adapter put in it: nothing but the copy and Node.js.
 */
async function serveCopy(outputDir, name) {
  const copy = path.join(tmp, name)
  fs.cpSync(outputDir, copy, { recursive: true })
  const child = spawn(process.execPath, [path.join(copy, 'server.js'), '--port', '0', '--hostname', '127.0.0.1'], {
    cwd: tmp,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ACME_LOG: 'silent', ACME_CACHE_DIR: path.join(tmp, `${name}-cache`) },
  })
  const origin = await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      const m = /ready on (http:\/\/\S+)/.exec(out)
      if (m) resolve(m[1])
    })
    child.once('exit', (code) => reject(new Error(`server.js exited ${code}: ${out}`)))
  })
  return {
    url: (p) => `${origin}${p}`,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', resolve)
        child.kill('SIGTERM')
      }),
  }
}

test('the package is a NextAdapter', () => {
  const adapter = require('@acme/next-adapter')
  assert.equal(adapter, require(path.join(ROOT, 'index.js')))
  assert.equal(adapter.name, 'acme')
  assert.equal(typeof adapter.modifyConfig, 'function')
  assert.equal(typeof adapter.onBuildComplete, 'function')
  assert.equal(require.resolve('@acme/next-adapter', { paths: [fixtureDir('app-router')] }), path.join(ROOT, 'index.js'))
})

describe('app-router fixture', () => {
  let build
  let ctx
  before(() => {
    const capture = path.join(tmp, 'app-router.context.json')
    build = buildFixture('app-router', { ACME_CAPTURE_CONTEXT: capture })
    assert.equal(build.status, 0, `next build failed:\n${build.stdout}\n${build.stderr}`)
    ctx = readJson(capture)
  })

  test('prints a build summary', () => {
    assert.match(build.stdout, /acme: wrote \.acme\/output in \d+ ms/)
    assert.match(build.stdout, /public-file\s+5\s/)
    assert.match(build.stdout, /prerender-seed\s+\d+\s+[\d.]+ KB\s+\(\d+ distinct/)
    assert.match(build.stdout, /content hash [0-9a-f]{64}/)
  })

  test('.acme/output holds every output, public file and traced asset', () => {
    const manifest = assertOutputComplete(ctx, build.outputDir)
    assert.equal(manifest.features.appRouter, true)
    assert.equal(manifest.features.middleware, 'edge')
    assert.equal(manifest.features.isr, true)
    assert.ok(manifest.features.edgeFunctions >= 1)
    assert.ok(manifest.middlewareMatchers.length >= 1)
    assert.deepEqual(manifest.routing.beforeFiles, ctx.routing.beforeFiles)
    assert.equal(manifest.projectDir, '__test__/fixtures/app-router')
    const img = manifest.config.images
    assert.deepEqual(img.remotePatterns, ctx.config.images.remotePatterns)
    const blog = manifest.prerenders.find((p) => p.pathname === '/blog/first')
    assert.equal(blog.fallbackMode.mode, 'blocking')
    const headers = manifest.headerSets[blog.seed.headers]
    assert.match(headers['x-next-cache-tags'], /_N_T_\/blog\/first/)
    assert.equal(headers['content-type'], 'text/html; charset=utf-8')
    assert.match(seedBytes(build.outputDir, manifest, blog.seed).toString(), /<html/)
    const products = manifest.prerenders.find((p) => p.pathname === '/products/1')
    assert.equal(products.fallbackMode.mode, 'notFound')
  })

  test('the output runs on its own once copied elsewhere: node server.js', async () => {
    const server = await serveCopy(build.outputDir, 'app-router-copy')
    try {
      const edge = await fetch(server.url('/api/edge'))
      assert.equal(edge.status, 200, 'edge route through the bundled edge-runtime')
      const robots = await fetch(server.url('/robots.txt'))
      assert.equal(await robots.text(), fs.readFileSync(path.join(fixtureDir('app-router'), 'public', 'robots.txt'), 'utf8'))
      const hello = await fetch(server.url('/api/hello'))
      assert.equal(hello.status, 200)
      assert.equal((await hello.json()).hello, 'world')
      const page = await fetch(server.url('/dynamic'), { headers: { 'user-agent': 'acme-test-agent' } })
      assert.equal(page.status, 200)
      const html = await page.text()
      assert.match(html, /<h1>Dynamic<\/h1>/)
      assert.match(html, /acme-test-agent/)
    } finally {
      await server.stop()
    }
  })

  test('malformed contexts are rejected with the field named, and a good output survives', async () => {
    const adapter = require('@acme/next-adapter')
    const outputDir = path.join(tmp, 'keep')
    process.env.ACME_OUTPUT_DIR = outputDir
    process.env.ACME_QUIET = '1'
    try {
      await adapter.onBuildComplete(ctx)
      // ACME_OUTPUT_DIR wins over the default location.
      assert.ok(fs.existsSync(path.join(outputDir, 'static', 'robots.txt')))
      const good = fs.readFileSync(path.join(outputDir, 'manifest.json'))

      const bad = structuredClone(ctx)
      bad.outputs.prerenders[1].groupId = 'seven'
      await assert.rejects(adapter.onBuildComplete(bad), (err) => {
        assert.equal(err.code, 'ACME_INVALID_CONTEXT')
        assert.match(err.message, /^@acme\/next-adapter: invalid build context at `outputs\.prerenders\[1\]\.groupId`/)
        return true
      })

      const missing = structuredClone(ctx)
      missing.outputs.staticFiles[0].filePath = path.join(tmp, 'nope.js')
      await assert.rejects(adapter.onBuildComplete(missing), (err) => {
        assert.equal(err.code, 'ACME_MISSING_FILE')
        assert.ok(err.message.includes(ctx.outputs.staticFiles[0].id), err.message)
        assert.match(err.message, /does not exist/)
        return true
      })

      const old = { ...ctx, nextVersion: '15.3.0' }
      await assert.rejects(adapter.onBuildComplete(old), { code: 'ACME_UNSUPPORTED_NEXT_VERSION' })

      assert.deepEqual(fs.readFileSync(path.join(outputDir, 'manifest.json')), good)
      assert.deepEqual(fs.readdirSync(tmp).filter((n) => n.startsWith('.keep')), [], 'no staging left')
    } finally {
      delete process.env.ACME_OUTPUT_DIR
      delete process.env.ACME_QUIET
    }
  })

  test('functions in next.config do not break serialization', () => {
    const { serializeContext } = require('@acme/next-adapter')
    const json = serializeContext({ config: { webpack: () => {}, n: 1n, re: /a+/, s: new Set([1]) }, x: Symbol('y') })
    assert.deepEqual(JSON.parse(json), { config: { n: '1', re: 'a+', s: [1] } })
  })
  test('a rebuild replaces the output with the same shape (runs last: it replaces the build)', () => {
    const manifest = readJson(path.join(build.outputDir, 'manifest.json'))
    const res = buildFixture('app-router')
    assert.equal(res.status, 0, res.stderr)
    const second = readJson(path.join(res.outputDir, 'manifest.json'))
    // Build ids, preview keys and chunk hashes change per build; the shape does not.
    const shape = (m) => ({
      functions: m.functions.map((f) => [f.id, f.runtime, f.kind]),
      prerenders: m.prerenders.map((p) => [p.id, p.revalidate, p.fallbackMode]),
      statics: m.staticFiles.filter((s) => s.kind === 'public-file').map((s) => [s.pathname, s.size]),
    })
    assert.deepEqual(shape(second), shape(manifest))
    assert.notEqual(second.buildId, manifest.buildId)
  })
})

describe('pages-router fixture', () => {
  let build
  let ctx
  before(() => {
    const capture = path.join(tmp, 'pages-router.context.json')
    build = buildFixture('pages-router', { ACME_CAPTURE_CONTEXT: capture, ACME_DEPLOYMENT_ID: 'acme-test-dpl' })
    assert.equal(build.status, 0, `next build failed:\n${build.stdout}\n${build.stderr}`)
    ctx = readJson(capture)
  })

  test('.acme/output holds every output, public file and traced asset', () => {
    const manifest = assertOutputComplete(ctx, build.outputDir)
    assert.equal(manifest.features.pagesRouter, true)
    assert.equal(manifest.config.deploymentId, 'acme-test-dpl', 'modifyConfig set it from ACME_DEPLOYMENT_ID')
    assert.equal(manifest.features.appRouter, false)
    const modes = new Set(manifest.prerenders.map((p) => p.fallbackMode && p.fallbackMode.mode))
    for (const mode of ['blocking', 'notFound', 'static']) assert.ok(modes.has(mode), `fallback mode ${mode}`)
    const data = manifest.prerenders.find((p) => p.pathname === `/_next/data/${ctx.buildId}/isr.json`)
    assert.ok(JSON.parse(seedBytes(build.outputDir, manifest, data.seed)).pageProps, 'getStaticProps data is seeded')
    assert.equal(data.revalidate, 30)
    const home = manifest.staticFiles.find((s) => s.pathname === '/index')
    assert.equal(home.file, 'static/index.html')
    assert.equal(home.contentType, 'text/html; charset=utf-8')
  })

  test('the output runs on its own once copied elsewhere: node server.js', async () => {
    const server = await serveCopy(build.outputDir, 'pages-router-copy')
    try {
      const api = await fetch(server.url('/api/hello?x=1'))
      assert.equal(api.status, 200)
      assert.deepEqual(await api.json(), { hello: 'world', method: 'GET', query: { x: '1' } })
      const ssr = await fetch(server.url('/ssr'), { headers: { 'user-agent': 'pages-agent' } })
      assert.equal(ssr.status, 200)
      assert.match(await ssr.text(), /pages-agent/)
    } finally {
      await server.stop()
    }
  })
})
