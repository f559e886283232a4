#!/usr/bin/env node
'use strict'

// `npm run pack`: writes the installable tarballs to dist/:
//   dist/acme-next-adapter-<version>.tgz                 the main package, with optionalDependencies
//                                                        on every platform package (as napi prepublish does)
//   dist/acme-next-adapter-<platform>-<version>.tgz      this machine's binary package (npm/<platform>/ + the .node)
// Other platforms' binaries are built by .github/workflows/release.yml on their own runners.
// Prints the tarball paths, one per line, on stdout.

const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const { platformSuffix, supportedSuffixes } = require('../platform.js')

const ROOT = path.resolve(__dirname, '..')
const DIST = path.join(ROOT, 'dist')
const STAGE = path.join(DIST, '.stage')
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

function npmPack(dir) {
  const out = execFileSync(npm, ['pack', '--json', '--pack-destination', DIST], { cwd: dir, encoding: 'utf8' })
  return path.join(DIST, JSON.parse(out)[0].filename)
}

function main() {
  // Build output goes to stderr: stdout carries only the tarball paths.
  const built = spawnSync(process.execPath, [path.join(__dirname, 'ensure-native.js')], { cwd: ROOT, stdio: ['ignore', 2, 2] })
  if (built.status !== 0) process.exit(built.status || 1)

  fs.rmSync(STAGE, { recursive: true, force: true })
  fs.mkdirSync(DIST, { recursive: true })

  // This platform's binary package.
  const suffix = platformSuffix()
  const binary = `${pkg.napi.binaryName}.${suffix}.node`
  const platformDir = path.join(STAGE, suffix)
  fs.cpSync(path.join(ROOT, 'npm', suffix), platformDir, { recursive: true })
  fs.copyFileSync(path.join(ROOT, binary), path.join(platformDir, binary))
  const platformTarball = npmPack(platformDir)

  // The main package: what `files` lists, and a package.json for users (no dev tooling).
  const mainDir = path.join(STAGE, 'main')
  fs.mkdirSync(mainDir, { recursive: true })
  for (const f of [...pkg.files, 'README.md', 'LICENSE']) {
    const src = path.join(ROOT, f)
    if (fs.existsSync(src)) fs.cpSync(src, path.join(mainDir, f), { recursive: true })
  }
  const published = { ...pkg }
  delete published.devDependencies
  delete published.scripts
  delete published.overrides
  published.optionalDependencies = Object.fromEntries(
    supportedSuffixes().map((s) => [`${pkg.name}-${s}`, pkg.version]),
  )
  fs.writeFileSync(path.join(mainDir, 'package.json'), `${JSON.stringify(published, null, 2)}\n`)
  const mainTarball = npmPack(mainDir)

  fs.rmSync(STAGE, { recursive: true, force: true })
  process.stdout.write(`${mainTarball}\n${platformTarball}\n`)
}

main()
