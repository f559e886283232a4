'use strict'

// `npm run test:matrix`: the fixtures build through the adapter on the newest patch of every Next
// minor with the stable adapter API. Each version is installed from the registry into its own
// project outside this repository, with the adapter installed from `npm run pack`'s tarballs.
// ACME_MATRIX="16.2.12 16.4.6" narrows the list.

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { assertOutputComplete, readJson } = require('../helpers/output-check')

const ROOT = path.resolve(__dirname, '..', '..')
const VERSIONS = (process.env.ACME_MATRIX || '16.2.12 16.3.8 16.4.6').split(/\s+/).filter(Boolean)
const FIXTURES = ['app-router', 'pages-router']
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'acme-matrix-'))
let tarballs

before(() => {
  const out = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'pack.js')], { cwd: ROOT, encoding: 'utf8' })
  tarballs = out.trim().split('\n')
})
after(() => fs.rmSync(work, { recursive: true, force: true }))

for (const version of VERSIONS) {
  describe(`next@${version}`, () => {
    const project = path.join(work, `next-${version}`)
    before(() => {
      fs.mkdirSync(project, { recursive: true })
      fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: `matrix-${version}`, private: true }))
      // TypeScript 5.9 is the version every supported Next accepts (16.2 cannot use TypeScript 7).
      execFileSync(
        'npm',
        ['install', '--no-audit', '--no-fund', `next@${version}`, 'react@19.3.1', 'react-dom@19.3.1', 'typescript@5.9.3', ...tarballs],
        { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] },
      )
    })

    for (const fixture of FIXTURES) {
      test(`${fixture} builds and .acme/output holds every output`, () => {
        const dir = path.join(project, fixture)
        fs.cpSync(path.join(ROOT, '__test__', 'fixtures', fixture), dir, {
          recursive: true,
          filter: (src) => !/[\\/](\.next|\.acme|node_modules)([\\/]|$)/.test(src),
        })
        const capture = path.join(project, `${fixture}.context.json`)
        const res = spawnSync(process.execPath, [path.join(project, 'node_modules', 'next', 'dist', 'bin', 'next'), 'build'], {
          cwd: dir,
          encoding: 'utf8',
          env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ACME_CAPTURE_CONTEXT: capture },
          timeout: 300_000,
        })
        assert.equal(res.status, 0, `next build failed:\n${res.stdout}\n${res.stderr}`)
        const ctx = readJson(capture)
        assert.equal(ctx.nextVersion, version)
        const manifest = assertOutputComplete(ctx, path.join(dir, '.acme', 'output'))
        assert.equal(manifest.nextVersion, version)
        if (ctx.outputs.middleware) assert.ok(manifest.middlewareMatchers.length > 0, 'matchers found on every version')
      })
    }
  })
}
