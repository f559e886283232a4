'use strict'

/** Bytes for people: `429 B`, `565.3 KB`, `3.0 MB`. Shared by the build summary and inspect. */
function formatBytes(n) {
  const units = ['B', 'KB', 'MB', 'GB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`
}

module.exports = { formatBytes }
