// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Modules that do I/O or hold process state: values from them must never enter workflow code
// (Temporal's deterministic sandbox). Patterns match the import string wherever the importing
// file sits (`**/`), so `../../remote/exec` from src/workflows/cluster/ is caught as well as
// `../remote/exec` from src/workflows/.
const SIDE_EFFECT_MODULES = [
  '**/activities',
  '**/activities/**',
  '**/remote',
  '**/remote/**',
  '**/client',
  '**/client/**',
  '**/temporal/**',
  '**/worker',
  '**/inventory',
  '**/inventory/**',
  '**/sim',
  '**/sim/**',
  '**/shared/paths',
  '**/shared/pidFile',
  '**/shared/taskQueues',
  '**/shared/temporalConnection',
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      '.tools/',
      '.state/',
      'test-artifacts/',
      'dist/',
      'sim/**/*.go',
      'test/golden/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // A promise nobody awaits loses its error (an unhandled rejection kills the worker) and, in
    // workflow code, its ordering. Needs type information.
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's suites and cases report their own failures.
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
    },
  },
  {
    // The simulated cluster has one way in, sim/index.ts; the modules behind it may move.
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    ignores: ['src/workflows/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/sim/*', '!**/sim/index'],
              message: "Import the simulated cluster from 'sim' (sim/index.ts).",
            },
          ],
        },
      ],
    },
  },
  {
    // Plain CommonJS that runs before any TypeScript is compiled or loaded: the entry point, the
    // build (bin/deploy decides between dist/ and the sources with scripts/build-stamp.js), and
    // the preloads of a test (module recorder) and a benchmark (CPU time).
    files: ['bin/deploy', 'scripts/**/*.js', 'test/helpers/*.js', 'bench/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        __filename: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The CLI loads a command's implementation only when that command runs (src/client/main.ts):
    // a synchronous require typed with `typeof import(...)`. A dynamic import() would go through
    // Node's ESM loader (tens of milliseconds on the first one) for the same CommonJS module.
    files: ['src/client/**/*.ts'],
    rules: {
      '@typescript-eslint/no-require-imports': [
        'error',
        {
          allow: [
            '^\\.\\./actions/',
            '^\\.\\./\\.\\./worker$',
            '^\\.\\./\\.\\./temporal/metricsGate$',
            '^\\.\\./planFile$',
          ],
        },
      ],
    },
  },
  {
    // A worker loads the inventory loader (yaml, nunjucks, zod) only to resolve a password, which
    // key hosts never need: src/activities/secrets.ts requires it when it does.
    files: ['src/activities/secrets.ts'],
    rules: {
      '@typescript-eslint/no-require-imports': ['error', { allow: ['^\\.\\./inventory/password$'] }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O libraries,
    // and activities only as types. The bundler would reject some of these at worker start; this
    // catches them at lint time instead (test/unit/lintGuard.test.ts proves it from any depth).
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'node:*',
                'fs',
                'fs/*',
                'path',
                'child_process',
                'net',
                'os',
                'crypto',
                'http',
                'https',
              ],
              message: 'No Node built-ins in workflow code.',
            },
            {
              group: [
                '@temporalio/client',
                '@temporalio/worker',
                '@temporalio/activity',
                'node-ssh',
                'ssh2',
                'yaml',
                'nunjucks',
              ],
              message: 'Not allowed in the workflow sandbox.',
            },
            {
              group: SIDE_EFFECT_MODULES,
              message: 'Modules with I/O or process state enter workflow code as types only.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
