'use strict'

// Checks a written .acme/output against the onBuildComplete context it was written from:
// every function, traced asset, static file, public file and prerender seed.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const zlib = require('node:zlib')

function readJson(p) {
  return JSON.parse(fs.readFileSync(p, 'utf8'))
}

function walk(dir, base = dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) walk(p, base, out)
    else out.push(path.relative(base, p).split(path.sep).join('/'))
  }
  return out
}

/** The decoded bytes of a prerender's seed, read from the seed pack by (offset, length). */
function seedBytes(outputDir, manifest, seed) {
  const blob = manifest.seedPack.blobs[seed.blob]
  const fd = fs.openSync(path.join(outputDir, manifest.seedPack.file), 'r')
  try {
    const buf = Buffer.alloc(blob.length)
    fs.readSync(fd, buf, 0, blob.length, blob.offset)
    const raw = blob.encoding === 'gzip' ? zlib.gunzipSync(buf) : buf
    assert.equal(raw.length, blob.size)
    return raw
  } finally {
    fs.closeSync(fd)
  }
}

/** Checks every output of a captured context against the written output directory. */
function assertOutputComplete(ctx, outputDir) {
  const manifest = readJson(path.join(outputDir, 'manifest.json'))
  const projectDir = ctx.projectDir
  assert.equal(manifest.buildId, ctx.buildId)
  assert.equal(manifest.nextVersion, ctx.nextVersion)

  const functions = [
    ...ctx.outputs.pages,
    ...ctx.outputs.pagesApi,
    ...ctx.outputs.appPages,
    ...ctx.outputs.appRoutes,
    ...(ctx.outputs.middleware ? [ctx.outputs.middleware] : []),
  ]
  const byId = new Map(manifest.functions.map((f) => [f.id, f]))
  assert.equal(manifest.functions.length, functions.length, 'one manifest entry per function')
  for (const fn of functions) {
    const entry = byId.get(fn.id)
    assert.ok(entry, `function ${fn.id} in manifest`)
    assert.equal(entry.runtime, fn.runtime)
    assert.equal(entry.pathname, fn.pathname)
    const entryFile = path.join(outputDir, entry.entry)
    assert.deepEqual(fs.readFileSync(entryFile), fs.readFileSync(fn.filePath), `entry of ${fn.id}`)
    for (const [key, abs] of Object.entries(fn.assets)) {
      const rel = key.startsWith('../') ? path.relative(ctx.repoRoot, abs) : key
      const placed = path.join(outputDir, 'server', rel)
      assert.ok(fs.existsSync(placed), `asset ${key} of ${fn.id}`)
      assert.equal(fs.statSync(placed).size, fs.statSync(abs).size, `asset ${key} of ${fn.id}`)
    }
    if (fn.runtime === 'edge') {
      assert.equal(entry.edge.entryKey, fn.edgeRuntime.entryKey)
      assert.equal(entry.edge.handlerExport, fn.edgeRuntime.handlerExport)
      for (const s of entry.edge.scripts) assert.ok(fs.existsSync(path.join(outputDir, s)), s)
      assert.equal(
        entry.edge.scripts.length,
        new Set(Object.values(fn.assets).filter((a) => a.endsWith('.js')).concat(fn.filePath)).size,
        `every .js asset of ${fn.id} is listed for evaluation`,
      )
    }
  }

  const statics = new Map(manifest.staticFiles.map((s) => [s.pathname, s]))
  for (const s of ctx.outputs.staticFiles) {
    const entry = statics.get(s.pathname)
    assert.ok(entry, `static ${s.pathname}`)
    assert.deepEqual(fs.readFileSync(path.join(outputDir, entry.file)), fs.readFileSync(s.filePath), s.pathname)
  }

  const publicDir = path.join(projectDir, 'public')
  const publicFiles = fs.existsSync(publicDir) ? walk(publicDir) : []
  assert.ok(publicFiles.length > 0, 'fixture has public files')
  // Public files are served below basePath, like every other output pathname.
  const basePath = (ctx.config && ctx.config.basePath) || ''
  for (const rel of publicFiles) {
    const entry = statics.get(`${basePath}/${rel}`)
    assert.ok(entry, `public file ${basePath}/${rel} in manifest`)
    assert.equal(entry.kind, 'public-file')
    assert.deepEqual(fs.readFileSync(path.join(outputDir, entry.file)), fs.readFileSync(path.join(publicDir, rel)))
  }

  const prerenders = new Map(manifest.prerenders.map((p) => [p.id, p]))
  // The adapter adds the not-found Flight payloads Next's context leaves out (index.js).
  const ids = new Set(ctx.outputs.prerenders.map((p) => p.id))
  const added = manifest.prerenders.filter((p) => !ids.has(p.id))
  assert.deepEqual(added.filter((p) => p.route !== '/_not-found' || !p.seed).map((p) => p.id), [], 'prerenders not in the context')
  assert.equal(manifest.prerenders.length - added.length, ctx.outputs.prerenders.length)
  for (const p of ctx.outputs.prerenders) {
    const entry = prerenders.get(p.id)
    assert.ok(entry, `prerender ${p.id}`)
    assert.equal(entry.pathname, p.pathname)
    if (p.fallback && p.fallback.filePath) {
      assert.ok(entry.seed, `seed of ${p.id}`)
      assert.deepEqual(seedBytes(outputDir, manifest, entry.seed), fs.readFileSync(p.fallback.filePath), `seed of ${p.id}`)
      assert.deepEqual(manifest.headerSets[entry.seed.headers], p.fallback.initialHeaders || {})
      if (p.fallback.initialRevalidate !== undefined) assert.equal(entry.revalidate, p.fallback.initialRevalidate)
      if (p.fallback.initialExpiration !== undefined) assert.equal(entry.expire, p.fallback.initialExpiration)
    } else {
      assert.equal(entry.seed, undefined)
    }
    const cache = manifest.cacheConfigs[entry.cacheConfig]
    assert.equal(cache.bypassToken, p.config.bypassToken)
    assert.deepEqual(cache.allowQuery, p.config.allowQuery)
    assert.deepEqual(cache.allowHeader, p.config.allowHeader)
  }
  return manifest
}

module.exports = { assertOutputComplete, seedBytes, readJson }
