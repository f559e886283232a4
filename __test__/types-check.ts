// Compiled by `npm run lint` (tsc --noEmit): the package's types fit Next's NextAdapter.
import type { NextAdapter } from 'next'
import adapter = require('@acme/next-adapter')

const asNext: NextAdapter = adapter
const name: 'acme' = adapter.name
const json: string = adapter.serializeContext({})

export { asNext, name, json }
