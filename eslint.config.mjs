// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', '.tools/', '.state/', 'test-artifacts/', 'sim/**/*.go', 'test/golden/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O libraries,
    // and activities only as types. The bundler would reject some of these at worker start; this
    // catches them at lint time instead.
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'child_process', 'net', 'os', 'crypto'],
              message: 'No Node built-ins in workflow code.',
            },
            {
              group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity', 'node-ssh', 'ssh2'],
              message: 'Not allowed in the workflow sandbox.',
            },
            {
              group: ['../activities', '../activities/*', '../remote/*'],
              message: 'Import activities as types only.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
