'use strict'

// Node entrypoints of the output: loaded on first use, invoked in minimal mode (the runtime owns
// ISR), `handler(req, res, { waitUntil, requestMeta })`.

const path = require('node:path')

/**
 * Creates the node function registry of an output. Call once per process: it changes the
 * working directory to `server/<projectDir>` and loads Next's node environment setup.
 * @param {string} outputDir absolute output directory
 * @param {object} manifest the parsed manifest
 * @param {{ log: Function }} options
 */
function createNodeFunctions(outputDir, manifest, { log }) {
  const projectDir = path.join(outputDir, 'server', manifest.projectDir)
  process.chdir(projectDir)
  let envReady = false
  const modules = new Map()
  const byId = new Map(manifest.functions.filter((f) => f.runtime === 'nodejs').map((f) => [f.id, f]))
  const reported = new Set()

  function load(fn) {
    let mod = modules.get(fn.entry)
    if (!mod) {
      if (!envReady) {
        require(path.join(outputDir, 'server', 'node_modules', 'next', 'setup-node-env.js'))
        envReady = true
      }
      mod = require(path.join(outputDir, fn.entry))
      modules.set(fn.entry, mod)
    }
    return mod
  }

  return {
    /** The node function with this id, or undefined. */
    get: (id) => byId.get(id),
    /**
     * Invokes a node function; resolves when the handler returned. Throws what the handler threw
     * (logged once per route).
     */
    async invoke(fn, req, res, { waitUntil, requestMeta }) {
      try {
        const mod = load(fn)
        await mod.handler(req, res, {
          waitUntil,
          requestMeta: { minimalMode: true, relativeProjectDir: '.', ...requestMeta },
        })
      } catch (err) {
        if (!reported.has(fn.id)) {
          reported.add(fn.id)
          log({ level: 'error', msg: 'function failed', route: fn.id, error: String((err && err.stack) || err) })
        }
        throw err
      }
    },
    /**
     * Invokes node middleware (`proxy.ts`, or `middleware.ts` with `runtime: 'nodejs'`): its
     * entry exports the edge-shaped `handler(request, { waitUntil, signal, requestMeta })` that
     * answers a Web `Response` in Next's middleware protocol, run here in this process. What it
     * throws is the caller's to log (one line per failed request, like the edge middleware).
     * @param {object} fn the middleware function
     * @param {Request} request the request as middleware sees it
     * @returns {Promise<Response>}
     */
    async invokeMiddleware(fn, request, { waitUntil, signal, requestMeta }) {
      const mod = load(fn)
      if (typeof mod.handler !== 'function') throw new Error(`${fn.entry} exports no handler function`)
      return mod.handler(request, { waitUntil, signal, requestMeta: requestMeta || {} })
    },
  }
}

module.exports = { createNodeFunctions }
