'use strict'

// The thin adapter: everything Next hands us goes to the Rust core as one JSON document.
// JS only strips what cannot cross (functions, symbols, bigints) and prints the summary.

const fs = require('node:fs')
const path = require('node:path')
const { formatBytes } = require('./runtime/format.js')
const { version } = require('./package.json')
const { missingBinaryError, platformSuffix } = require('./platform.js')
const { prepareRuntimeBundle } = require('./bundle.js')

const ADAPTER_NAME = 'acme'
// The adapter API is stable from Next 16.2; the context shape is known up to 16.x.
const SUPPORTED_NEXT = { min: [16, 2], below: [17, 0] }

let nativeBinding
function native() {
  // Loaded on first use so that `require('@acme/next-adapter')` in next.config stays cheap
  // and a missing binary fails the build step that needs it, naming the package to install.
  if (!nativeBinding) {
    try {
      nativeBinding = require('./binding.js')
    } catch (err) {
      throw missingBinaryError(err)
    }
  }
  return nativeBinding
}

/** Throws early, from modifyConfig, for a Next version whose build output this adapter cannot read. */
function checkNextVersion(nextVersion) {
  const [major, minor] = String(nextVersion).split('.').map((n) => parseInt(n, 10))
  const at = (v) => major > v[0] || (major === v[0] && minor >= v[1])
  if (!Number.isFinite(major) || !Number.isFinite(minor) || !at(SUPPORTED_NEXT.min) || at(SUPPORTED_NEXT.below)) {
    const err = new Error(
      `@acme/next-adapter supports Next.js >= ${SUPPORTED_NEXT.min.join('.')} and < ${SUPPORTED_NEXT.below.join('.')} ` +
        `(the stable adapter API); this build uses Next.js ${nextVersion}.`,
    )
    err.code = 'ACME_UNSUPPORTED_NEXT_VERSION'
    throw err
  }
}

function jsonReplacer(_key, value) {
  switch (typeof value) {
    case 'function':
    case 'symbol':
      return undefined
    case 'bigint':
      return value.toString()
    default:
      if (value instanceof RegExp) return value.source
      if (value instanceof Set) return [...value]
      if (value instanceof Map) return Object.fromEntries(value)
      return value
  }
}

/** Serializes the onBuildComplete context the way the Rust core expects it. */
function serializeContext(ctx) {
  return JSON.stringify(ctx, jsonReplacer)
}

/**
 * The context with the build's not-found Flight payloads added as prerenders when Next left them
 * out. Next's adapter API skips the `/_not-found` prerender when a static 404.html exists
 * (build/adapter/build-complete.js), yet `next start` answers an RSC request (and a segment
 * prefetch) for an unknown URL with exactly those files from its route cache. Their place is
 * Next's route-cache key (`server/lib/route-cache-key.js`: sha256 of the owner's source route).
 * Anything missing or unreadable leaves the context as it was: the runtime then renders the
 * not-found page instead.
 */
function withNotFoundPayloads(ctx) {
  const outputs = ctx && ctx.outputs
  if (!outputs || !Array.isArray(outputs.prerenders) || !Array.isArray(outputs.appPages)) return ctx
  const basePath = (ctx.config && ctx.config.basePath) || ''
  if (!outputs.appPages.some((p) => p.id === '/_not-found')) return ctx
  if (outputs.prerenders.some((p) => p.pathname === `${basePath}/_not-found.rsc`)) return ctx
  try {
    const distDir = path.resolve(ctx.projectDir || '.', ctx.distDir || '.next')
    const route = JSON.parse(fs.readFileSync(path.join(distDir, 'prerender-manifest.json'), 'utf8')).routes['/_not-found']
    if (!route || route.dataRoute !== '/_not-found.rsc') return ctx
    const owner = require('node:crypto').createHash('sha256').update('/_not-found/page').digest('hex')
    let base = path.join(distDir, 'server', 'route-cache', 'APP_PAGE', owner, '$', '_not-found')
    // Next 16.2 keeps them beside the page instead (server/app/_not-found.rsc).
    if (!fs.existsSync(`${base}.meta`)) base = path.join(distDir, 'server', 'app', '_not-found')
    const meta = JSON.parse(fs.readFileSync(`${base}.meta`, 'utf8'))
    const rsc = (ctx.routing && ctx.routing.rsc) || {}
    const headers = { ...(meta.headers || {}), 'content-type': rsc.contentTypeHeader || 'text/x-component' }
    if (rsc.varyHeader) headers.vary = rsc.varyHeader
    let groupId = outputs.prerenders.reduce((m, p) => Math.max(m, Number(p.groupId) || 0), 0)
    const files = [['/_not-found.rsc', `${base}.rsc`]]
    for (const seg of meta.segmentPaths || []) files.push([`/_not-found.segments${seg}.segment.rsc`, `${base}.segments${seg}.segment.rsc`])
    // Segment payloads carry the headers Next gives the build's other segment prerenders.
    const segmentOf = outputs.prerenders.find((p) => /\.segments\/.*\.segment\.rsc$/.test(p.pathname) && p.fallback && p.fallback.initialHeaders)
    const postponedHeader = segmentOf && segmentOf.fallback.initialHeaders['x-nextjs-postponed']
    const added = []
    for (const [pathname, filePath] of files) {
      if (!fs.existsSync(filePath)) continue
      const isSegment = pathname.endsWith('.segment.rsc')
      added.push({
        id: pathname,
        type: 'PRERENDER',
        pathname: `${basePath}${pathname}`,
        parentOutputId: '/_not-found',
        groupId: ++groupId,
        route: '/_not-found',
        fallback: {
          filePath,
          initialStatus: meta.status || 404,
          initialHeaders: isSegment && postponedHeader ? { ...headers, 'x-nextjs-postponed': postponedHeader } : headers,
          initialRevalidate: route.initialRevalidateSeconds ?? false,
        },
        config: { renderingMode: route.renderingMode },
      })
    }
    if (!added.length) return ctx
    return { ...ctx, outputs: { ...outputs, prerenders: [...outputs.prerenders, ...added] } }
  } catch {
    return ctx
  }
}

function outputDirFor(ctx) {
  const fromEnv = process.env.ACME_OUTPUT_DIR
  if (fromEnv) return path.resolve(ctx.projectDir || process.cwd(), fromEnv)
  return path.join(ctx.projectDir, '.acme', 'output')
}


function formatSummary(summary, outputDir, ms) {
  const rel = path.relative(process.cwd(), outputDir) || '.'
  const lines = [`acme: wrote ${rel} in ${ms.toFixed(0)} ms`]
  for (const row of summary.kinds) {
    let line = `  ${row.kind.padEnd(18)} ${String(row.count).padStart(6)}  ${formatBytes(row.bytes).padStart(10)}`
    if (row.kind === 'prerender-seed') {
      line += `  (${summary.seedBlobs} distinct, ${formatBytes(summary.seedRawBytes)} before dedup + gzip)`
    }
    lines.push(line)
  }
  lines.push(`  ${'manifest'.padEnd(18)} ${'1'.padStart(6)}  ${formatBytes(summary.manifestBytes).padStart(10)}`)
  lines.push(
    `  ${'total'.padEnd(18)} ${String(summary.files).padStart(6)}  ${formatBytes(summary.bytes).padStart(10)}` +
      `  (${summary.linked} hardlinked, ${summary.copied} copied)`,
  )
  lines.push(`  content hash ${summary.contentHash}`)
  // From report.json (`acme-next inspect` shows all of it).
  if (summary.deploymentHash) lines.push(`  deployment hash ${summary.deploymentHash}`)
  if (summary.features && summary.features.length) lines.push(`  features  ${summary.features.join(', ')}`)
  if (summary.actions) lines.push(`  actions   ${summary.actions} server action${summary.actions === 1 ? '' : 's'}`)
  if (summary.env && summary.env.length) lines.push(`  env       ${summary.env.join(', ')}`)
  if (summary.fetchOrigins && summary.fetchOrigins.length) lines.push(`  fetches   ${summary.fetchOrigins.join(', ')}`)
  if (summary.deadFiles) {
    lines.push(`  not needed ${summary.deadFiles} build files below .next/server (${formatBytes(summary.deadBytes)}), not written`)
  }
  return lines.join('\n')
}

// The core prefixes its messages with a stable code: `[ACME_INVALID_CONTEXT] …`.
function nativeError(err) {
  const match = /^\[(ACME_[A-Z_]+)\] ([\s\S]*)$/.exec(err.message)
  const wrapped = new Error(`@acme/next-adapter: ${match ? match[2] : err.message}`)
  wrapped.code = match ? match[1] : 'ACME_INTERNAL'
  return wrapped
}

const CACHE_HANDLER = path.join(__dirname, 'runtime', 'cache', 'next-cache-handler.js')
// What the handler loads beside it (next/… resolves through the output's traced node_modules).
const CACHE_HANDLER_FILES = [CACHE_HANDLER, path.join(__dirname, 'runtime', 'cache', 'tags.js')]

/**
 * The context with the cache handler among every node function's assets. Next loads the
 * `cacheHandler` of next.config by its path below the repository root; 16.3+ traces it into the
 * functions' assets, 16.2 does not (its functions then failed with "Cannot find module …
 * next-cache-handler.js"), so it is added wherever it is missing.
 */
function withCacheHandlerAssets(ctx) {
  const outputs = ctx && ctx.outputs
  if (!outputs || !ctx.repoRoot || !ctx.config || ctx.config.cacheHandler !== CACHE_HANDLER) return ctx
  const extra = {}
  for (const file of CACHE_HANDLER_FILES) {
    const key = path.relative(ctx.repoRoot, file).split(path.sep).join('/')
    // A handler outside the repository (a linked package) cannot be placed below it: Next could
    // not have loaded it from the output either way.
    if (key.startsWith('../') || path.isAbsolute(key)) return ctx
    extra[key] = file
  }
  const withAssets = (fns) =>
    Array.isArray(fns) ? fns.map((f) => (f && f.runtime === 'nodejs' ? { ...f, assets: { ...extra, ...(f.assets || {}) } } : f)) : fns
  return {
    ...ctx,
    outputs: {
      ...outputs,
      pages: withAssets(outputs.pages),
      pagesApi: withAssets(outputs.pagesApi),
      appPages: withAssets(outputs.appPages),
      appRoutes: withAssets(outputs.appRoutes),
    },
  }
}
const warnedCacheSettings = new Set()

function warnKeptCacheSetting(setting, value) {
  // modifyConfig runs once per build phase and worker: say it once per process.
  if (warnedCacheSettings.has(setting)) return
  warnedCacheSettings.add(setting)
  console.warn(
    `@acme/next-adapter: next.config \`${setting}\` (${JSON.stringify(value)}) is kept: that cache does not reach ` +
      `the Acme cache store, so revalidation there is not shared between instances.`,
  )
}

/**
 * Points Next's incremental cache handler at this package's (an absolute path: Next makes it
 * relative to distDir in required-server-files.json and traces it into the function assets).
 * The 'use cache' handlers are not set here: Turbopack 16.4.6 emits an edge app route that does
 * not parse ("Expected ';', '}' or <eof>" in edge-app-route.js) whenever `cacheHandlers` names a
 * file, so the runtime registers them where Next looks for platform handlers instead
 * (runtime/cache/index.js). A user's own handlers are kept, with a warning naming them.
 */
function withCacheHandlers(config) {
  const out = { ...config }
  if (config.cacheHandler && config.cacheHandler !== CACHE_HANDLER) warnKeptCacheSetting('cacheHandler', config.cacheHandler)
  else out.cacheHandler = CACHE_HANDLER
  for (const kind of ['default', 'remote']) {
    const own = config.cacheHandlers && config.cacheHandlers[kind]
    if (own) warnKeptCacheSetting(`cacheHandlers.${kind}`, own)
  }
  return out
}

/**
 * The data cache the build filled (`fetch` with force-cache / revalidate, `unstable_cache`), which
 * `next start` starts from: copied to `<output>/data-cache/` with its times, so the runtime's
 * data cache starts from the same entries (runtime/cache/index.js reads them on a miss).
 */
function attachDataCacheSeeds(attachDir, distDir) {
  const from = distDir ? path.join(distDir, 'cache', 'fetch-cache') : null
  if (!from || !fs.existsSync(from)) return
  const to = path.join(attachDir, 'data-cache')
  fs.mkdirSync(to, { recursive: true })
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    if (!e.isFile()) continue
    const src = path.join(from, e.name)
    const dest = path.join(to, e.name)
    fs.copyFileSync(src, dest)
    const st = fs.statSync(src)
    fs.utimesSync(dest, st.atime, st.mtime)
  }
}

/** @type {import('./index').AcmeAdapter} */
const adapter = {
  name: ADAPTER_NAME,

  // Changes to the config, each documented in the README ("What modifyConfig changes"):
  // - ACME_DEPLOYMENT_ID sets `deploymentId` (skew protection); a different id in next.config is
  //   replaced, with a warning naming it, because the platform's id is the one it routes by.
  // - `cacheHandler` points at runtime/cache/next-cache-handler.js, so the data cache and
  //   revalidateTag/revalidatePath reach the platform's cache store; a handler the user
  //   configured (`cacheHandler`, `cacheHandlers.default`/`.remote`) is kept, with a warning.
  // Everything else the user configured is left as it is.
  modifyConfig(config, ctx) {
    if (ctx && ctx.nextVersion) checkNextVersion(ctx.nextVersion)
    // Only the build: its required-server-files.json is what the platform's functions run with.
    // `next start` / `next dev` on the same project keep Next's own caches.
    if (!ctx || !ctx.phase || ctx.phase === 'phase-production-build') config = withCacheHandlers(config)
    const deploymentId = process.env.ACME_DEPLOYMENT_ID
    if (!deploymentId || config.deploymentId === deploymentId) return config
    if (config.deploymentId) {
      console.warn(
        `@acme/next-adapter: next.config \`deploymentId\` "${config.deploymentId}" is replaced by ACME_DEPLOYMENT_ID ` +
          `"${deploymentId}": the platform routes skew protection by its own id.`,
      )
    }
    return { ...config, deploymentId }
  },

  async onBuildComplete(ctx) {
    const started = process.hrtime.bigint()
    if (process.env.ACME_CAPTURE_CONTEXT) {
      fs.writeFileSync(process.env.ACME_CAPTURE_CONTEXT, serializeContext(ctx))
    }
    const json = serializeContext(withCacheHandlerAssets(withNotFoundPayloads(ctx)))
    const outputDir = outputDirFor(ctx)
    const binding = native()
    // The runtime travels with the output (node .acme/output/server.js) unless turned off.
    const attachDir = process.env.ACME_BUNDLE_RUNTIME === '0' ? undefined : prepareRuntimeBundle(outputDir, platformSuffix())
    if (attachDir) attachDataCacheSeeds(attachDir, ctx.distDir)
    let summary
    try {
      summary = await binding.writeOutput(json, {
        outputDir,
        adapterVersion: version,
        copyFiles: process.env.ACME_COPY_FILES === '1',
        attachDir,
      })
    } catch (err) {
      throw nativeError(err)
    } finally {
      if (attachDir) fs.rmSync(attachDir, { recursive: true, force: true })
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6
    if (process.env.ACME_QUIET !== '1') console.log(formatSummary(summary, outputDir, ms))
    return undefined
  },
}

module.exports = adapter
module.exports.default = adapter
module.exports.serializeContext = serializeContext
module.exports.checkNextVersion = checkNextVersion
