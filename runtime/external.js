'use strict'

// External rewrites (a rewrite whose destination has another origin, from next.config or from
// middleware): the request is proxied the way `next start` proxies it (Next's httpxy proxy with
// `changeOrigin`): method, headers and body go upstream with `host` set to the upstream's and
// `x-forwarded-host` to the client's; the upstream's status, headers and bytes come back as they
// are (no redirect followed, no decoding); an upstream that fails or stays silent for 30 s gets
// a plain 500.

const http = require('node:http')
const https = require('node:https')
const querystring = require('node:querystring')

const { parseQuery } = require('./prerender')

const TIMEOUT_MS = 30_000
// Per connection, not per message: they describe this hop only.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer'])
const AGENTS = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 256 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 256 }),
}

/**
 * The upstream query as `next start` sends it: parsed, then written again with only the keys and
 * values that were in the client's own query percent-encoded (Next's `stringifyQuery`), so
 * `?b=%20x` stays `%20x` even when middleware handed over `b=+x`.
 */
function upstreamSearch(search, originalUrl) {
  const initial = parseQuery(new URL(originalUrl, 'http://x').search)
  const initialValues = Object.values(initial)
  const fromClient = (v) => v in initial || initialValues.some((iv) => (Array.isArray(iv) ? iv.includes(v) : iv === v))
  const s = querystring.stringify(parseQuery(search), undefined, undefined, {
    encodeURIComponent: (v) => (fromClient(v) ? encodeURIComponent(v) : v),
  })
  return s ? `?${s}` : ''
}

/**
 * Proxies `req` to `target` (an absolute http(s) URL) and answers `res` with the upstream's
 * response. Resolves when the exchange is over (never rejects: failures end in a 500 or a
 * destroyed response, and are reported through `onError`).
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 * @param {string} target
 * @param {{ originalUrl?: string, onError?: (err: Error) => void }} [options] `originalUrl`: the
 *   URL the client asked for (its query decides which query parts are sent encoded)
 * @returns {Promise<void>}
 */
function proxyExternal(req, res, target, { originalUrl = req.url, onError = () => {} } = {}) {
  return new Promise((resolve) => {
    let url
    try {
      url = new URL(target)
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported protocol ${url.protocol}`)
    } catch (err) {
      fail(err)
      return
    }
    const headers = {}
    for (const name in req.headers) if (!HOP_BY_HOP.has(name)) headers[name] = req.headers[name]
    headers.host = url.host
    headers['x-forwarded-host'] = req.headers.host || ''

    let upstream
    try {
      upstream = (url.protocol === 'https:' ? https : http).request(
        { protocol: url.protocol, hostname: url.hostname, port: url.port, path: `${url.pathname}${upstreamSearch(url.search, originalUrl)}`, method: req.method, headers, agent: AGENTS[url.protocol] },
        (response) => {
          res.statusCode = response.statusCode
          const values = new Map()
          const raw = response.rawHeaders
          for (let i = 0; i + 1 < raw.length; i += 2) {
            const name = raw[i].toLowerCase()
            if (HOP_BY_HOP.has(name)) continue
            const list = values.get(name)
            if (list) list.push(raw[i + 1])
            else values.set(name, [raw[i + 1]])
          }
          for (const [name, list] of values) {
            try {
              res.setHeader(name, name === 'set-cookie' || list.length > 1 ? list : list[0])
            } catch {
              // a header Node refuses to send is dropped, as the proxy next start uses drops it
            }
          }
          response.on('error', (err) => {
            res.destroy(err)
            resolve()
          })
          response.on('end', resolve)
          response.pipe(res)
        },
      )
    } catch (err) {
      // e.g. a query value outside the client's own that next start, too, sends unencoded
      fail(err)
      return
    }
    upstream.setTimeout(TIMEOUT_MS, () => upstream.destroy(new Error(`no answer from ${url.origin} within ${TIMEOUT_MS} ms`)))
    upstream.on('error', fail)
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy()
      resolve()
    })
    req.on('error', (err) => upstream.destroy(err))
    req.pipe(upstream)

    function fail(err) {
      onError(err)
      if (!res.headersSent) {
        res.statusCode = 500
        res.end('Internal Server Error')
      } else {
        res.destroy()
      }
      resolve()
    }
  })
}

module.exports = { proxyExternal }
