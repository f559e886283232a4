'use strict'

// A full disk while writing .acme/output: the build fails naming the cause and the path, the
// previous output stays as it was, and no staging directory is left behind. The disk is a 1 MiB
// tmpfs mounted in a private mount namespace (`unshare -m`), so nothing outside the test sees it.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { ensureBuilt, fixtureDir } = require('./helpers/fixtures')

test('ENOSPC fails the write with ACME_IO, keeps the previous output, leaves no staging', () => {
  ensureBuilt('app-router')
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'acme-full-disk-'))
  try {
    // A context whose files really exist: capture one from a build of the fixture.
    const capture = path.join(work, 'context.json')
    const build = spawnSync(process.execPath, [path.join(__dirname, '..', 'node_modules', 'next', 'dist', 'bin', 'next'), 'build'], {
      cwd: fixtureDir('app-router'),
      encoding: 'utf8',
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ACME_CAPTURE_CONTEXT: capture, ACME_QUIET: '1' },
    })
    assert.equal(build.status, 0, build.stderr)

    const disk = path.join(work, 'disk')
    fs.mkdirSync(disk)
    const script = path.join(work, 'write.js')
    fs.writeFileSync(
      script,
      `
      const fs = require('fs'), path = require('path')
      const binding = require(${JSON.stringify(path.join(__dirname, '..', 'binding.js'))})
      const disk = ${JSON.stringify(disk)}
      const out = path.join(disk, 'output')
      // The previous deployment: small enough to fit.
      fs.mkdirSync(out)
      fs.writeFileSync(path.join(out, 'manifest.json'), '{"previous":true}')
      binding
        .writeOutput(fs.readFileSync(${JSON.stringify(capture)}, 'utf8'), { outputDir: out, adapterVersion: 'test' })
        .then(
          () => console.log(JSON.stringify({ ok: true })),
          (err) => console.log(JSON.stringify({
            message: err.message,
            entries: fs.readdirSync(disk),
            previous: fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'),
          })),
        )
      `,
    )
    const res = spawnSync('unshare', ['-m', 'bash', '-c', `mount -t tmpfs -o size=1m tmpfs "${disk}" && node "${script}"`], {
      encoding: 'utf8',
    })
    assert.equal(res.status, 0, `unshare/mount failed (this test needs root): ${res.stderr}`)
    const result = JSON.parse(res.stdout.trim().split('\n').pop())
    assert.ok(!result.ok, 'a 3 MB output cannot fit on a 1 MiB disk')
    assert.match(result.message, /^\[ACME_IO\] /)
    assert.match(result.message, /No space left on device/)
    assert.ok(result.message.includes(disk), `the message names the path: ${result.message}`)
    assert.equal(result.previous, '{"previous":true}', 'the previous output is untouched')
    assert.deepEqual(result.entries, ['output'], 'no staging directory left behind')
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
})
