'use strict'

// Installing from a registry like any user would: the tarballs of `npm run pack` are published to
// a real local registry (verdaccio on loopback), a fresh Next app outside this repository installs
// @acme/next-adapter from it, and `next build` runs through the adapter — configured by
// `adapterPath`, by `NEXT_ADAPTER_PATH` alone (zero-config), and by both (next.config wins).

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync, spawn, spawnSync } = require('node:child_process')
const { createRequire } = require('node:module')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { startRegistry } = require('./helpers/registry')
const { freePort } = require('./helpers/net')

const ROOT = path.resolve(__dirname, '..')
const pkg = require('../package.json')
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'acme-registry-test-'))
const app = path.join(work, 'app')
let registry
let tarballs

function writeApp(nextConfig) {
  fs.mkdirSync(path.join(app, 'app'), { recursive: true })
  fs.mkdirSync(path.join(app, 'public'), { recursive: true })
  fs.writeFileSync(
    path.join(app, 'app', 'layout.js'),
    'export default function Layout({ children }) { return <html><body>{children}</body></html> }\n',
  )
  fs.writeFileSync(path.join(app, 'app', 'page.js'), 'export default function Page() { return <h1>installed from a registry</h1> }\n')
  fs.writeFileSync(path.join(app, 'public', 'hello.txt'), 'hello\n')
  fs.writeFileSync(path.join(app, 'next.config.js'), nextConfig)
}

function build(env = {}) {
  fs.rmSync(path.join(app, '.next'), { recursive: true, force: true })
  fs.rmSync(path.join(app, '.acme'), { recursive: true, force: true })
  const res = spawnSync(process.execPath, [path.join(app, 'node_modules', 'next', 'dist', 'bin', 'next'), 'build'], {
    cwd: app,
    encoding: 'utf8',
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NEXT_ADAPTER_PATH: '', ...env },
    timeout: 300_000,
  })
  assert.equal(res.status, 0, `next build failed:\n${res.stdout}\n${res.stderr}`)
  return res.stdout
}

/** Serves the app's output with the installed `acme-next start`; returns { origin, stop }. */
async function serve() {
  const port = await freePort()
  const bin = path.join(app, 'node_modules', '.bin', 'acme-next')
  const child = spawn(bin, ['start', '--dir', '.acme/output', '--port', String(port), '--hostname', '127.0.0.1'], {
    cwd: app,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ACME_LOG: 'silent' },
  })
  let out = ''
  child.stderr.on('data', (d) => (out += d))
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d
      if (/ready on http:\/\//.test(out)) resolve()
    })
    child.once('exit', (code) => reject(new Error(`acme-next exited ${code}:\n${out}`)))
  })
  return {
    origin: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', resolve)
        child.kill('SIGTERM')
      }),
  }
}

function manifest() {
  return JSON.parse(fs.readFileSync(path.join(app, '.acme', 'output', 'manifest.json'), 'utf8'))
}

before(async () => {
  const out = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'pack.js')], { cwd: ROOT, encoding: 'utf8' })
  tarballs = out.trim().split('\n')
  registry = await startRegistry(work)
  fs.mkdirSync(app, { recursive: true })
  registry.npmrc(app)
  for (const t of tarballs) registry.publish(t, app)
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'registry-app', private: true }, null, 2))
  execFileSync(
    'npm',
    ['install', '--no-audit', '--no-fund', '@acme/next-adapter', `next@${pkg.devDependencies.next}`, `react@${pkg.devDependencies.react}`, `react-dom@${pkg.devDependencies['react-dom']}`],
    { cwd: app, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_userconfig: path.join(app, '.npmrc') } },
  )
})

after(async () => {
  if (registry) await registry.stop()
  fs.rmSync(work, { recursive: true, force: true })
})

test('the registry serves what npm run pack wrote', async () => {
  const meta = await registry.getJson('@acme%2fnext-adapter')
  assert.equal(meta['dist-tags'].latest, pkg.version)
  const installed = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', '@acme', 'next-adapter', 'package.json'), 'utf8'))
  assert.equal(installed.version, pkg.version)
  assert.ok(installed.optionalDependencies[`@acme/next-adapter-linux-x64-gnu`])
  // The binary came from its platform package, not from a source build.
  const platformDir = path.join(app, 'node_modules', '@acme', 'next-adapter-linux-x64-gnu')
  assert.ok(fs.readdirSync(platformDir).some((f) => f.endsWith('.node')))
  assert.ok(!fs.readdirSync(path.join(app, 'node_modules', '@acme', 'next-adapter')).some((f) => f.endsWith('.node')))
})

test('adapterPath: require.resolve("@acme/next-adapter") in next.config, served by the installed acme-next', async () => {
  writeApp("module.exports = { adapterPath: require.resolve('@acme/next-adapter') }\n")
  const stdout = build()
  assert.match(stdout, /Running onBuildComplete from acme/)
  const m = manifest()
  assert.equal(m.adapter.version, pkg.version)
  assert.ok(m.staticFiles.some((s) => s.pathname === '/hello.txt'))
  assert.ok(m.prerenders.some((p) => p.pathname === '/'))

  const server = await serve()
  try {
    const home = await fetch(`${server.origin}/`)
    assert.equal(home.status, 200)
    assert.match(await home.text(), /installed from a registry/)
    const file = await fetch(`${server.origin}/hello.txt`)
    assert.equal(file.status, 200)
    assert.equal(await file.text(), 'hello\n')
    assert.equal((await fetch(`${server.origin}/nope`)).status, 404)
  } finally {
    await server.stop()
  }
})

test('zero-config: NEXT_ADAPTER_PATH with no next.config change', () => {
  writeApp('module.exports = {}\n')
  // Resolved as the app resolves it (a plain require.resolve here would find this checkout itself).
  const adapterPath = createRequire(path.join(app, 'package.json')).resolve('@acme/next-adapter')
  assert.ok(adapterPath.startsWith(path.join(app, 'node_modules')), adapterPath)
  const stdout = build({ NEXT_ADAPTER_PATH: adapterPath })
  assert.match(stdout, /Running onBuildComplete from acme/)
  assert.equal(manifest().adapter.version, pkg.version)
})

test('with both set, next.config wins over NEXT_ADAPTER_PATH', () => {
  writeApp("module.exports = { adapterPath: require.resolve('@acme/next-adapter') }\n")
  const marker = path.join(work, 'other-adapter-ran')
  const other = path.join(work, 'other-adapter.js')
  fs.writeFileSync(
    other,
    `module.exports = { name: 'other', onBuildComplete() { require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran') } }\n`,
  )
  const stdout = build({ NEXT_ADAPTER_PATH: other })
  assert.match(stdout, /Running onBuildComplete from acme/)
  assert.ok(fs.existsSync(path.join(app, '.acme', 'output', 'manifest.json')))
  assert.ok(!fs.existsSync(marker), 'the adapter named by the environment did not run')
})
