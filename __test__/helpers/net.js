'use strict'

const net = require('node:net')

/** A free TCP port on 127.0.0.1 (servers in tests bind to loopback only). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

module.exports = { freePort }
