'use strict'

// `acme-next inspect [--dir .acme/output] [--json]`: the build report (report.json) and the route
// table of manifest.json in a readable form. The CLI wiring lives in cli.js.

const fs = require('node:fs')
const path = require('node:path')
const { formatBytes } = require('./format')

const PHASES = ['beforeMiddleware', 'beforeFiles', 'afterFiles', 'dynamicRoutes', 'onMatch', 'fallback']

function readJson(file) {
  let text
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    const e = new Error(`acme-next inspect: cannot read ${file}: ${err.code || err.message} (is it an .acme/output directory?)`)
    e.code = 'ACME_INSPECT_MISSING'
    throw e
  }
  return JSON.parse(text)
}


function revalidateText(r) {
  if (r === undefined || r === null) return '-'
  if (r === false) return 'never'
  return `${r}s`
}

/** The data `inspect` shows: the report and a summary of the manifest's route table. */
function inspectData(outputDir) {
  const dir = path.resolve(outputDir)
  const manifest = readJson(path.join(dir, 'manifest.json'))
  const reportFile = path.join(dir, 'report.json')
  const report = fs.existsSync(reportFile) ? readJson(reportFile) : null
  const phases = {}
  for (const name of PHASES) phases[name] = (manifest.routing && manifest.routing[name] ? manifest.routing[name] : []).length
  const staticFiles = {}
  for (const s of manifest.staticFiles) staticFiles[s.kind] = (staticFiles[s.kind] || 0) + 1
  return {
    outputDir: dir,
    buildId: manifest.buildId,
    nextVersion: manifest.nextVersion,
    adapter: manifest.adapter,
    contentHash: manifest.contentHash,
    deploymentHash: manifest.deploymentHash,
    report,
    routes: {
      phases,
      middlewareMatchers: manifest.middlewareMatchers.map((m) => m.source || m.sourceRegex),
      functions: manifest.functions.map((f) => ({
        id: f.id,
        pathname: f.pathname,
        type: f.type,
        kind: f.kind,
        runtime: f.runtime,
        maxDuration: f.config && f.config.maxDuration,
      })),
      prerenders: manifest.prerenders.map((p) => ({
        pathname: p.pathname,
        parent: p.parentOutputId,
        revalidate: p.revalidate,
        expire: p.expire,
        fallback: p.fallbackMode,
        seeded: Boolean(p.seed),
      })),
      staticFiles,
      serverFiles: manifest.serverFiles,
    },
  }
}

function table(rows, indent = '  ') {
  if (rows.length === 0) return []
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)))
  return rows.map((r) => indent + r.map((c, i) => (i === r.length - 1 ? String(c) : String(c).padEnd(widths[i]))).join('  ').trimEnd())
}

function featureLines(features) {
  const yes = (v) => (v === null || v === undefined ? 'unknown' : v ? 'yes' : 'no')
  const mw = features.middleware
    ? `${features.middleware.kind} (${features.middleware.runtime}, detected by ${features.middleware.detectedBy})`
    : 'no'
  return table([
    ['app router (RSC)', yes(features.rsc)],
    ['pages router', yes(features.pagesRouter)],
    ['server actions', yes(features.serverActions)],
    ['middleware / proxy', mw],
    ['ISR', yes(features.isr)],
    ['PPR', yes(features.ppr)],
    ['image optimization', yes(features.imageOptimization)],
    ['i18n', yes(features.i18n)],
    ['after()', yes(features.after)],
    ['edge functions', yes(features.edge)],
  ])
}

function formatText(d) {
  const r = d.report
  const lines = []
  lines.push(`acme output ${d.outputDir}`)
  lines.push(`  written by ${d.adapter.name} ${d.adapter.version}`)
  const react = r && r.versions.react ? `, React ${r.versions.react.version} (${r.versions.react.source})` : ''
  lines.push(`  Next.js ${d.nextVersion}${react}`)
  lines.push(`  build id ${d.buildId}`)
  lines.push(`  deployment hash ${d.deploymentHash || '-'}  (stable across rebuilds of the same source)`)
  lines.push(`  content hash    ${d.contentHash}  (exact bytes)`)
  if (r) {
    lines.push('', 'Features')
    lines.push(...featureLines(r.features))
    lines.push('', `Server actions (${r.actions.length})`)
    lines.push(
      ...table(
        r.actions.map((a) => [
          a.id,
          a.runtime,
          `${a.module}#${a.export}${a.inline ? ' (inline)' : ''}`,
          a.workers.map((w) => w.pathname || w.worker).join(', '),
        ]),
      ),
    )
    lines.push('', 'Bindings')
    const env = Object.keys(r.bindings.env)
    lines.push(`  env (app)      ${env.length ? env.join(', ') : '-'}`)
    lines.push(`  env (Next)     ${r.bindings.internalEnv.length} names: ${r.bindings.internalEnv.join(', ') || '-'}`)
    const origins = Object.keys(r.bindings.fetchOrigins)
    lines.push(`  fetch origins  ${origins.length ? origins.join(', ') : '-'}`)
    lines.push(`  scanned        ${r.scanned.files} server chunks, ${formatBytes(r.scanned.bytes)}`)
    const dead = r.deadOutputs
    lines.push('', 'Dead outputs (.next/server files no output needs; not written)')
    lines.push(
      `  .next/server ${dead.serverDir.files} files ${formatBytes(dead.serverDir.bytes)}: ` +
        `${dead.placed.files} placed, ${dead.packed.files} packed as seeds, ` +
        `${dead.dead.files} not needed (${formatBytes(dead.dead.bytes)} saved)`,
    )
    lines.push(...table(Object.entries(dead.byReason).map(([reason, t]) => [reason, t.files, formatBytes(t.bytes)]), '    '))
    if (r.warnings.length) {
      lines.push('', 'Warnings')
      for (const w of r.warnings) lines.push(`  ${w}`)
    }
  } else {
    lines.push('', '(no report.json: written by an older adapter)')
  }
  const rt = d.routes
  lines.push('', 'Routing phases')
  lines.push(`  ${PHASES.map((p) => `${p} ${rt.phases[p]}`).join(' · ')}`)
  if (rt.middlewareMatchers.length) lines.push(`  middleware matchers: ${rt.middlewareMatchers.join(', ')}`)
  lines.push('', `Functions (${rt.functions.length})`)
  lines.push(...table(rt.functions.map((f) => [f.pathname, f.runtime, f.kind, f.type])))
  lines.push('', `Prerenders (${rt.prerenders.length})`)
  lines.push(
    ...table([
      ['pathname', 'revalidate', 'expire', 'fallback', 'function'],
      ...rt.prerenders.map((p) => [
        p.pathname,
        revalidateText(p.revalidate),
        revalidateText(p.expire),
        p.fallback === null || p.fallback === undefined ? '-' : String(p.fallback),
        p.parent,
      ]),
    ]),
  )
  const total = Object.values(rt.staticFiles).reduce((a, b) => a + b, 0)
  lines.push('', `Static files (${total})`)
  lines.push(...table(Object.entries(rt.staticFiles).map(([kind, n]) => [kind, n])))
  lines.push(`  server files ${rt.serverFiles}`)
  return lines.join('\n') + '\n'
}

/**
 * What `acme-next inspect` prints: text, or with `{ json: true }` a JSON document
 * ({ outputDir, buildId, nextVersion, adapter, contentHash, deploymentHash, report, routes }).
 */
function inspect(outputDir = '.acme/output', { json = false } = {}) {
  const data = inspectData(outputDir)
  return json ? JSON.stringify(data, null, 2) + '\n' : formatText(data)
}

module.exports = { inspect, inspectData }
