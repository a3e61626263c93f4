import js from '@eslint/js';
import ts from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import svelteConfig from './svelte.config.js';
import { UI_LIB_VALUE_IMPORTS } from './scripts/ui-lib-imports.mjs';

export default ts.config(
  { ignores: ['dist/', 'node_modules/', 'public/', 'test-results/', 'playwright-report/', '.bench/', '.train-cache/'] },
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
  {
    // tfjs runs in workers only: the main thread's bundle must not reach it. The UI may
    // import values from src/lib's spec modules and the pure modules listed in
    // scripts/ui-lib-imports.mjs (each checked tfjs-free by tests/unit/ui-lib-imports.test.ts);
    // types it may import from anywhere.
    files: ['src/ui/**/*.ts', 'src/ui/**/*.svelte'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@tensorflow/*'], message: 'tfjs runs in workers only: call the worker from src/worker-client/ instead.' },
            {
              // A regex, not a group: gitignore-style negation cannot re-include a file under an excluded folder.
              regex: `^(?:(?:\\.\\./)+|\\$)lib/(?!(?:${UI_LIB_VALUE_IMPORTS.join('|')})(?:\\.ts)?$)`,
              allowTypeImports: true,
              message:
                'This src/lib module may pull in tfjs: import its types only, and put the constant or rule the UI needs in the area\'s spec module (src/lib/<area>/spec.ts), or add a tfjs-free module to scripts/ui-lib-imports.mjs.',
            },
          ],
        },
      ],
    },
  },
);
