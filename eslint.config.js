'use strict'

// One lint for all hand-written JavaScript. Generated files (binding.js) and build outputs are ignored.

const js = require('@eslint/js')
const globals = require('globals')

module.exports = [
  {
    ignores: [
      'node_modules/**',
      'target/**',
      'npm/**',
      'dist/**',
      'binding.js',
      '**/.next/**',
      '**/.acme/**',
      'bench/.work/**',
      '**/next-env.d.ts',
    ],
  },
  js.configs.recommended,
  {
    files: ['**/*.js'],
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: 'commonjs',
      globals: { ...globals.node },
    },
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    // Next apps (fixtures, the demo, the generated bench app) are ES modules with JSX.
    files: ['__test__/fixtures/**/*.js', 'examples/**/*.js'],
    ignores: ['**/next.config.js'],
    languageOptions: {
      sourceType: 'module',
      parserOptions: { ecmaFeatures: { jsx: true } },
      globals: { ...globals.browser, ...globals.node },
    },
    rules: {
      // JSX identifiers are not seen as uses without the react plugin.
      'no-unused-vars': 'off',
    },
  },
]
