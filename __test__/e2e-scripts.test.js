'use strict'

// The three scripts Next's deploy-test harness runs, run exactly as the harness would: cwd = an
// app with a package.json and nothing installed, ADAPTER_DIR = this package, NEXT_TEST_DIR set.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..')
const pkg = require('../package.json')
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'acme-e2e-scripts-'))

function makeApp(name, { broken = false } = {}) {
  const dir = path.join(work, name)
  fs.mkdirSync(path.join(dir, 'app', 'api', 'ping'), { recursive: true })
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify(
      {
        name,
        private: true,
        scripts: { build: 'next build' },
        dependencies: { next: pkg.devDependencies.next, react: pkg.devDependencies.react, 'react-dom': pkg.devDependencies['react-dom'] },
      },
      null,
      2,
    ),
  )
  fs.writeFileSync(path.join(dir, 'app', 'layout.js'), 'export default function L({ children }) { return <html><body>{children}</body></html> }\n')
  fs.writeFileSync(
    path.join(dir, 'app', 'page.js'),
    broken ? 'export default function Page() { return <h1>unclosed </h1\n' : 'export default function Page() { return <h1>deployed by the harness scripts</h1> }\n',
  )
  fs.writeFileSync(path.join(dir, 'app', 'api', 'ping', 'route.js'), "export const dynamic = 'force-dynamic'\nexport function GET() { return Response.json({ pong: true }) }\n")
  return dir
}

function run(script, dir) {
  return spawnSync('bash', [path.join(ROOT, 'scripts', script)], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, ADAPTER_DIR: ROOT, NEXT_TEST_DIR: dir, NEXT_TEST_DEPLOY_URL: '' },
    timeout: 600_000,
  })
}

let app
let deploy
before(() => {
  app = makeApp('harness-app')
  deploy = run('e2e-deploy.sh', app)
})
after(() => {
  // Whatever happened, never leave a server behind.
  if (app && fs.existsSync(path.join(app, '.adapter-server.pid'))) run('e2e-cleanup.sh', app)
  fs.rmSync(work, { recursive: true, force: true })
})

test('deploy installs, builds through the adapter, starts acme-next and prints only the URL', async () => {
  assert.equal(deploy.status, 0, `deploy failed:\n${deploy.stderr}`)
  assert.match(deploy.stdout, /^http:\/\/127\.0\.0\.1:\d+\n$/, `stdout must be the URL alone, got ${JSON.stringify(deploy.stdout)}`)
  assert.ok(fs.existsSync(path.join(app, 'node_modules', '@acme', 'next-adapter', 'package.json')), 'adapter installed')
  const url = deploy.stdout.trim()
  const home = await fetch(`${url}/`)
  assert.equal(home.status, 200)
  assert.match(await home.text(), /deployed by the harness scripts/)
  const api = await fetch(`${url}/api/ping`)
  assert.deepEqual(await api.json(), { pong: true })
})

test('logs prints the markers the harness and the docs name, then the logs', () => {
  const logs = run('e2e-logs.sh', app)
  assert.equal(logs.status, 0, logs.stderr)
  const buildId = fs.readFileSync(path.join(app, '.next', 'BUILD_ID'), 'utf8').trim()
  assert.match(logs.stdout, new RegExp(`^BUILD_ID: ${buildId}$`, 'm'))
  const deploymentId = /^DEPLOYMENT_ID: (.+)$/m.exec(logs.stdout)
  assert.ok(deploymentId && /^acme-[0-9a-f]{12}$/.test(deploymentId[1]), 'a non-empty deployment id')
  assert.match(logs.stdout, /^NEXT_SUPPORTS_IMMUTABLE_ASSETS: 0$/m)
  assert.match(logs.stdout, /^IMMUTABLE_ASSET_TOKEN: undefined$/m)
  assert.match(logs.stdout, /=== \.adapter-server\.log ===/)
  assert.match(logs.stdout, /ready on http:\/\/127\.0\.0\.1:/)
  // The deployment id was baked into the build the server runs.
  const manifest = JSON.parse(fs.readFileSync(path.join(app, '.acme', 'output', 'manifest.json'), 'utf8'))
  assert.equal(manifest.config.deploymentId, deploymentId[1])
})

test('cleanup stops exactly the deployed server and removes what the deploy created', async () => {
  const pid = Number(fs.readFileSync(path.join(app, '.adapter-server.pid'), 'utf8'))
  const url = deploy.stdout.trim()
  const res = run('e2e-cleanup.sh', app)
  assert.equal(res.status, 0, res.stderr)
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'server process is gone')
  await assert.rejects(fetch(`${url}/`), 'nothing listens on the port any more')
  assert.ok(!fs.existsSync(path.join(app, '.acme')))
  assert.ok(!fs.existsSync(path.join(app, '.adapter-server.pid')))
})

test('a failing build makes deploy exit non-zero with nothing on stdout', () => {
  const broken = makeApp('broken-app', { broken: true })
  const res = run('e2e-deploy.sh', broken)
  assert.notEqual(res.status, 0)
  assert.equal(res.stdout, '')
  assert.match(fs.readFileSync(path.join(broken, '.adapter-build.log'), 'utf8'), /Build error|Failed to compile|Error/)
  assert.ok(!fs.existsSync(path.join(broken, '.adapter-server.pid')), 'no server started')
})
