'use strict'

// Which prebuilt binary this machine needs, and a clear error when it is missing.
// napi's generated loader (binding.js) does the loading; this only names what was expected.

const { name: PACKAGE_NAME, napi } = require('./package.json')

/** napi-rs platform suffix (`linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`, …) of a machine. */
function platformSuffix({ platform = process.platform, arch = process.arch, musl = isMusl() } = {}) {
  if (platform === 'linux') return `linux-${arch}-${musl ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function isMusl() {
  if (process.platform !== 'linux') return false
  const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null
  return !(report && report.header && report.header.glibcVersionRuntime)
}

const TRIPLE_SUFFIX = {
  'x86_64-unknown-linux-gnu': 'linux-x64-gnu',
  'aarch64-unknown-linux-gnu': 'linux-arm64-gnu',
  'x86_64-unknown-linux-musl': 'linux-x64-musl',
  'aarch64-unknown-linux-musl': 'linux-arm64-musl',
  'x86_64-apple-darwin': 'darwin-x64',
  'aarch64-apple-darwin': 'darwin-arm64',
  'x86_64-pc-windows-msvc': 'win32-x64-msvc',
  'aarch64-pc-windows-msvc': 'win32-arm64-msvc',
}

/** Platform suffixes this package publishes binaries for (from package.json `napi.targets`). */
function supportedSuffixes() {
  return napi.targets.map((t) => TRIPLE_SUFFIX[t] || t)
}

/** The error to throw when the native binding cannot be loaded on this machine. */
function missingBinaryError(cause, machine) {
  const suffix = platformSuffix(machine)
  const pkg = `${PACKAGE_NAME}-${suffix}`
  const supported = supportedSuffixes()
  const lines = supported.includes(suffix)
    ? [
        `@acme/next-adapter: the native binary for ${suffix} is not installed.`,
        `It ships in ${pkg}, an optional dependency: reinstall without --omit=optional / --no-optional,`,
        `or run \`npm install ${pkg}\`. From a source checkout, \`npm run build:native\` builds it.`,
      ]
    : [
        `@acme/next-adapter: no prebuilt binary for ${suffix}.`,
        `Prebuilt binaries exist for: ${supported.join(', ')}.`,
        'Build it from source with a Rust toolchain: `npm run build:native` in a checkout of the package.',
      ]
  const err = new Error(lines.join('\n'))
  err.code = 'ACME_NATIVE_BINARY_MISSING'
  err.cause = cause
  return err
}

module.exports = { platformSuffix, supportedSuffixes, missingBinaryError }
