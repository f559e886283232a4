'use strict'

// `acme-next start` against `next start`, differentially: every fixture is built once through the
// adapter; `next start` serves its own copy of the build, `acme-next start` serves the output
// copied outside the repository. The same requests go to both; status, location, content-type,
// cache-control, x-nextjs-cache, x-action-revalidated and the (normalized) body must agree, except for the differences
// listed in KNOWN_DIFFERENCES with their reason.
//
// Part of `npm test`; alone: `npm run test:runtime`.

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { buildFixture } = require('./helpers/fixtures')
const { startOracle, startAcme, stop } = require('./helpers/runtime-servers')
const { request, renderTime, compareServers } = require('./helpers/differential')
const { computeCacheBustingSearchParam } = require('next/dist/shared/lib/router/utils/cache-busting-search-param')

const FIXTURES = ['app-router', 'pages-router', 'i18n-basepath']

// RSC requests whose `_rsc` is missing, wrong or right (and the legacy 5-character form), to
// pages, route handlers, files and edge functions: `next start` (16.4, validateRSCRequestHeaders)
// redirects the wrong ones to the right hash. Not in the version matrix's list: checked against
// this repo's Next only.
const PREFETCH = { rsc: '1', 'next-router-prefetch': '1' }
const CACHE_BUSTING = {
  'app-router': [
    { path: '/about', headers: { rsc: '1' } },
    { path: '/about?_rsc=wrong', headers: { rsc: '1' } },
    { path: '/about?x=1&_rsc=abc', headers: PREFETCH },
    { path: '/about?_rsc=HEAvJdHAQJrUAe2K', headers: PREFETCH },
    { path: '/about?_rsc=bl95g', headers: PREFETCH },
    { path: '/about?_rsc&a=1', headers: PREFETCH },
    { path: '/dynamic?_rsc=zz', headers: { rsc: '1', 'next-url': '/x' } },
    { path: '/blog/first', headers: { rsc: '1' } },
    { path: '/api/hello', headers: PREFETCH },
    { path: '/api/edge?q=1', headers: PREFETCH },
    { path: '/header-rewrite', headers: { rsc: '1', 'x-rewrite-me': 'yes' } },
    // (`/rewrite-me`, a middleware rewrite: compared below with a next start on localhost.)
    { path: '/robots.txt', headers: PREFETCH },
    { path: '/nope', headers: PREFETCH },
    // A route whose paths are all prerendered, at a path it lacks: checked before its 404 (it
    // was a 404 at once); no route matched (`/nope`): not checked.
    { path: '/products/9?a=1', headers: { rsc: '1' } },
    { path: '/products/[id]', headers: PREFETCH },
  ],
  'pages-router': [
    { path: '/', headers: { rsc: '1' } },
    { path: '/ssr?a=1', headers: PREFETCH },
    { path: '/ssr?_rsc=bl95g', headers: PREFETCH },
    { path: '/posts/1', headers: { rsc: '1' } },
    { path: '/api/hello?q=1', headers: { rsc: '1' } },
    { path: '/api/edge', headers: { rsc: '1' } },
    { path: '/hello.txt', headers: { rsc: '1' } },
    { path: '/docs/zz?a=1', headers: { rsc: '1' } },
  ],
  'i18n-basepath': [
    { path: '/base/about/', headers: { rsc: '1' } },
    { path: '/base/fr/about/', headers: { rsc: '1' } },
    { path: '/base/ssr/?a=1', headers: { rsc: '1' } },
    { path: '/base/api/hello/', headers: { rsc: '1' } },
  ],
}
const differences = []
let compared = 0

/** What each server answers to `paths`, sent in order, one `line(r, res)` each, per server; the
 * `headers(server)` are added to every request. */
async function answers(servers, paths, line, headers = () => ({})) {
  const seen = []
  for (const server of servers) {
    const seq = []
    for (const r of paths) seq.push(line(r, await request(server.origin, { ...r, headers: { ...r.headers, ...headers(server) } })))
    seen.push(seq)
  }
  return seen
}

for (const name of FIXTURES) {
  describe(`acme-next start vs next start: ${name}`, { timeout: 600_000 }, () => {
    let oracle
    let acme
    let buildId
    before(async () => {
      const res = buildFixture(name)
      assert.equal(res.status, 0, `next build of ${name} failed:\n${res.stdout}\n${res.stderr}`)
      buildId = require('node:fs').readFileSync(`${res.dir}/.next/BUILD_ID`, 'utf8').trim()
      oracle = await startOracle(name)
      acme = await startAcme(name)
    })
    after(async () => {
      await stop(oracle)
      await stop(acme)
    })

    test('same responses as next start', async () => {
      const result = await compareServers(name, oracle.origin, acme.origin, buildId)
      compared += result.compared
      differences.push(...result.differences)
      const { mismatches } = result
      assert.deepEqual(mismatches, [], `responses differ:\n${mismatches.join('\n')}`)
    })

    test('RSC requests with a wrong _rsc are redirected to the right one, as next start does', async () => {
      const seen = await answers([oracle, acme], CACHE_BUSTING[name], (r, res) => `${r.path} ${JSON.stringify(r.headers)} -> ${res.status} ${res.headers.location || ''}`)
      assert.ok(seen[0].some((l) => / -> 307 .*_rsc/.test(l)), seen[0].join('\n'))
      assert.deepEqual(seen[1], seen[0])
    })

    if (name === 'pages-router') {
      test('a crawler gets a `fallback: true` page rendered, not its fallback shell, as next start answers one', async () => {
        const agents = {
          googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
          bingbot: 'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36',
          adsbot: 'AdsBot-Google (+http://www.google.com/adsbot.html)',
          slack: 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)',
          browser: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
        }
        const paths = [
          ...Object.entries(agents).map(([who, ua]) => ({ path: `/fallback/crawled-${who}`, headers: { 'user-agent': ua } })),
          // What the crawler had rendered is kept: a browser's request after it is a hit.
          { path: '/fallback/crawled-googlebot', headers: { 'user-agent': agents.browser } },
        ]
        const seen = await answers([oracle, acme], paths, (r, res) => {
          const h1 = /<h1>(.*?)<\/h1>/.exec(res.body.toString())
          return `${r.path} [${r.headers['user-agent'].slice(0, 24)}] -> ${res.status} ${res.headers['cache-control']} ${res.headers['x-nextjs-cache']} ${h1 ? h1[1].replace(/<!-- -->/g, '') : 'fallback shell'}`
        })
        assert.ok(seen[0][0].endsWith('Fallback crawled-googlebot'), seen[0].join('\n'))
        assert.ok(seen[0][4].endsWith('fallback shell'), seen[0].join('\n'))
        assert.deepEqual(seen[1], seen[0])
      })

      test('a browser gets a `fallback: true` path\'s shell until the page\'s data request renders it, as on next start', async () => {
        const doc = { path: '/fallback/browsed' }
        const data = { path: `/_next/data/${buildId}/fallback/browsed.json`, headers: { 'x-nextjs-data': '1' } }
        const sleep = { sleep: 1500 }
        const seen = []
        for (const server of [oracle, acme]) {
          const lines = []
          for (const r of [doc, sleep, doc, data, doc]) {
            if (r.sleep) {
              // Time for a background render, had one started (acme rendered one until now).
              await new Promise((resolve) => setTimeout(resolve, r.sleep))
              continue
            }
            const res = await request(server.origin, r)
            const h1 = /<h1>(.*?)<\/h1>/.exec(res.body.toString())?.[1]?.replace(/<!-- -->/g, '')
            const slug = r === data ? JSON.parse(res.body.toString()).pageProps?.slug : h1 || 'fallback shell'
            lines.push(`${r.path} -> ${res.status} ${res.headers['x-nextjs-cache']} ${slug}`)
          }
          seen.push(lines)
        }
        assert.deepEqual(seen[0].map((l) => l.split(' -> ')[1]), ['200 MISS fallback shell', '200 MISS fallback shell', '200 MISS browsed', '200 HIT Fallback browsed'], 'next start')
        assert.deepEqual(seen[1], seen[0])
      })

      test('a data request naming a fallback route\'s template does not replace its fallback shell (a next start bug not followed)', async (t) => {
        // next start keeps a `fallback: true` route's shell under the route's own pathname
        // (`/fallback/[slug]`), which is also the cache key of the page at the URL
        // `/fallback/[slug]`. When that URL's data is asked for before the shell was served
        // since the start, next start renders the page of the slug "[slug]" and stores it there,
        // and from then on every path not generated yet is answered with that page, "Fallback
        // [slug]", instead of the shell (seen with a fresh `next start`; here, after the
        // differential has served the shell, it answers the shell's `{}`). acme keeps the shell.
        const data = { path: `/_next/data/${buildId}/fallback/[slug].json`, headers: { 'x-nextjs-data': '1' } }
        const page = { path: '/fallback/poison-check' }
        const h1 = (res) => /<h1>(.*?)<\/h1>/.exec(res.body.toString())?.[1]?.replace(/<!-- -->/g, '') ?? 'fallback shell'
        for (const [who, server] of [['next start', oracle], ['acme', acme]]) {
          const res = await request(server.origin, data)
          t.diagnostic(`${who}: ${data.path} -> ${res.status} ${res.body.toString().slice(0, 80)}`)
        }
        t.diagnostic(`next start then: ${h1(await request(oracle.origin, page))}`)
        const acmePage = await request(acme.origin, page)
        assert.equal(h1(acmePage), 'fallback shell')
        assert.equal(acmePage.headers['cache-control'], 'private, no-cache, no-store, max-age=0, must-revalidate')
      })

      test('a regeneration of either form of an ISR page refreshes the other, as next start\'s one entry does', { timeout: 60_000 }, async () => {
        const timeIn = (res) => /20\d\d-\d\d-\d\dT[\d:.]+Z/.exec(res.body.toString())?.[0]
        const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
        const doc = { path: '/isr-fast' }
        const data = { path: `/_next/data/${buildId}/isr-fast.json`, headers: { 'x-nextjs-data': '1' } }
        const seen = []
        for (const server of [oracle, acme]) {
          const lines = []
          for (const [first, other] of [[doc, data], [data, doc]]) {
            await sleep(2500)
            const stale = await request(server.origin, first)
            let fresh
            for (let i = 0; i < 40; i++) {
              await sleep(100)
              fresh = await request(server.origin, first)
              if (timeIn(fresh) !== timeIn(stale)) break
            }
            assert.notEqual(timeIn(fresh), timeIn(stale), `${server.origin}${first.path} regenerated`)
            // next start answers from the entry just regenerated; acme regenerated the other form
            // just before it (a pages-router render hands over no cache entry): a render
            // milliseconds earlier, newer than the stale one.
            const twin = await request(server.origin, other)
            const apart = Date.parse(timeIn(fresh)) - Date.parse(timeIn(twin))
            assert.ok(timeIn(twin) > timeIn(stale) && apart >= 0 && apart < 1000, `${server.origin}: ${other.path} is from ${timeIn(twin)}, ${first.path} regenerated at ${timeIn(fresh)}`)
            lines.push(`${first.path} ${stale.headers['x-nextjs-cache']} -> ${fresh.headers['x-nextjs-cache']}, the other ${twin.headers['x-nextjs-cache']} ${twin.headers['content-type']}`)
          }
          seen.push(lines)
        }
        assert.deepEqual(seen[1], seen[0])
      })
    }

    if (name === 'app-router') {
      test('prerender and vary headers as next start sends them (x-nextjs-prerender, x-nextjs-stale-time, vary)', async () => {
        // Twice (`1, 1`) on a build-time page from the cache, once on one rendered at runtime;
        // the router headers in Vary on app pages and route handlers (next start's Accept-Encoding
        // comes with its compression, which acme does not do for these responses).
        const paths = [{ path: '/about' }, { path: '/about?_rsc', headers: { rsc: '1' } }, { path: '/blog/third-x' }, { path: '/blog/third-x' }, { path: '/nope' }, { path: '/nope?_rsc', headers: { rsc: '1' } }, { path: '/api/hello' }, { path: '/dynamic' }]
        const vary = (v) => v && String(v).split(',').map((x) => x.trim()).filter((x) => x.toLowerCase() !== 'accept-encoding').join(', ')
        const seen = await answers([oracle, acme], paths, (r, res) => `${r.path} ${res.status} prerender=${res.headers['x-nextjs-prerender']} stale-time=${res.headers['x-nextjs-stale-time']} vary=${vary(res.headers.vary)}`)
        assert.ok(seen[0].some((l) => l.includes('prerender=1, 1')), seen[0].join('\n'))
        assert.deepEqual(seen[1], seen[0])
      })

      test('a middleware rewrite of a request to 127.0.0.1 stays on this server, as next start on localhost keeps it', async () => {
        // Middleware builds its rewrite from `request.url`, whose loopback host Next's NextURL
        // names `localhost`. next start's middleware URL has the host of its `-H` (default
        // `localhost`): there it answers `x-middleware-rewrite: /about` and routes /about itself.
        // (With `-H 127.0.0.1`, as the other tests start it, next start takes the rewrite for an
        // external one and proxies it back to itself.) acme-next start builds the URL from the
        // Host header, so a request to 127.0.0.1 must be the same: taken as external, the rewrite
        // went through a proxy back to this server, with the header absolute and /about's
        // cookie-conditional header rule applied on the second pass.
        const local = await startOracle(name, { hostname: 'localhost' })
        try {
          const paths = [{ path: '/rewrite-me' }, { path: '/rewrite-me', headers: { cookie: 'session=abc' } }, { path: '/rewrite-me', headers: { rsc: '1' } }, { path: '/old' }, { path: '/about', headers: { cookie: 'session=abc' } }]
          const seen = await answers(
            [local, acme],
            paths,
            (r, res) => `${r.path} ${JSON.stringify(r.headers || {})} -> ${res.status} rewrite=${res.headers['x-middleware-rewrite']} location=${res.headers.location} x-has-session=${res.headers['x-has-session']}`,
            (server) => ({ host: `127.0.0.1:${new URL(server.origin).port}` }),
          )
          assert.ok(seen[0].some((l) => l.includes('rewrite=/about')), seen[0].join('\n'))
          assert.ok(seen[0].some((l) => l.includes('x-has-session=1')), seen[0].join('\n'))
          assert.deepEqual(seen[1], seen[0])
        } finally {
          await stop(local)
        }
      })

      test('segment prefetches of pages generated at runtime: kept with the page, misses 404, a navigation after them gets the whole page', async () => {
        // With the `_rsc` these headers hash to (next start redirects a wrong one).
        const prefetch = async (p, segment) => ({ path: `${p}?_rsc=${await computeCacheBustingSearchParam('1', segment, undefined, undefined)}`, headers: { ...PREFETCH, 'next-router-segment-prefetch': segment } })
        const tree = (p) => prefetch(p, '/_tree')
        const foo = (p) => prefetch(p, '/foo')
        const paths = [
          // Rendered as a document first: its segments come with it (HIT), one it lacks is an empty 404.
          { path: '/blog/seg-a' }, await tree('/blog/seg-a'), await foo('/blog/seg-a'),
          // Prefetched first, then navigated to: the navigation gets the page's Flight payload,
          // not the segment the prefetch stored.
          await tree('/blog/seg-b'), await foo('/blog/seg-b'), { path: '/blog/seg-b?_rsc', headers: { rsc: '1' } },
        ]
        const seen = await answers([oracle, acme], paths, (r, res) => {
          const body = res.body.toString()
          const kind = !body ? 'empty' : body.includes('Blog: ') ? 'page' : body.includes('__PAGE__') ? 'tree' : 'other'
          return `${r.path} ${r.headers ? r.headers['next-router-segment-prefetch'] || 'rsc' : 'html'} -> ${res.status} ${kind}${res.headers['x-nextjs-postponed'] ? ` postponed=${res.headers['x-nextjs-postponed']}` : ''}${r.path === '/blog/seg-b?_rsc' ? '' : ` ${res.headers['x-nextjs-cache']}`}`
        })
        assert.ok(seen[0].some((l) => / -> 404 empty postponed=2/.test(l)), seen[0].join('\n'))
        assert.ok(seen[0].at(-1).endsWith('200 page'), seen[0].join('\n'))
        assert.deepEqual(seen[1], seen[0])
      })

      test('x-prerender-revalidate with the build\'s preview id revalidates on demand, as on next start', async () => {
        const dir = require('node:path').join(require('./helpers/fixtures').fixtureDir(name), '.next')
        const previewId = JSON.parse(require('node:fs').readFileSync(`${dir}/prerender-manifest.json`, 'utf8')).preview.previewModeId
        const revalidate = { 'x-prerender-revalidate': previewId }
        const paths = [
          // A prerendered ISR page: rendered now (REVALIDATED), then served from that render.
          { path: '/isr', headers: revalidate }, { path: '/isr' },
          // A path never generated: not with `-if-generated` (a 404), else generated with it.
          { path: '/blog/od-a', headers: { ...revalidate, 'x-prerender-revalidate-if-generated': '1' } },
          { path: '/blog/od-b', headers: revalidate }, { path: '/blog/od-b' },
          // Another id is no revalidation.
          { path: '/isr', headers: { 'x-prerender-revalidate': 'not-the-id' } },
          // A URL no route matches: the not-found page rendered anew (404 REVALIDATED; it was a
          // HIT of the static page), as a document and as a Flight payload.
          { path: '/od-nope', headers: revalidate }, { path: '/od-nope', headers: { ...revalidate, rsc: '1' } },
          { path: '/od-nope' },
          // With the draft-mode cookie too: a revalidation, not draft mode (Next reads no preview
          // data on one), so the render is kept (acme rendered it as a draft until the
          // twenty-eighth session, and kept nothing).
          { path: '/blog/first', headers: { ...revalidate, cookie: `__prerender_bypass=${previewId}` } },
        ]
        const times = []
        const seen = await answers([oracle, acme], paths, (r, res) => {
          const time = renderTime(res)
          if (r.path === '/isr') times.push(time)
          return `${r.path} ${r.headers ? Object.keys(r.headers).join('+') : '-'} -> ${res.status} ${res.headers['x-nextjs-cache']}`
        })
        assert.deepEqual(seen[1], seen[0])
        assert.ok(seen[0][0].endsWith('200 REVALIDATED') && seen[0][2].endsWith('404 REVALIDATED'), seen[0].join('\n'))
        assert.ok(seen[0][6].endsWith('404 REVALIDATED') && seen[0][8].endsWith('404 HIT'), seen[0].join('\n'))
        assert.ok(seen[0][9].endsWith('200 REVALIDATED'), seen[0].join('\n'))
        // Per server: the revalidating request rendered now, and the next requests got its render.
        for (const t of [times.slice(0, 3), times.slice(3)]) {
          assert.ok(Date.now() - Date.parse(t[0]) < 60_000, `rendered now: ${t[0]}`)
          assert.deepEqual([t[1], t[2]], [t[0], t[0]])
        }
        // The page's Flight payload (client navigations) is revalidated with it, from the same
        // render: next start keeps both in one entry.
        const timeIn = (res) => /20\d\d-\d\d-\d\dT[\d:.]+Z/.exec(res.body.toString())?.[0]
        for (const server of [oracle, acme]) {
          const html = timeIn(await request(server.origin, { path: '/isr', headers: revalidate }))
          const rsc = timeIn(await request(server.origin, { path: '/isr?_rsc', headers: { rsc: '1' } }))
          assert.equal(rsc, html, `${server.origin}: the Flight payload after revalidation is from ${rsc}, the document from ${html}`)
        }
      })

      test('a regeneration of either form of an ISR page refreshes both, as next start\'s one entry does', { timeout: 60_000 }, async () => {
        const timeIn = (res) => /20\d\d-\d\d-\d\dT[\d:.]+Z/.exec(res.body.toString())?.[0]
        const doc = { path: '/isr-fast' }
        const flight = { path: '/isr-fast?_rsc', headers: { rsc: '1' } }
        const seen = []
        for (const server of [oracle, acme]) {
          const lines = []
          // Each form in turn goes stale, is requested (STALE: regenerated in the background), and
          // once its new render is served, the other form is served from the same render.
          for (const [first, other] of [[doc, flight], [flight, doc]]) {
            await new Promise((r) => setTimeout(r, 2500))
            const stale = await request(server.origin, first)
            let fresh
            for (let i = 0; i < 40; i++) {
              await new Promise((r) => setTimeout(r, 100))
              fresh = await request(server.origin, first)
              if (timeIn(fresh) !== timeIn(stale)) break
            }
            const twin = await request(server.origin, other)
            assert.notEqual(timeIn(fresh), timeIn(stale), `${server.origin}${first.path} regenerated`)
            assert.equal(timeIn(twin), timeIn(fresh), `${server.origin}: ${other.path} after ${first.path} regenerated`)
            lines.push(`${first.path} ${stale.headers['x-nextjs-cache']} -> ${fresh.headers['x-nextjs-cache']}, ${other.path} ${twin.headers['x-nextjs-cache']} ${twin.headers['content-type']}`)
          }
          seen.push(lines)
        }
        assert.deepEqual(seen[1], seen[0])
      })

      test('ISR page regenerates after revalidate on both servers', { timeout: 60_000 }, async () => {
        const time = (res) => /id="time">([^<]+)</.exec(res.body.toString())[1]
        for (const server of [oracle, acme]) {
          const first = await request(server.origin, { path: '/isr-fast' })
          await new Promise((r) => setTimeout(r, 3000))
          const stale = await request(server.origin, { path: '/isr-fast' })
          assert.equal(stale.headers['x-nextjs-cache'], 'STALE', `${server.origin} after revalidate`)
          let fresh
          for (let i = 0; i < 20; i++) {
            await new Promise((r) => setTimeout(r, 250))
            fresh = await request(server.origin, { path: '/isr-fast' })
            if (time(fresh) !== time(first)) break
          }
          assert.notEqual(time(fresh), time(first), `${server.origin} regenerated /isr-fast`)
          assert.match(fresh.headers['cache-control'], /s-maxage=2\b/)
        }
      })
    }
  })
}

after(() => {
  console.log(`compared ${compared} requests; ${differences.length} differences`)
  for (const d of differences) console.log(`  ${d}`)
})
