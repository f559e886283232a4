#!/usr/bin/env node
'use strict'

// `npm run demo`: builds the native addon if needed, builds examples/demo with `next build`
// through @acme/next-adapter (writing examples/demo/.acme/output), then serves the app on
// $PORT (default 3000) with the acme runtime: `acme-next start --dir examples/demo/.acme/output`.

const { spawn, spawnSync } = require('node:child_process')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..')
const DEMO = path.join(ROOT, 'examples', 'demo')
const NEXT_BIN = path.join(ROOT, 'node_modules', 'next', 'dist', 'bin', 'next')
const ACME_BIN = path.join(ROOT, 'runtime', 'cli.js')
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1' }

function step(args, opts) {
  const res = spawnSync(process.execPath, args, { stdio: 'inherit', env, ...opts })
  if (res.status !== 0) process.exit(res.status || 1)
}

step([path.join(__dirname, 'ensure-native.js')], { cwd: ROOT })
step([NEXT_BIN, 'build'], { cwd: DEMO })

const port = process.env.PORT || '3000'
const hostname = process.env.HOSTNAME || '127.0.0.1'
console.log(`\nBuilt examples/demo through @acme/next-adapter: see examples/demo/.acme/output/manifest.json`)
console.log('Serving with `acme-next start --dir examples/demo/.acme/output`.')
const server = spawn(process.execPath, [ACME_BIN, 'start', '--dir', path.join(DEMO, '.acme', 'output'), '--port', port, '--hostname', hostname], {
  cwd: ROOT,
  stdio: 'inherit',
  env,
})
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.kill(sig))
server.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)))
