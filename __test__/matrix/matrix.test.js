'use strict'

// `npm run test:matrix`: the fixtures build through the adapter on the newest patch of every Next
// minor with the stable adapter API, and the runtime differential (`acme-next start` against that
// version's `next start`, the requests of `__test__/runtime.test.js`) passes on each. Each version
// is installed from the registry into its own project outside this repository, with the adapter
// installed from `npm run pack`'s tarballs (so the `acme-next` that serves is the installed one).
// ACME_MATRIX="16.2.12 16.4.6" narrows the list; ACME_MATRIX_KEEP=1 keeps the projects (printed).

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { assertOutputComplete, readJson } = require('../helpers/output-check')
const { startOracle, startAcme, stop } = require('../helpers/runtime-servers')
const { compareServers } = require('../helpers/differential')

const ROOT = path.resolve(__dirname, '..', '..')
const VERSIONS = (process.env.ACME_MATRIX || '16.2.12 16.3.8 16.4.6').split(/\s+/).filter(Boolean)
const FIXTURES = ['app-router', 'pages-router', 'i18n-basepath']
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'acme-matrix-'))
let tarballs

before(() => {
  const out = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'pack.js')], { cwd: ROOT, encoding: 'utf8' })
  tarballs = out.trim().split('\n')
})
after(() => {
  if (process.env.ACME_MATRIX_KEEP === '1') console.log(`matrix projects kept in ${work}`)
  else fs.rmSync(work, { recursive: true, force: true })
})

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

      test(`${fixture}: acme-next start answers as next@${version}'s next start`, { timeout: 300_000 }, async () => {
        const dir = path.join(project, fixture)
        const buildId = fs.readFileSync(path.join(dir, '.next', 'BUILD_ID'), 'utf8').trim()
        const nextBin = path.join(project, 'node_modules', 'next', 'dist', 'bin', 'next')
        const cli = path.join(project, 'node_modules', '@acme', 'next-adapter', 'runtime', 'cli.js')
        let oracle
        let acme
        try {
          oracle = await startOracle(fixture, { src: dir, nextBin })
          acme = await startAcme(fixture, { src: dir, cli })
          const { compared, differences, mismatches } = await compareServers(fixture, oracle.origin, acme.origin, buildId, version)
          console.log(`next@${version} ${fixture}: compared ${compared} requests; ${differences.length} differences`)
          for (const d of differences) console.log(`  ${d}`)
          assert.deepEqual(mismatches, [], `responses differ:\n${mismatches.join('\n')}`)
        } finally {
          await stop(oracle)
          await stop(acme)
        }
      })
    }
  })
}
