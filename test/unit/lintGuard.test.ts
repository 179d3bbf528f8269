import { before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { ESLint } from 'eslint';

const ROOT = path.join(__dirname, '..', '..');

/**
 * The lint guard of the workflow sandbox holds at any depth of src/workflows: its import patterns
 * once were relative to src/workflows/, so `../../remote/exec` from src/workflows/cluster/ passed.
 * Probe sources are linted as if they lived where workflow code lives, with the project's own
 * config (type-checked), without writing them.
 */
const PROBES: Record<string, string> = {
  'src/workflows/cluster/lintProbeRemote.ts': "export { exec } from '../../remote/exec';\n",
  'src/workflows/cluster/lintProbeActivity.ts':
    "import { cleanupHost } from '../../activities/cleanup';\nexport const f = cleanupHost;\n",
  'src/workflows/lintProbeRemote.ts': "import { Remote } from '../remote';\nexport const r = Remote;\n",
  'src/workflows/cluster/lintProbeNode.ts': "import * as fs from 'node:fs';\nexport const f = fs;\n",
  'src/workflows/cluster/lintProbeSim.ts': "import { simUp } from '../../../sim';\nexport const s = simUp;\n",
  'src/workflows/cluster/lintProbeInventory.ts':
    "import { loadInventory } from '../../inventory/load';\nexport const l = loadInventory;\n",
  'src/workflows/cluster/lintProbeTypes.ts':
    "import type { Remote } from '../../remote';\nimport type * as activities from '../../activities';\nexport type T = [Remote, typeof activities];\n",
  'src/workflows/cluster/lintProbeFloating.ts':
    'async function later(): Promise<void> {}\nexport function f(): void {\n  later();\n}\n',
};

describe('lint guard of workflow code', () => {
  const results = new Map<string, ESLint.LintResult>();

  before(async () => {
    // Linted as text at those paths, never written: a probe file in src/ would make dist/ stale
    // (and rebuilt by whatever test runs next to this one) and could be bundled.
    // Files that do not exist are in no tsconfig program: the project service types them in its
    // default project (everything else of the config is the project's own).
    const eslint = new ESLint({
      cwd: ROOT,
      overrideConfig: {
        files: ['src/workflows/**/lintProbe*.ts'],
        languageOptions: {
          parserOptions: {
            projectService: {
              allowDefaultProject: ['src/workflows/lintProbe*.ts', 'src/workflows/cluster/lintProbe*.ts'],
            },
          },
        },
      },
    });
    for (const [f, source] of Object.entries(PROBES)) {
      for (const r of await eslint.lintText(source, { filePath: path.join(ROOT, f) })) {
        results.set(path.relative(ROOT, r.filePath), r);
      }
    }
  });

  const rules = (file: string, rule: string) =>
    (results.get(file)?.messages ?? []).filter((m) => m.ruleId === rule).map((m) => m.message);

  for (const file of Object.keys(PROBES).filter((f) => !/Types|Floating/.test(f))) {
    it(`refuses ${PROBES[file]!.split('\n')[0]} in ${file}`, () => {
      const found = rules(file, 'no-restricted-imports');
      assert.equal(found.length, 1, `expected one no-restricted-imports error, got ${JSON.stringify(found)}`);
    });
  }

  it('allows the same modules as types only', () => {
    assert.ok(results.has('src/workflows/cluster/lintProbeTypes.ts'));
    assert.deepEqual(rules('src/workflows/cluster/lintProbeTypes.ts', 'no-restricted-imports'), []);
  });

  it('reports a floating promise', () => {
    assert.equal(
      rules('src/workflows/cluster/lintProbeFloating.ts', '@typescript-eslint/no-floating-promises').length,
      1,
    );
  });
});
