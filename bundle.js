'use strict'

// The runtime that travels inside .acme/output, so `node .acme/output/server.js` serves it on a
// machine with only Node.js: runtime/, the napi loader and the binary this build loaded, and the
// runtime's npm dependencies (edge-runtime and what it needs), below `acme/`, plus `server.js`.
// Prepared in a directory on the output's filesystem that the native writer moves into the
// output before it is published (so the output appears whole or not at all).

const fs = require('node:fs')
const path = require('node:path')

const ROOT = __dirname
const pkg = require('./package.json')

/** Hardlinks a file (same filesystem, nothing writes these in place), else copies it. */
function linkOrCopy(src, dest) {
  try {
    fs.linkSync(src, dest)
  } catch {
    fs.copyFileSync(src, dest)
  }
}

function placeTree(src, dest, skip = () => false) {
  fs.mkdirSync(dest, { recursive: true })
  for (const e of fs.readdirSync(src, { withFileTypes: true })) {
    if (skip(e.name)) continue
    const from = path.join(src, e.name)
    const to = path.join(dest, e.name)
    if (e.isDirectory()) placeTree(from, to, skip)
    else if (e.isFile()) linkOrCopy(from, to)
  }
}

/**
 * Directory of the package `name` as code in `fromDir` would resolve it: the first
 * `node_modules/<name>` walking up (packages may not export their package.json).
 */
function packageDir(name, fromDir) {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name)
    if (fs.existsSync(path.join(candidate, 'package.json'))) return fs.realpathSync(candidate)
    if (path.dirname(dir) === dir) throw new Error(`@acme/next-adapter: cannot find ${name} (needed by the runtime) from ${fromDir}`)
  }
}

/** Where a package directory sits below its node_modules tree (`a`, `@s/b`, `a/node_modules/c`). */
function treePath(dir) {
  const marker = `${path.sep}node_modules${path.sep}`
  const at = dir.indexOf(marker)
  if (at < 0) throw new Error(`@acme/next-adapter: ${dir} is not inside a node_modules folder`)
  return dir.slice(at + marker.length)
}

/**
 * The runtime's dependencies, transitively: tree path -> directory. Nested copies (a dependency
 * with its own node_modules/x of another version) keep their place, so each package resolves
 * the same version it resolves here.
 */
function dependencyDirs() {
  const found = new Map()
  const visit = (name, fromDir) => {
    const dir = packageDir(name, fromDir)
    const where = treePath(dir)
    if (found.has(where)) return
    found.set(where, dir)
    const deps = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).dependencies || {}
    for (const dep of Object.keys(deps)) visit(dep, dir)
  }
  for (const name of Object.keys(pkg.dependencies || {})) visit(name, ROOT)
  return found
}

/** The .node file napi's loader loaded in this process (the binding must be loaded first). */
function loadedBinary() {
  const file = Object.keys(require.cache).find((k) => k.endsWith('.node') && path.basename(k).startsWith(pkg.napi.binaryName))
  if (!file) throw new Error('@acme/next-adapter: the native binding is not loaded; cannot bundle the runtime')
  return file
}

const SERVER_JS = `#!/usr/bin/env node
'use strict'
// Serves this directory like \`acme-next start --dir <this directory>\`:
//   node server.js [--port $PORT|3000] [--hostname 0.0.0.0]
require('./acme/runtime/cli.js').main(['start', '--dir', __dirname, ...process.argv.slice(2)])
`

/**
 * Prepares the runtime bundle in a fresh directory next to `outputDir` and returns its path.
 * @param {string} outputDir the output directory the bundle is for
 * @param {string} suffix napi platform suffix of this machine (names the binary as binding.js expects)
 */
function prepareRuntimeBundle(outputDir, suffix) {
  const parent = path.dirname(outputDir)
  fs.mkdirSync(parent, { recursive: true })
  const dir = fs.mkdtempSync(path.join(parent, `.${path.basename(outputDir)}.runtime-`))
  try {
    const acme = path.join(dir, 'acme')
    placeTree(path.join(ROOT, 'runtime'), path.join(acme, 'runtime'))
    linkOrCopy(path.join(ROOT, 'binding.js'), path.join(acme, 'binding.js'))
    linkOrCopy(loadedBinary(), path.join(acme, `${pkg.napi.binaryName}.${suffix}.node`))
    fs.writeFileSync(
      path.join(acme, 'package.json'),
      `${JSON.stringify({ name: `${pkg.name}-runtime`, version: pkg.version, private: true }, null, 2)}\n`,
    )
    for (const [where, from] of dependencyDirs()) {
      placeTree(from, path.join(acme, 'node_modules', where), (n) => n === 'node_modules')
    }
    fs.writeFileSync(path.join(dir, 'server.js'), SERVER_JS, { mode: 0o755 })
    return dir
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true })
    throw err
  }
}

module.exports = { prepareRuntimeBundle }
