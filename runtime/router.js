'use strict'

// The only file that calls the native Router: if its signature changes, only this file changes.
// Every routing decision comes from the Router; the runtime maps a decision to an action.

const path = require('node:path')

let binding
function nativeBinding() {
  if (!binding) binding = require(path.join(__dirname, '..', 'binding.js'))
  return binding
}

/**
 * Converts Node's request headers to the record the Router takes (repeated headers stay arrays).
 * @param {import('node:http').IncomingHttpHeaders} headers
 * @returns {Record<string, string | string[]>}
 */
function headerRecord(headers) {
  const out = {}
  for (const key in headers) {
    if (!Object.hasOwn(headers, key)) continue
    const value = headers[key]
    if (value !== undefined) out[key] = value
  }
  return out
}

/**
 * Compiles the routing table of an output.
 * @param {string} manifestJson the text of `manifest.json`
 * @returns {{ resolve: (req: { method: string, url: string, headers: object }) => object,
 *   resume: (continuation: number, outcome: object) => object, pathnames: () => string[] }}
 * `resume` may be called once per continuation.
 */
function createRouter(manifestJson) {
  const router = new (nativeBinding().Router)(manifestJson)
  return {
    resolve({ method, url, headers }) {
      return router.resolve(method, url, headerRecord(headers))
    },
    resume(continuation, outcome) {
      return router.resumeAfterMiddleware(continuation, outcome)
    },
    pathnames() {
      return router.pathnames()
    },
  }
}

module.exports = { createRouter, headerRecord }
