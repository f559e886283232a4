'use strict'

// `acme-next start --workers N`: N worker processes (node:cluster) serving one port and sharing
// the configured cache store. The primary only supervises: it prints the one `ready on` line when
// every worker listens, replaces a worker that dies while serving (after a growing delay when
// workers keep dying young: a crash loop does not spin), and stops them all on SIGTERM.

const cluster = require('node:cluster')
const crypto = require('node:crypto')

// A worker that dies within this long of its start counts towards a crash loop.
const YOUNG_MS = 10_000
const BACKOFF_FIRST_MS = 100
const BACKOFF_MAX_MS = 10_000

/** The delay before replacing a worker after `failures` young deaths in a row (0: at once). */
function respawnDelay(failures) {
  if (failures <= 1) return 0
  return Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (failures - 2))
}

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
  const startedAt = new Map() // worker id -> when it was forked
  const timers = new Set()
  let youngDeaths = 0
  const fork = () => {
    const w = cluster.fork(env)
    startedAt.set(w.id, Date.now())
    return w
  }
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
    const lived = Date.now() - (startedAt.get(worker.id) || 0)
    startedAt.delete(worker.id)
    youngDeaths = lived < YOUNG_MS ? youngDeaths + 1 : 1
    const delayMs = respawnDelay(youngDeaths)
    process.stderr.write(`${JSON.stringify({ level: 'error', msg: 'worker died, starting another', pid: worker.process.pid, code, signal, delayMs })}\n`)
    if (!delayMs) return void fork()
    const timer = setTimeout(() => {
      timers.delete(timer)
      if (!stopping) fork()
    }, delayMs)
    timers.add(timer)
  })
  const stop = () => {
    if (stopping) return
    stopping = true
    for (const t of timers) clearTimeout(t)
    timers.clear()
    const workers = Object.values(cluster.workers)
    if (!workers.length) process.exit(0)
    let left = workers.length
    let failed = false
    for (const w of workers) {
      // Exit 1 when any worker did (its drain timed out: work was lost), as a single process does.
      // A replacement still starting (not listening yet) may die of the signal before it has its
      // handler: it had served nothing, so nothing was lost.
      const serving = ready.has(w.id)
      w.once('exit', (code, signal) => {
        if (code !== 0 && (serving || signal !== 'SIGTERM')) failed = true
        if (--left === 0) process.exit(failed ? 1 : 0)
      })
      w.process.kill('SIGTERM')
    }
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

module.exports = { startPrimary, respawnDelay }
