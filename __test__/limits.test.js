'use strict'

// The limits' command line and environment, and the request-target rules of runtime/limits.js
// (the behaviour behind them is proven against real servers in hostile/faulty/shutdown tests).

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { parseArgs } = require('../runtime/cli')
const { resolveLimits, limitsFromEnv, cleanTargetRedirect, DEFAULT_LIMITS } = require('../runtime/limits')

test('limit flags and environment variables reach the limits; flags win', () => {
  const saved = process.env.ACME_FUNCTION_TIMEOUT_MS
  process.env.ACME_FUNCTION_TIMEOUT_MS = '1234'
  try {
    const args = parseArgs(['start', '--max-body-bytes', '100', '--drain-timeout=50', '--headers-timeout', '2000'])
    assert.deepEqual(resolveLimits(args.limits), { ...DEFAULT_LIMITS, maxBodyBytes: 100, drainTimeoutMs: 50, headersTimeoutMs: 2000, functionTimeoutMs: 1234 })
    assert.equal(resolveLimits(parseArgs(['start', '--function-timeout', '0']).limits).functionTimeoutMs, 0)
  } finally {
    if (saved === undefined) delete process.env.ACME_FUNCTION_TIMEOUT_MS
    else process.env.ACME_FUNCTION_TIMEOUT_MS = saved
  }
  assert.deepEqual(limitsFromEnv({ ACME_MAX_BODY_BYTES: '5', ACME_DRAIN_TIMEOUT_MS: '' }), { maxBodyBytes: '5' })
})

test('an invalid limit is refused with the flag and variable named', () => {
  assert.throws(() => resolveLimits({ functionTimeoutMs: 'soon' }), /--function-timeout \(ACME_FUNCTION_TIMEOUT_MS\) must be a non-negative integer, got "soon"/)
  assert.throws(() => resolveLimits({ maxBodyBytes: -1 }), /--max-body-bytes/)
  assert.throws(() => resolveLimits({ maxHeaderBytes: 10 }), /at least 1024/)
  const res = spawnSync(process.execPath, [path.join(__dirname, '..', 'runtime', 'cli.js'), 'start', '--dir', '/nonexistent', '--drain-timeout', '1.5'], { encoding: 'utf8' })
  assert.equal(res.status, 1)
  assert.match(res.stderr, /--drain-timeout \(ACME_DRAIN_TIMEOUT_MS\) must be a non-negative integer, got "1\.5"/)
})

test('request targets with backslashes or repeated slashes redirect like next start, always to a local path', () => {
  const cases = {
    '//evil.example/ok?x=1': '/evil.example/ok?x=1',
    '/..\\secret.txt': '/secret.txt',
    '/\\evil.example': '/evil.example',
    '/\\\\evil.example': '/evil.example',
    '/a//b/': '/a/b/',
    '///': '/',
    '/ok': null,
    '/a?b=//c': null,
    'http://x//y': null,
    '*': null,
  }
  for (const [url, want] of Object.entries(cases)) {
    const got = cleanTargetRedirect(url)
    assert.equal(got, want, url)
    if (got) assert.ok(!got.startsWith('//') && !got.startsWith('/\\'), got)
  }
})
