'use strict'

// AVIF sources are optimized in a child process. Their AV1 decoder (rav1d, in the addon) aborts
// the process it runs in on some corrupt inputs: a panic inside its C interface cannot unwind.
// In a child, such an image costs the child, not the server: the request is answered as any image
// that cannot be optimized (the original, as Next does) and the next AVIF starts a new child.
//
// Parent side: `createDecoderProcess({ log })` returns `optimize(buffer, width, quality,
// contentType, maxInputPixels)`, a promise of the encoded bytes. The child is started on the first
// AVIF and leaves when it has been idle for a while or its parent goes away. It runs one job at a
// time, the others wait here: a file that kills the child fails its own request only, not the
// requests of images that happened to decode beside it (whose originals would be cached). Child
// side: this file run with `fork`.

const { fork } = require('node:child_process')
const path = require('node:path')

const IDLE_MS = 30_000
/** How much of a dead child's stderr is kept to explain its death in the log. */
const STDERR_TAIL = 2048

function createDecoderProcess({ log = () => {} } = {}) {
  // The running child: its process and its jobs (id -> promise callbacks). A dead child's jobs
  // are settled with its death, whatever child runs by then.
  let child = null
  let nextId = 1
  let idleTimer = null

  function start() {
    const proc = fork(__filename, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      // The server's own flags (an inspector, --test…) are not the decoder's.
      execArgv: [],
      env: { ...process.env, RUST_BACKTRACE: '0' },
    })
    const self = { proc, jobs: new Map() }
    let stderr = ''
    proc.stderr.setEncoding('utf8')
    proc.stderr.on('data', (chunk) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL)
    })
    proc.on('message', ({ id, bytes, error }) => {
      const job = self.jobs.get(id)
      if (!job) return
      self.jobs.delete(id)
      if (error) job.reject(new Error(error))
      else job.resolve(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
      pump()
    })
    const forget = () => {
      if (child === self) child = null
    }
    proc.on('exit', forget)
    proc.on('error', (err) => {
      forget()
      settle(self, new Error(`image decoder process failed: ${err.message}`))
      pump()
    })
    // After 'exit', once stderr is read to its end: its last lines say why the child died.
    proc.on('close', (code, signal) => {
      forget()
      if (!self.jobs.size) return
      const why = stderr.split('\n').find((l) => /panicked|abort/.test(l)) || ''
      log({ level: 'warn', msg: 'image decoder process died; its images are served as they came', code, signal, stderr: why.trim().slice(0, 300) })
      settle(self, new Error(`image decoder process exited (${signal || code})`))
      pump()
    })
    return self
  }

  function settle(self, error) {
    for (const { reject } of self.jobs.values()) reject(error)
    self.jobs.clear()
  }

  /** A child with jobs keeps this process alive until they are answered; an idle one does not. */
  function hold({ proc }, busy) {
    for (const handle of [proc, proc.channel, proc.stderr]) {
      if (busy) handle.ref()
      else handle.unref()
    }
  }

  function idle(self) {
    hold(self, false)
    if (idleTimer) clearTimeout(idleTimer)
    idleTimer = setTimeout(() => {
      idleTimer = null
      if (child === self && !self.jobs.size) {
        child = null
        self.proc.disconnect()
      }
    }, IDLE_MS)
    idleTimer.unref()
  }

  /** Jobs not sent yet, in order. */
  const queue = []

  /** Sends the next job when the child has none (starting a child if none runs). */
  function pump() {
    if (child && child.jobs.size) return
    const job = queue.shift()
    if (!job) {
      if (child) idle(child)
      return
    }
    if (idleTimer) {
      clearTimeout(idleTimer)
      idleTimer = null
    }
    if (!child || !child.proc.connected) child = start()
    const self = child
    hold(self, true)
    const id = nextId++
    self.jobs.set(id, job)
    self.proc.send({ id, ...job.message }, (err) => {
      if (err && self.jobs.delete(id)) {
        job.reject(new Error(`image decoder process unreachable: ${err.message}`))
        pump()
      }
    })
  }

  function optimize(buffer, width, quality, contentType, maxInputPixels) {
    return new Promise((resolve, reject) => {
      queue.push({ message: { input: buffer, width, quality, contentType, maxInputPixels }, resolve, reject })
      pump()
    })
  }

  /** Ends the child now (tests, shutdown); a later job starts another. */
  function close() {
    if (idleTimer) clearTimeout(idleTimer)
    idleTimer = null
    if (child) child.proc.kill()
    child = null
  }

  /** The running child's pid, or null when none runs. */
  const pid = () => (child ? child.proc.pid : null)

  return { optimize, close, pid }
}

function runChild() {
  const binding = require(path.join(__dirname, '..', 'binding.js'))
  process.on('disconnect', () => process.exit(0))
  const reply = (message) => {
    // The parent may be gone; the 'disconnect' handler ends this process then.
    if (process.connected) process.send(message, () => {})
  }
  process.on('message', ({ id, input, width, quality, contentType, maxInputPixels }) => {
    binding
      .optimizeImage(Buffer.from(input.buffer, input.byteOffset, input.byteLength), width, quality, contentType, maxInputPixels, true)
      .then(
        (bytes) => reply({ id, bytes }),
        (err) => reply({ id, error: String((err && err.message) || err) }),
      )
  })
}

if (require.main === module && process.send) runChild()

module.exports = { createDecoderProcess }
