// ESLint (flat config, typescript-eslint with type information): `npm run lint`, run by
// scripts/test.sh before the unit tests, zero warnings allowed.
//
// What it keeps: no floating or misused promises (every promise is awaited, returned or explicitly
// `void`ed with its errors handled), exhaustive switches over unions, and the import boundaries of
// STYLE.md (apps → libs only; libs one way; no lib imports an app, test/ or bench/).
//
// The boundaries are a small local rule (scripts/lint/import-boundaries.js; it says why).
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importBoundaries } from './scripts/lint/import-boundaries.js';

const ROOT = dirname(fileURLToPath(import.meta.url));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', '.tmp/**', 'coverage/**', 'deploy/**'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: ROOT },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { solgate: { rules: { 'import-boundaries': importBoundaries } } },
    rules: {
      'solgate/import-boundaries': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // a switch over a union names every member, even with a default: a new member is a decision
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: false, requireDefaultForNonUnion: false }],
      // `_name`: unused on purpose (an interface's parameter, a destructured rest)
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    // Test tooling reads JSON bodies and rendered manifests freely.
    files: ['test/**/*.ts', 'bench/**/*.ts', 'libs/testing/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
