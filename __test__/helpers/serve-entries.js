'use strict'

// Serves the node functions of a copied output directory by invoking their entrypoints directly,
// the way the runtime will: load Next's node environment setup first, then `handler(req, res, ctx)`.
// Usage: node serve-entries.js <outputDir>   (prints the port on stdout, exits on SIGTERM)
// Only what the output holds is used: this process runs with cwd inside the output directory.

const http = require('node:http')
const path = require('node:path')

const out = path.resolve(process.argv[2])
const manifest = require(path.join(out, 'manifest.json'))
process.chdir(path.join(out, 'server', manifest.projectDir))
require(path.join(out, 'server', 'node_modules', 'next', 'setup-node-env.js'))

const byPathname = new Map(
  manifest.functions.filter((f) => f.runtime === 'nodejs').map((f) => [f.pathname, f]),
)

const server = http.createServer(async (req, res) => {
  const fn = byPathname.get(new URL(req.url, 'http://x').pathname)
  if (!fn) {
    res.statusCode = 404
    res.end('no such function')
    return
  }
  try {
    const mod = require(path.join(out, fn.entry))
    await mod.handler(req, res, { waitUntil: () => {}, requestMeta: { relativeProjectDir: '.' } })
  } catch (err) {
    res.statusCode = 500
    res.end(String(err && err.stack))
  }
})
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`))
process.on('SIGTERM', () => server.close(() => process.exit(0)))
