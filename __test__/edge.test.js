'use strict'

// runtime/edge.js: edge functions and edge middleware of a real build, run from a copy of
// `.acme/output` (proves the output is self-contained for edge code too), plus synthetic functions
// for streaming, request bodies, aborts and failures.

const { test, describe, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { ensureBuilt } = require('./helpers/fixtures')
const { EdgeFunctions, middlewareOutcome } = require('../runtime/edge')

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'acme-edge-test-'))
after(() => fs.rmSync(tmp, { recursive: true, force: true }))

/** Copies a fixture's output to a temp dir; returns { dir, manifest }. */
function copyOutput(name) {
  const src = ensureBuilt(name)
  const dir = path.join(tmp, name)
  fs.cpSync(src, dir, { recursive: true })
  return { dir, manifest: JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) }
}

function fnById(manifest, id) {
  const fn = manifest.functions.find((f) => f.id === id)
  assert.ok(fn, `function ${id} in the manifest`)
  return fn
}

/** A log that records, for assertions. */
function recorder() {
  const lines = []
  const log = (level, msg, fields) => lines.push({ level, msg, fields })
  return { lines, log }
}

describe('app-router fixture (edge route handler + edge middleware)', () => {
  let out
  let edge
  const logs = recorder()
  before(() => {
    out = copyOutput('app-router')
    edge = new EdgeFunctions(out.dir, out.manifest, { log: logs.log })
  })
  after(() => edge.close())

  test('the edge route handler answers with its real body, status and headers', async () => {
    const fn = fnById(out.manifest, 'app/api/edge/route')
    const waited = []
    const res = await edge.invoke(fn, new Request('http://localhost:3000/api/edge?q=hello'), {
      waitUntil: (p) => waited.push(p),
    })
    assert.ok(res instanceof Response, 'a Node Response')
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type'), /^application\/json/)
    assert.deepEqual(await res.json(), { runtime: 'edge', pathname: '/api/edge', q: 'hello' })
    await Promise.all(waited)
  })

  test('a second invoke reuses the sandbox', async () => {
    const fn = fnById(out.manifest, 'app/api/edge/route')
    const sandbox = edge.sandboxes.get(fn.id)
    assert.ok(sandbox, 'sandbox created by the first call')
    const res = await edge.invoke(fn, new Request('http://localhost:3000/api/edge?q=again'))
    const body = await res.json()
    assert.equal(body.q, 'again')
    assert.equal(edge.sandboxes.get(fn.id), sandbox, 'same sandbox')
    assert.equal(logs.lines.filter((l) => l.msg === 'edge sandbox ready' && l.fields.function === fn.id).length, 1)
  })

  test('concurrent first calls share one sandbox', async () => {
    const local = new EdgeFunctions(out.dir, out.manifest)
    try {
      const fn = fnById(out.manifest, 'app/api/edge/route')
      const results = await Promise.all(
        [1, 2, 3].map((i) => local.invoke(fn, new Request(`http://localhost/api/edge?q=${i}`)).then((r) => r.json())),
      )
      assert.deepEqual(results.map((r) => r.q), ['1', '2', '3'])
      assert.equal(local.sandboxes.size, 1)
    } finally {
      local.close()
    }
  })

  describe('middleware', () => {
    let mw
    before(() => {
      mw = fnById(out.manifest, 'middleware')
      assert.equal(mw.kind, 'middleware')
    })

    test('rewrite /rewrite-me -> /about', async () => {
      const res = await edge.invoke(mw, new Request('http://localhost:3000/rewrite-me?x=1'))
      assert.equal(res.headers.get('x-middleware-rewrite'), 'http://localhost:3000/about')
      const o = middlewareOutcome(res)
      assert.equal(o.kind, 'rewrite')
      assert.equal(o.rewrite.href, 'http://localhost:3000/about')
      assert.equal(o.external, false)
      assert.equal(o.responseHeaders.get('x-middleware-rewrite'), '/about')
    })

    test('redirect /old -> /about', async () => {
      const res = await edge.invoke(mw, new Request('http://localhost:3000/old'))
      const o = middlewareOutcome(res)
      assert.equal(o.kind, 'redirect')
      assert.deepEqual(o.redirect, { url: '/about', status: 307 })
      assert.equal(o.responseHeaders.get('location'), '/about')
    })

    test('full response at /mw-response', async () => {
      const res = await edge.invoke(mw, new Request('http://localhost:3000/mw-response'))
      const o = middlewareOutcome(res)
      assert.equal(o.kind, 'response')
      assert.ok(o.response instanceof Response)
      assert.equal(o.response.status, 200)
      assert.equal(o.response.headers.get('x-mw'), 'response')
      assert.deepEqual(await o.response.json(), { from: 'middleware' })
    })

    test('next() with an added request header', async () => {
      const res = await edge.invoke(
        mw,
        new Request('http://localhost:3000/about?y=2', { headers: { 'x-in': 'kept', cookie: 'a=b' } }),
      )
      assert.equal(res.headers.get('x-middleware-next'), '1')
      const o = middlewareOutcome(res)
      assert.equal(o.kind, 'next')
      assert.equal(o.requestHeaders.get('x-from-middleware'), '1')
      assert.equal(o.requestHeaders.get('x-in'), 'kept')
      assert.equal(o.requestHeaders.get('cookie'), 'a=b')
      assert.equal(o.requestHeaders.has('x-middleware-next'), false)
      assert.deepEqual([...o.responseHeaders], [])
    })

    test('a POST through middleware leaves the request body readable for the next function', async () => {
      const request = new Request('http://localhost:3000/submit', {
        method: 'POST',
        body: 'payload',
        headers: { 'content-type': 'text/plain' },
      })
      const res = await edge.invoke(mw, request)
      assert.equal(middlewareOutcome(res).kind, 'next')
      assert.equal(await request.text(), 'payload')
    })
  })
})

describe('pages-router fixture (edge API route)', () => {
  test('the edge API route answers with its real body', async () => {
    const out = copyOutput('pages-router')
    const edge = new EdgeFunctions(out.dir, out.manifest)
    try {
      const res = await edge.invoke(fnById(out.manifest, 'pages/api/edge'), new Request('http://localhost:3000/api/edge'))
      assert.equal(res.status, 200)
      assert.match(res.headers.get('content-type'), /^application\/json/)
      assert.deepEqual(await res.json(), { runtime: 'edge', pathname: '/api/edge' })
    } finally {
      edge.close()
    }
  })
})

// Synthetic functions: scripts written into a copy of the output, registered the way Next's
// edge-wrapper does (`self._ENTRIES[key] = <module promise>`).
describe('synthetic functions', () => {
  let out
  let edge
  const logs = recorder()
  const fns = {}

  function addFunction(id, source, extra = {}) {
    const rel = `server/synthetic/${id.replace(/\W/g, '_')}.js`
    fs.mkdirSync(path.join(out.dir, 'server', 'synthetic'), { recursive: true })
    fs.writeFileSync(path.join(out.dir, rel), source)
    fns[id] = {
      id,
      type: 'APP_ROUTE',
      kind: 'edge-function',
      pathname: `/${id}`,
      sourcePage: `/${id}`,
      runtime: 'edge',
      entry: rel,
      config: { env: { SYNTHETIC_VAR: 'from-config' } },
      edge: { modulePath: rel, entryKey: `middleware_${id}`, handlerExport: 'handler', scripts: [rel], wasm: {} },
      ...extra,
    }
    return fns[id]
  }

  const register = (id, body) => `
    self._ENTRIES ||= {};
    self._ENTRIES['middleware_${id}'] = Promise.resolve({ handler: ${body} });
  `

  before(() => {
    out = copyOutput('pages-router')
    edge = new EdgeFunctions(out.dir, out.manifest, { log: logs.log, loadTimeoutMs: 400 })

    addFunction(
      'stream',
      register(
        'stream',
        `async (request) => {
          let release
          globalThis.__released = new Promise((r) => { release = r })
          globalThis.__release = release
          const body = new ReadableStream({
            async start(controller) {
              controller.enqueue(new TextEncoder().encode('first;'))
              await globalThis.__released
              controller.enqueue(new Uint8Array([115, 101, 99, 111, 110, 100, 59])) // 'second;', sandbox realm
              controller.enqueue('third') // a string chunk
              controller.close()
            },
          })
          return new Response(body, { status: 201, headers: { 'content-type': 'text/plain', 'x-chunked': '1' } })
        }`,
      ),
    )
    addFunction(
      'echo',
      register(
        'echo',
        `async (request) => new Response(request.body, {
          headers: { 'x-method': request.method, 'x-len': request.headers.get('content-length') || '' },
        })`,
      ),
    )
    addFunction(
      'context',
      register(
        'context',
        `async (request, ctx) => {
          let fsError
          try { require('node:fs') } catch (e) { fsError = e.message }
          let tickError
          try { process.nextTick(() => {}) } catch (e) { tickError = e.message }
          ctx.waitUntil(Promise.reject(new Error('background failure')))
          return Response.json({
            runtime: process.env.NEXT_RUNTIME,
            configVar: process.env.SYNTHETIC_VAR,
            buffer: typeof require('node:buffer').Buffer,
            als: typeof AsyncLocalStorage,
            fsError,
            tickError,
            requestMeta: ctx.requestMeta,
            edgeRuntime: typeof EdgeRuntime,
          }, { headers: [['set-cookie', 'a=1; Path=/'], ['set-cookie', 'b=2; Path=/']] })
        }`,
      ),
    )
    addFunction(
      'abort',
      register(
        'abort',
        // The abort can land before the handler runs (sandbox start-up on a loaded machine).
        `(request, ctx) => new Promise((resolve) => {
          const answer = () => resolve(new Response('aborted:' + ctx.signal.aborted))
          if (request.signal.aborted) answer()
          else request.signal.addEventListener('abort', answer)
        })`,
      ),
    )
    addFunction(
      'mw-reads-body',
      register(
        'mw-reads-body',
        `async (request) => new Response(null, { headers: { 'x-middleware-next': '1', 'x-read': await request.text() } })`,
      ),
      { kind: 'middleware', type: 'MIDDLEWARE' },
    )
    addFunction(
      'fetcher',
      register(
        'fetcher',
        `async (request) => {
          const target = new URL(request.url).searchParams.get('target')
          const upstream = await fetch(target, { headers: { 'x-extra': 'e' } })
          return new Response(upstream.body, { status: upstream.status, headers: { 'x-upstream': '1' } })
        }`,
      ),
    )
    addFunction('throws', register('throws', `() => { throw new TypeError('boom in handler') }`))
    addFunction('broken', `self._ENTRIES ||= {};\nthrow new Error('boom at evaluation')\n`)
    addFunction(
      'rejects',
      `self._ENTRIES ||= {};\nconst p = Promise.reject(new Error('module failed'));\np.catch(() => {});\nself._ENTRIES['middleware_rejects'] = p;\n`,
    )
    addFunction('missing', `// never registers its entry, like a build whose chunk is missing\n`)
  })
  after(() => edge.close())

  test('a chunked body arrives as a stream, chunk by chunk', async () => {
    const res = await edge.invoke(fns.stream, new Request('http://localhost/stream'))
    assert.equal(res.status, 201)
    assert.equal(res.headers.get('x-chunked'), '1')
    const reader = res.body.getReader()
    const first = await reader.read()
    assert.equal(first.done, false)
    assert.equal(Buffer.from(first.value).toString(), 'first;')
    // The rest is not produced yet: the response was handed over before the body finished.
    const context = (await edge.sandboxes.get('stream')).runtime.context
    const pending = reader.read()
    const early = await Promise.race([pending.then(() => 'chunk'), new Promise((r) => setTimeout(() => r('waiting'), 50))])
    assert.equal(early, 'waiting')
    context.__release()
    const chunks = [first.value, (await pending).value]
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      assert.ok(value instanceof Uint8Array)
      chunks.push(value)
    }
    assert.equal(Buffer.concat(chunks).toString(), 'first;second;third')
  })

  test('a request body streams into the sandbox', async () => {
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('hello '))
        c.enqueue(new TextEncoder().encode('edge'))
        c.close()
      },
    })
    const res = await edge.invoke(fns.echo, new Request('http://localhost/echo', { method: 'POST', body, duplex: 'half' }))
    assert.equal(res.headers.get('x-method'), 'POST')
    assert.equal(await res.text(), 'hello edge')
  })

  test('middleware reading the body does not consume the caller\'s request', async () => {
    const request = new Request('http://localhost/form', { method: 'POST', body: 'a=1&b=2' })
    const res = await edge.invoke(fns['mw-reads-body'], request)
    const o = middlewareOutcome(res)
    assert.equal(o.kind, 'next')
    assert.equal(o.responseHeaders.get('x-read'), 'a=1&b=2')
    assert.equal(await request.text(), 'a=1&b=2')
  })

  test('the sandbox has Next\'s context: env, limited require, AsyncLocalStorage, process stubs', async () => {
    const waited = []
    const res = await edge.invoke(fns.context, new Request('http://localhost/context'), {
      waitUntil: (p) => waited.push(p),
      requestMeta: { minimalMode: true },
    })
    const body = await res.json()
    assert.equal(body.runtime, 'edge')
    assert.equal(body.configVar, 'from-config')
    assert.equal(body.buffer, 'function')
    assert.equal(body.als, 'function')
    assert.match(body.fsError, /Native module not found: node:fs/)
    assert.match(body.tickError, /not supported in the Edge Runtime/)
    assert.deepEqual(body.requestMeta, { minimalMode: true })
    assert.equal(body.edgeRuntime, 'string')
    assert.deepEqual(res.headers.getSetCookie(), ['a=1; Path=/', 'b=2; Path=/'])
    // A rejected waitUntil is caught and logged, never an unhandled rejection.
    await Promise.all(waited)
    assert.ok(logs.lines.some((l) => l.msg === 'edge function waitUntil rejected' && l.fields.error === 'background failure'))
  })

  test('fetch from the sandbox sends Next\'s default user-agent', async () => {
    const http = require('node:http')
    const server = http.createServer((req, res) => {
      res.end(JSON.stringify({ ua: req.headers['user-agent'], extra: req.headers['x-extra'] }))
    })
    await new Promise((r) => server.listen(0, '127.0.0.1', r))
    try {
      const target = `http://127.0.0.1:${server.address().port}/`
      const res = await edge.invoke(fns.fetcher, new Request(`http://localhost/fetcher?target=${encodeURIComponent(target)}`))
      assert.equal(res.headers.get('x-upstream'), '1')
      assert.deepEqual(await res.json(), { ua: 'Next.js Middleware', extra: 'e' })
    } finally {
      server.close()
    }
  })

  test('the caller\'s signal aborts the request inside the sandbox', async () => {
    const controller = new AbortController()
    const pending = edge.invoke(fns.abort, new Request('http://localhost/abort'), { signal: controller.signal })
    setTimeout(() => controller.abort(), 20)
    const res = await pending
    assert.equal(await res.text(), 'aborted:true')
  })

  test('a handler that throws rejects with the function id', async () => {
    await assert.rejects(edge.invoke(fns.throws, new Request('http://localhost/throws')), (err) => {
      assert.match(err.message, /edge function "throws" threw: boom in handler/)
      return true
    })
  })

  test('a script that throws on evaluation rejects with the function id; the process survives', async () => {
    await assert.rejects(edge.invoke(fns.broken, new Request('http://localhost/broken')), (err) => {
      assert.match(err.message, /edge function "broken" failed to evaluate server\/synthetic\/broken\.js: boom at evaluation/)
      return true
    })
    assert.equal(edge.sandboxes.has('broken'), false, 'a failed sandbox is forgotten')
    // Again (retried, same error), and other functions still work.
    await assert.rejects(edge.invoke(fns.broken, new Request('http://localhost/broken')), /"broken"/)
    const res = await edge.invoke(fns.echo, new Request('http://localhost/echo', { method: 'POST', body: 'still alive' }))
    assert.equal(await res.text(), 'still alive')
  })

  test('a module that fails to initialize rejects with the function id', async () => {
    await assert.rejects(edge.invoke(fns.rejects, new Request('http://localhost/rejects')), /edge function "rejects" failed to load its module: module failed/)
  })

  test('an entry that never registers times out naming the function', async () => {
    const t0 = performance.now()
    await assert.rejects(
      edge.invoke(fns.missing, new Request('http://localhost/missing')),
      /edge function "missing" did not register _ENTRIES\["middleware_missing"\] within 400 ms/,
    )
    // The timeout, not the test runner's, ended the wait (generous bound for a loaded machine).
    assert.ok(performance.now() - t0 < 10_000)
  })

  test('a real function with a chunk left out times out naming the function', async () => {
    const real = fnById(out.manifest, 'pages/api/edge')
    const chunkless = {
      ...real,
      id: 'pages/api/edge (chunk missing)',
      edge: { ...real.edge, scripts: real.edge.scripts.filter((s) => !s.includes('[root-of-the-server]')) },
    }
    assert.equal(chunkless.edge.scripts.length, real.edge.scripts.length - 1)
    await assert.rejects(
      edge.invoke(chunkless, new Request('http://localhost/api/edge')),
      /edge function "pages\/api\/edge \(chunk missing\)" did not register/,
    )
  })

  test('invoke after close rejects', async () => {
    const local = new EdgeFunctions(out.dir, out.manifest)
    local.close()
    await assert.rejects(local.invoke(fns.echo, new Request('http://localhost/echo')), /closed/)
  })
})

describe('middlewareOutcome', () => {
  const req = { url: 'https://app.test/start?x=1', headers: new Headers({ accept: 'text/html', cookie: 'a=b' }) }

  test('override headers replace the request headers; other headers go to both', () => {
    const res = new Response(null, {
      headers: {
        'x-middleware-next': '1',
        'x-middleware-override-headers': 'accept,x-new',
        'x-middleware-request-accept': 'application/json',
        'x-middleware-request-x-new': 'yes',
        'x-extra': 'v',
      },
    })
    const o = middlewareOutcome(res, req)
    assert.equal(o.kind, 'next')
    assert.deepEqual([...o.requestHeaders], [['accept', 'application/json'], ['x-extra', 'v'], ['x-new', 'yes']])
    assert.deepEqual([...o.responseHeaders], [['x-extra', 'v']])
  })

  test('external rewrite and non-redirect location', () => {
    const ext = middlewareOutcome(new Response(null, { headers: { 'x-middleware-rewrite': 'https://other.test/p' } }), req)
    assert.equal(ext.kind, 'rewrite')
    assert.equal(ext.external, true)
    assert.equal(ext.rewrite.href, 'https://other.test/p')
    const loc = middlewareOutcome(new Response('body', { status: 200, headers: { location: 'https://app.test/x' } }), req)
    assert.equal(loc.kind, 'response')
    assert.equal(loc.response.headers.get('location'), 'https://app.test/x')
  })

  test('cookies set by middleware', () => {
    const headers = new Headers({ 'x-middleware-next': '1', 'x-middleware-set-cookie': 'c=3' })
    headers.append('set-cookie', 'a=1')
    headers.append('set-cookie', 'b=2')
    const o = middlewareOutcome(new Response(null, { headers }), req)
    assert.deepEqual(o.responseHeaders.getSetCookie(), ['a=1', 'b=2'])
    assert.equal(o.requestHeaders.get('x-middleware-set-cookie'), 'c=3')
    assert.equal(o.responseHeaders.has('x-middleware-set-cookie'), false)
  })
})
