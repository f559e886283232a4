#!/usr/bin/env node
'use strict'

// acme-next start [--dir .acme/output] [--port $PORT|3000] [--hostname 0.0.0.0]
// acme-next inspect [--dir .acme/output] [--json]

const path = require('node:path')
const { DEFAULT_LIMITS, LIMIT_OPTIONS, limitsFromEnv } = require('./limits')

const HELP = `Usage: acme-next start [options]
       acme-next inspect [--dir <path>] [--json]

start     serves a Next.js build written by @acme/next-adapter (.acme/output), like \`next start\`
inspect   prints the build report and the route table of an output (--json for machines)

Options:
  --dir <path>        output directory (default: .acme/output)
  --port, -p <port>   port (default: $PORT or 3000)
  --hostname, -H <h>  interface to listen on (default: 0.0.0.0)
  --cache <url>       shared cache store, redis://host:port/db (default: $ACME_CACHE_URL, else files)
  --workers <n>       worker processes serving the port and sharing the cache (default: 1)
  --json              inspect: JSON instead of text
  --max-body-bytes <n>     request bodies over n bytes get 413 (default ${DEFAULT_LIMITS.maxBodyBytes}; 0: no limit)
  --max-header-bytes <n>   request heads over n bytes get 431 (default ${DEFAULT_LIMITS.maxHeaderBytes})
  --headers-timeout <ms>   a head not complete after ms gets 408 (default ${DEFAULT_LIMITS.headersTimeoutMs})
  --request-timeout <ms>   a request (head and body) not complete after ms gets 408 (default ${DEFAULT_LIMITS.requestTimeoutMs})
  --function-timeout <ms>  a function that has not started its response after ms: 504 (default ${DEFAULT_LIMITS.functionTimeoutMs}; 0: none)
  --drain-timeout <ms>     SIGTERM/SIGINT: wait at most ms for in-flight requests and waitUntil work (default ${DEFAULT_LIMITS.drainTimeoutMs})
  --help, -h          show this help

Environment:
  ACME_LOG=silent     no request logs (default: one JSON line per request on stdout)
  ACME_CACHE_DIR      ISR cache directory (default: <dir>/../cache)
  ACME_CACHE_URL      Redis cache store, as --cache
  ACME_MAX_BODY_BYTES, ACME_MAX_HEADER_BYTES, ACME_HEADERS_TIMEOUT_MS, ACME_REQUEST_TIMEOUT_MS,
  ACME_FUNCTION_TIMEOUT_MS, ACME_DRAIN_TIMEOUT_MS   the limits above (a flag wins)

SIGTERM/SIGINT stop accepting connections, finish in-flight requests and waitUntil work, then
exit 0 (1 when the drain timeout cut them off; a second signal exits at once).
`
const LIMIT_FLAGS = new Map(Object.entries(LIMIT_OPTIONS).map(([key, { flag }]) => [flag, key]))

/** Parses the command line; returns { command, dir, port, hostname, help } or throws. */
function parseArgs(argv) {
  const out = {
    command: null,
    dir: '.acme/output',
    port: process.env.PORT || '3000',
    hostname: '0.0.0.0',
    help: false,
    json: false,
    cache: process.env.ACME_CACHE_URL || undefined,
    workers: 1,
    limits: limitsFromEnv(),
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = () => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${a} needs a value`)
      return v
    }
    if (a === '--help' || a === '-h') out.help = true
    else if (a === '--json') out.json = true
    else if (a === '--dir') out.dir = value()
    else if (a === '--port' || a === '-p') out.port = value()
    else if (a === '--hostname' || a === '-H') out.hostname = value()
    else if (a === '--cache') out.cache = value()
    else if (a === '--workers') out.workers = value()
    else if (a.startsWith('--cache=')) out.cache = a.slice(8)
    else if (a.startsWith('--workers=')) out.workers = a.slice(10)
    else if (a.startsWith('--dir=')) out.dir = a.slice(6)
    else if (a.startsWith('--port=')) out.port = a.slice(7)
    else if (a.startsWith('--hostname=')) out.hostname = a.slice(11)
    else if (LIMIT_FLAGS.has(a)) out.limits[LIMIT_FLAGS.get(a)] = value()
    else if (a.includes('=') && LIMIT_FLAGS.has(a.slice(0, a.indexOf('=')))) out.limits[LIMIT_FLAGS.get(a.slice(0, a.indexOf('=')))] = a.slice(a.indexOf('=') + 1)
    else if (!a.startsWith('-') && !out.command) out.command = a
    else throw new Error(`unknown argument ${a}`)
  }
  if (!/^\d+$/.test(String(out.port)) || Number(out.port) > 65535) throw new Error(`invalid port ${out.port}`)
  if (!/^[1-9]\d{0,2}$/.test(String(out.workers))) throw new Error(`invalid --workers ${out.workers}: a number from 1`)
  out.workers = Number(out.workers)
  return out
}

/** Runs the command line (`argv` without node and the script). */
function main(argv = process.argv.slice(2)) {
  let args
  try {
    args = parseArgs(argv)
  } catch (err) {
    process.stderr.write(`acme-next: ${err.message}\n\n${HELP}`)
    process.exit(2)
  }
  if (args.help || !args.command) {
    process.stdout.write(HELP)
    process.exit(args.help ? 0 : 2)
  }
  if (args.command === 'inspect') {
    try {
      process.stdout.write(`${require('./inspect').inspect(path.resolve(args.dir), { json: args.json })}\n`)
    } catch (err) {
      process.stderr.write(`${err.message}\n`)
      process.exit(1)
    }
    return
  }
  if (args.command !== 'start') {
    process.stderr.write(`acme-next: unknown command ${args.command}\n\n${HELP}`)
    process.exit(2)
  }
  // As `next start`: Next's entrypoints and React pick their production code paths from it. An
  // explicit value is left alone (next start keeps one too, with a warning).
  if (!process.env.NODE_ENV) process.env.NODE_ENV = 'production'
  const silent = process.env.ACME_LOG === 'silent'
  const log = (record) => {
    if (record.level === 'error') process.stderr.write(`${JSON.stringify(record)}\n`)
    else if (!silent) process.stdout.write(`${JSON.stringify(record)}\n`)
  }
  const dir = path.resolve(args.dir)
  const cluster = require('node:cluster')
  if (args.workers > 1 && cluster.isPrimary) return require('./workers').startPrimary(args)
  let server
  try {
    server = require('./server').createServer({ dir, log, requestLog: !silent, cacheUrl: args.cache, limits: args.limits })
  } catch (err) {
    process.stderr.write(`acme-next: ${err.message}\n`)
    process.exit(1)
  }
  // User code (a function, edge code, a waitUntil promise) must never take the server down: log
  // what escaped every handler, once per message, and keep serving.
  const reported = new Set()
  const escaped = (kind) => (err) => {
    const message = String((err && err.stack) || err)
    if (reported.has(message)) return
    if (reported.size < 1000) reported.add(message)
    log({ level: 'error', msg: kind, error: message })
  }
  process.on('unhandledRejection', escaped('unhandled rejection'))
  process.on('uncaughtException', escaped('uncaught exception'))
  server.on('error', (err) => {
    process.stderr.write(`acme-next: ${err.message}\n`)
    process.exit(1)
  })
  server.listen(Number(args.port), args.hostname, () => {
    const { port } = server.address()
    if (cluster.isWorker) process.send({ acmeReady: port })
    else process.stdout.write(`ready on http://${args.hostname}:${port}\n`)
  })
  let stopping = false
  const stop = (signal) => {
    if (stopping) {
      log({ level: 'error', msg: `${signal} again: exiting without draining` })
      process.exit(1)
    }
    stopping = true
    server.drain().then(
      (left) => {
        if (left.drained) process.exit(0)
        log({ level: 'error', msg: 'drain timeout: exiting with work left', inFlight: left.inFlight, waitUntil: left.pending })
        process.exit(1)
      },
      (err) => {
        log({ level: 'error', msg: 'drain failed', error: String((err && err.stack) || err) })
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

if (require.main === module) main()

module.exports = { parseArgs, main }
