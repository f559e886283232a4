// Types of the hand-written adapter module (index.js). The native binding's types are
// generated into binding.d.ts by `npm run build:native`.

import type { NextAdapter } from 'next'

/** The `NextAdapter` that `adapterPath: require.resolve('@acme/next-adapter')` loads. */
export interface AcmeAdapter extends NextAdapter {
  name: 'acme'
  modifyConfig: NonNullable<NextAdapter['modifyConfig']>
  onBuildComplete: NonNullable<NextAdapter['onBuildComplete']>
}

declare const adapter: AcmeAdapter & {
  /** The same adapter, for `import adapter from '@acme/next-adapter'`. */
  default: AcmeAdapter
  /**
   * Serializes an onBuildComplete context the way it is handed to the Rust core: functions and
   * symbols are dropped, bigints become strings, RegExps their source, Sets arrays, Maps objects.
   */
  serializeContext(ctx: unknown): string
  /** Throws `ACME_UNSUPPORTED_NEXT_VERSION` for a Next.js version outside 16.2 to 16.x. */
  checkNextVersion(nextVersion: string): void
}

export = adapter
