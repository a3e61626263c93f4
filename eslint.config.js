import js from '@eslint/js';
import ts from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import svelteConfig from './svelte.config.js';

export default ts.config(
  { ignores: ['dist/', 'node_modules/', 'public/', 'test-results/', 'playwright-report/', '.bench/'] },
  js.configs.recommended,
  ...ts.configs.recommended,
  ...svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: ts.parser, extraFileExtensions: ['.svelte'], svelteConfig } },
  },
  {
    // The core is a library: it runs unchanged in Node, workers and tests, so it may
    // not reach into the UI, Svelte or the worker wiring.
    files: ['src/lib/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['svelte', 'svelte/*'], message: 'src/lib is pure TypeScript: no Svelte.' },
            { group: ['comlink'], message: 'src/lib knows nothing of workers: wire comlink in workers/ or src/worker-client/.' },
            { group: ['**/ui/**', '$ui/*', '**/worker-client/**'], message: 'src/lib may not import the UI or worker clients.' },
          ],
        },
      ],
    },
  },
);
