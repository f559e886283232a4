'use strict'

// `acme-next start --workers N`: N worker processes (node:cluster) serving one port and sharing
// the configured cache store. The primary only supervises: it prints the one `ready on` line when
// every worker listens, replaces a worker that dies while serving, and stops them all on SIGTERM.

const cluster = require('node:cluster')
const crypto = require('node:crypto')

/**
 * Runs the primary. `hostname` only names the address in the ready line.
 * @param {{ workers: number, hostname: string }} args
 */
function startPrimary(args) {
  // Regeneration requests go back to the shared port and may reach any worker.
  const env = { ACME_INTERNAL_SECRET: crypto.randomBytes(16).toString('hex') }
  const ready = new Set()
  let allReady = false
  let stopping = false
  const fork = () => cluster.fork(env)
  for (let i = 0; i < args.workers; i++) fork()
  cluster.on('message', (worker, msg) => {
    if (!msg || msg.acmeReady === undefined) return
    ready.add(worker.id)
    if (!allReady && ready.size >= args.workers) {
      allReady = true
      process.stdout.write(`ready on http://${args.hostname}:${msg.acmeReady}\n`)
    }
  })
  cluster.on('exit', (worker, code, signal) => {
    ready.delete(worker.id)
    if (stopping) return
    if (!allReady) {
      // A worker that cannot start (bad output, port taken) will not start on a retry either.
      process.stderr.write(`acme-next: a worker exited with ${signal || code} before it was ready\n`)
      stopping = true
      for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM')
      process.exitCode = 1
      return
    }
    process.stderr.write(`${JSON.stringify({ level: 'error', msg: 'worker died, starting another', pid: worker.process.pid, code, signal })}\n`)
    fork()
  })
  const stop = () => {
    if (stopping) return
    stopping = true
    const workers = Object.values(cluster.workers)
    if (!workers.length) process.exit(0)
    let left = workers.length
    for (const w of workers) {
      w.once('exit', () => {
        if (--left === 0) process.exit(0)
      })
      w.process.kill('SIGTERM')
    }
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

module.exports = { startPrimary }
