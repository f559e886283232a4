'use strict'

// Raw HTTP/1.1 over `node:net`: request lines and heads exactly as written (no client-side URL
// normalization or header validation), for hostile-request tests.

const net = require('node:net')

/**
 * Sends `data` on a fresh connection and collects everything until the server closes it.
 * Resolves `{ text, timedOut, error }`; `timeoutMs` without a close is a failure condition for
 * the caller (a server must answer a hostile request and close, not hang).
 */
function rawExchange(origin, data, { timeoutMs = 20_000, halfClose = false } = {}) {
  const { port, hostname } = new URL(origin)
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname)
    const chunks = []
    let done = false
    const finish = (extra) => {
      if (done) return
      done = true
      socket.destroy()
      resolve({ text: Buffer.concat(chunks).toString('latin1'), timedOut: false, error: null, ...extra })
    }
    socket.setTimeout(timeoutMs, () => finish({ timedOut: true }))
    socket.on('data', (c) => chunks.push(c))
    socket.on('error', (e) => finish({ error: e.code || String(e) }))
    socket.on('close', () => finish())
    if (data !== undefined) socket.write(data)
    // no half-close by default: Node's server may drop a request whose client already sent FIN
    if (halfClose) socket.end()
  })
}

/** The responses in a raw byte stream: `[{ status, headers, body }]` (content-length or chunked). */
function parseResponses(text) {
  const out = []
  let rest = text
  while (rest.startsWith('HTTP/1.')) {
    const headEnd = rest.indexOf('\r\n\r\n')
    if (headEnd === -1) break
    const lines = rest.slice(0, headEnd).split('\r\n')
    const status = Number(lines[0].split(' ')[1])
    const headers = {}
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':')
      const k = line.slice(0, i).trim().toLowerCase()
      const v = line.slice(i + 1).trim()
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`
    }
    rest = rest.slice(headEnd + 4)
    let body = ''
    if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const lineEnd = rest.indexOf('\r\n')
        if (lineEnd === -1) break
        const size = parseInt(rest.slice(0, lineEnd), 16)
        rest = rest.slice(lineEnd + 2)
        if (!size) {
          rest = rest.slice(rest.indexOf('\r\n') + 2)
          break
        }
        body += rest.slice(0, size)
        rest = rest.slice(size + 2)
      }
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length'])
      body = rest.slice(0, n)
      rest = rest.slice(n)
    }
    out.push({ status, headers, body })
  }
  return out
}

module.exports = { rawExchange, parseResponses }
