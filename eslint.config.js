// Lint: neostandard (standard style with typescript-eslint), plus the few rules this codebase
// needs. `npm run lint`; `npm test` runs it before the suite.
import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'node_modules/**', 'test-output/**', 'interop/python/.venv/**'] }),
  {
    rules: {
      // Long lines hide what a reader should see; strings, URLs and regexps may run on.
      '@stylistic/max-len': ['error', { code: 160, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true }],
      // `void promise` marks a deliberate fire-and-forget (its errors are handled inside).
      'no-void': ['error', { allowAsStatement: true }],
      // Short ternaries on one line read better than the ones broken over three.
      '@stylistic/multiline-ternary': 'off'
    }
  },
  {
    files: ['**/*.ts'],
    rules: {
      // A zod schema and its inferred type share a name (`const Envelope` / `type Envelope`).
      '@typescript-eslint/no-redeclare': 'off',
      // `_name` marks what is left out on purpose (`{ card: _card, ...rest }`).
      '@typescript-eslint/no-unused-vars': ['error', { varsIgnorePattern: '^_', argsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true }]
    }
  }
]
