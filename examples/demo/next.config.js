'use strict'

/** @type {import('next').NextConfig} */
module.exports = {
  adapterPath: require.resolve('@acme/next-adapter'),
}
