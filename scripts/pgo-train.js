#!/usr/bin/env node
'use strict'

// The training run of the profile-guided build (scripts/build-native.js): exercises the
// addon the way the runtime does, so the compiler knows which paths are hot. It loads the
// instrumented addon named by NAPI_RS_NATIVE_LIBRARY_PATH (binding.js honours it) and
// - routes a corpus through runtime/router.js (`resolve`, then `resume` with middleware outcomes
//   of every kind), on route tables made from the committed captured contexts (app-router,
//   pages-router, and pages-router given i18n and a basePath), with requests of another seed
//   than bench:routing's, so the benchmark does not measure the requests it was trained on;
// - optimizes the committed test images into every output format, so the image encoders are
//   profiled too (code a profile never saw is laid out and inlined as cold).
// Needs no `next build`: everything comes from files in the repository.

const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..')
const { createRouter } = require(path.join(ROOT, 'runtime', 'router.js'))
const { corpus, oraclePathnames } = require(path.join(ROOT, '__test__', 'helpers', 'routing-harness.js'))
const binding = require(path.join(ROOT, 'binding.js'))

const CONTEXTS = path.join(ROOT, 'crates', 'acme-core', 'tests', 'fixtures')
const SEED = 101
const REQUESTS = 3000
const PASSES = 5

/** A manifest-shaped document from a captured onBuildComplete context (as the core's tests do). */
function manifestFromContext(name) {
  const ctx = JSON.parse(fs.readFileSync(path.join(CONTEXTS, `${name}.context.json`), 'utf8'))
  const o = ctx.outputs
  const functions = []
  for (const k of ['pages', 'pagesApi', 'appPages', 'appRoutes']) {
    for (const f of o[k] || []) functions.push({ pathname: f.pathname, id: f.id, kind: 'node-function' })
  }
  return {
    buildId: ctx.buildId,
    config: ctx.config,
    routing: ctx.routing,
    middlewareMatchers: ctx.routing.middlewareMatchers,
    functions,
    staticFiles: o.staticFiles,
    prerenders: o.prerenders,
  }
}

function fixtures() {
  const app = manifestFromContext('app-router')
  const pages = manifestFromContext('pages-router')
  const i18n = structuredClone(pages)
  i18n.config = {
    ...i18n.config,
    basePath: '/base',
    trailingSlash: true,
    i18n: {
      locales: ['en', 'fr', 'de-DE'],
      defaultLocale: 'en',
      domains: [{ domain: 'fr.example.test', defaultLocale: 'fr' }],
    },
  }
  return [
    ['app-router', app],
    ['pages-router', pages],
    ['i18n-basepath', i18n],
  ].map(([name, manifest]) => ({ name, manifest, text: JSON.stringify(manifest), pathnames: oraclePathnames(manifest) }))
}

/** A middleware outcome of every kind the runtime passes, chosen by the request's index. */
function outcome(i, req) {
  const headers = { ...req.headers }
  switch (i % 10) {
    case 0:
      return { bodySent: false, requestHeaders: { ...headers, 'x-from-middleware': '1' }, responseHeaders: {} }
    case 1:
      return { bodySent: false, requestHeaders: headers, responseHeaders: { 'x-middleware': 'yes', 'set-cookie': ['a=1', 'b=2'] } }
    case 2:
      return { bodySent: false, requestHeaders: headers, responseHeaders: {}, rewrite: 'http://localhost/about?x=1' }
    case 3:
      return { bodySent: false, requestHeaders: headers, responseHeaders: {}, redirect: { url: 'http://localhost/', status: 307 } }
    case 4:
      return { bodySent: true, requestHeaders: headers, responseHeaders: { 'content-type': 'text/plain' } }
    default:
      return { bodySent: false, requestHeaders: headers, responseHeaders: {} }
  }
}

function trainRouting() {
  let decisions = 0
  for (const fx of fixtures()) {
    const router = createRouter(fx.text)
    const reqs = corpus(fx, REQUESTS, SEED)
    for (let pass = 0; pass < PASSES; pass++) {
      for (let i = 0; i < reqs.length; i++) {
        const d = router.resolve(reqs[i])
        if (d.kind === 'middleware') router.resume(d.continuation, outcome(i, reqs[i]))
        decisions++
      }
    }
    // The class API and the rawHeaders form, which the runtime uses too.
    for (const req of reqs.slice(0, 200)) {
      const flat = Object.entries(req.headers).flat()
      router.resolve({ method: req.method, url: req.url, headers: flat })
    }
  }
  return decisions
}

async function trainImages() {
  const dir = path.join(ROOT, '__test__', 'fixtures', 'images', 'public', 'images')
  const inputs = ['photo.jpg', 'alpha.png', 'pic.webp', 'still.gif'].map((n) => fs.readFileSync(path.join(dir, n)))
  let images = 0
  for (const input of inputs) {
    for (const type of ['image/avif', 'image/webp', 'image/png', 'image/jpeg']) {
      await binding.optimizeImage(input, 64, 75, type)
      images++
    }
  }
  return images
}

async function main() {
  const decisions = trainRouting()
  const images = await trainImages()
  console.error(`[pgo-train] ${decisions} routing decisions, ${images} images`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
