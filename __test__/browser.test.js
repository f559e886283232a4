'use strict'
/* global document, window -- page functions run in the browser */

// A real browser through `acme-next start`: Playwright (playwright-core, no bundled browsers)
// drives Debian's chromium headless on the `ppr` fixture. A page hydrates, <Link> navigations
// fetch RSC payloads (prefetches included) without loading a document, back/forward work, a
// server action submitted from a form updates the page, an intercepted route opens as a modal on
// a soft navigation and as the full page on reload, and no request fails along the way.
//
// The browser: $CHROMIUM_PATH, else /usr/bin/chromium (`apt-get install chromium`).

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { chromium } = require('playwright-core')
const { buildFixture } = require('./helpers/fixtures')
const { startAcme, stop } = require('./helpers/runtime-servers')

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

describe('a real browser through acme-next start', { timeout: 300_000 }, () => {
  let server
  let browser
  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `no chromium at ${CHROMIUM}: install Debian's chromium or set CHROMIUM_PATH`)
    // Built fresh: an output left by an older checkout of the fixture would test the wrong app.
    const built = buildFixture('ppr')
    assert.equal(built.status, 0, `next build of ppr failed:\n${built.stdout}\n${built.stderr}`)
    server = await startAcme('ppr')
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] })
  })
  after(async () => {
    if (browser) await browser.close()
    await stop(server)
  })

  test('hydration, soft navigation, back/forward, a server action, an intercepted route', async () => {
    const page = await browser.newPage()
    const documents = []
    const rsc = []
    const failures = []
    page.on('request', (r) => {
      if (r.resourceType() === 'document') documents.push(r.url())
      const h = r.headers()
      if (h.rsc === '1') rsc.push({ url: r.url(), prefetch: h['next-router-prefetch'] === '1', method: r.method() })
    })
    const aborted = []
    page.on('requestfailed', (r) => {
      const reason = r.failure() && r.failure().errorText
      // Chromium reports a fetch the page canceled itself as ERR_ABORTED: Next's router aborts
      // superseded navigation and action fetches (next start shows the same ones in this flow).
      // A server fault surfaces as ERR_EMPTY_RESPONSE, ERR_CONNECTION_RESET,
      // ERR_INCOMPLETE_CHUNKED_ENCODING and the like, which fail the test.
      if (reason === 'net::ERR_ABORTED') aborted.push(`${r.method()} ${r.url()}`)
      else failures.push(`request failed: ${r.method()} ${r.url()} ${reason}`)
    })
    page.on('response', (r) => {
      if (r.status() >= 400) failures.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`)
    })
    page.on('console', (m) => {
      if (m.type() === 'error') failures.push(`console error: ${m.text()} (${m.location().url})`)
    })
    page.on('pageerror', (e) => failures.push(`page error: ${e.message}`))
    const origin = server.origin
    const h1 = () => page.locator('h1').first().textContent()

    // Hydration: the client component's state changes on click (before hydration a click does nothing).
    await page.goto(`${origin}/`)
    assert.equal(await h1(), 'Home')
    const counter = page.locator('#counter')
    for (let i = 0; i < 50 && (await counter.textContent()) === 'clicked 0'; i++) {
      await counter.click()
      await page.waitForTimeout(100)
    }
    const clicks = Number(/clicked (\d+)/.exec(await counter.textContent())[1])
    assert.ok(clicks >= 1, 'the counter hydrated')
    await counter.click()
    await page.waitForFunction((n) => document.querySelector('#counter').textContent === `clicked ${n}`, clicks + 1)

    // <Link> navigation: prefetched, then fetched as RSC, no document load, window state kept.
    await page.evaluate(() => (window.__acmeNoReload = true))
    const docsBefore = documents.length
    await page.locator('#nav-about').hover()
    await page.locator('#nav-about').click()
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'About')
    assert.equal(new URL(page.url()).pathname, '/about')
    await page.locator('#nav-ppr').click()
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'PPR shell')
    await page.waitForSelector('#visitor')
    assert.match(await page.locator('#visitor').textContent(), /^visitor anonymous via no-probe$/)
    assert.ok(rsc.some((r) => r.prefetch), `prefetch requests were made: ${JSON.stringify(rsc)}`)
    assert.ok(rsc.some((r) => !r.prefetch && new URL(r.url).pathname === '/ppr'), `an RSC navigation request for /ppr: ${JSON.stringify(rsc)}`)

    // Back and forward.
    await page.goBack()
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'About')
    await page.goBack()
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'Home')
    await page.goForward()
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'About')
    assert.equal(new URL(page.url()).pathname, '/about')

    // A server action submitted from a form updates the page.
    await page.locator('#nav-action').click()
    await page.waitForSelector('#count')
    const before = Number(/submissions (\d+)/.exec(await page.locator('#count').textContent())[1])
    const [actionResponse] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && r.request().headers()['next-action'] !== undefined),
      page.locator('#submit').click(),
    ])
    assert.equal(actionResponse.status(), 200)
    await page.waitForFunction((n) => document.querySelector('#count')?.textContent === `submissions ${n}`, before + 1)

    // An intercepted route: a modal over the list on a soft navigation.
    await page.locator('#nav-photos').click()
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'Photos')
    await page.locator('#photo-1').click()
    await page.waitForSelector('#modal')
    assert.equal(await page.locator('#modal h2').textContent(), 'Photo modal 1')
    assert.equal(await h1(), 'Photos', 'the list stays under the modal')
    assert.equal(new URL(page.url()).pathname, '/photos/1')
    assert.equal(await page.evaluate(() => window.__acmeNoReload), true, 'no full reload since the first page')
    assert.equal(documents.length, docsBefore, `no document request during soft navigation: ${documents.slice(docsBefore).join(', ')}`)

    // ... and the full page on reload.
    await page.reload()
    await page.waitForSelector('#photo-page')
    assert.equal(await page.locator('#photo-page').textContent(), 'Photo page 1')
    assert.equal(await page.locator('#modal').count(), 0)
    assert.equal(documents.length, docsBefore + 1, 'the reload loaded one document')

    assert.deepEqual(failures, [], `failures in the browser:\n${failures.join('\n')}\n(canceled by the page: ${aborted.join(', ') || 'none'})`)
    await page.close()
  })
})
