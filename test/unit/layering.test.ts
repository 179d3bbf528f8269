import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';

/**
 * The imports follow the data flow, inventory → Plan → workflow → activities → remote, and
 * nothing runs the other way. Read from the sources themselves (every `import`/`export … from`/
 * `require`/`import()`), so a new file cannot slip past.
 */
const ROOT = path.join(__dirname, '..', '..');
const SRC = path.join(ROOT, 'src');

interface Edge {
  from: string;
  /** Resolved file for project modules, the package name for packages. */
  to: string;
  typeOnly: boolean;
}

const IMPORT =
  /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]\s*\)|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

function resolveModule(from: string, spec: string): string {
  if (!spec.startsWith('.')) return spec.startsWith('node:') ? spec.slice(5) : spec;
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts'), base]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
  }
  return base;
}

function edgesOf(file: string): Edge[] {
  const text = fs.readFileSync(file, 'utf8');
  const edges: Edge[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[3] ?? m[4] ?? m[5];
    if (!spec) continue;
    edges.push({ from: file, to: resolveModule(file, spec), typeOnly: m[2] !== undefined });
  }
  return edges;
}

const FILES = [...sourceFiles(SRC), ...sourceFiles(path.join(ROOT, 'sim'))];
const EDGES = new Map(FILES.map((f) => [f, edgesOf(f)]));
const rel = (p: string) => (path.isAbsolute(p) ? path.relative(ROOT, p) : p);
const inDir = (p: string, dir: string) => path.isAbsolute(p) && rel(p).startsWith(`${dir}/`);

/** Every module reached from `start` by value imports (type-only imports erase at run time). */
function valueClosure(start: string): Map<string, string> {
  const seen = new Map<string, string>([[start, '(start)']]);
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const e of EDGES.get(file) ?? []) {
      if (e.typeOnly || seen.has(e.to)) continue;
      seen.set(e.to, rel(file));
      if (path.isAbsolute(e.to) && EDGES.has(e.to)) queue.push(e.to);
    }
  }
  return seen;
}

const NODE_BUILTINS = new Set(builtinModules.map((m) => m.replace(/^node:/, '')));

describe('layering: imports follow inventory → Plan → workflow → activities → remote', () => {
  it('reads the project’s imports', () => {
    assert.ok(FILES.length > 50 && [...EDGES.values()].flat().length > 200);
  });

  it('src/inventory imports nothing from src/plan (not even types)', () => {
    const bad = [...EDGES.values()]
      .flat()
      .filter((e) => inDir(e.from, 'src/inventory') && inDir(e.to, 'src/plan'))
      .map((e) => `${rel(e.from)} → ${rel(e.to)}`);
    assert.deepEqual(bad, []);
  });

  it('src/plan does no file I/O: no fs, yaml or template engine at any depth', () => {
    const bad: string[] = [];
    for (const file of FILES.filter((f) => inDir(f, 'src/plan'))) {
      for (const [mod, via] of valueClosure(file)) {
        if (['fs', 'fs/promises', 'yaml', 'nunjucks', 'child_process'].includes(mod)) {
          bad.push(`${rel(file)} reaches ${mod} (via ${via})`);
        }
      }
    }
    assert.deepEqual(bad, []);
  });

  it('src/remote does not import src/plan, src/workflows or src/activities', () => {
    const bad = [...EDGES.values()]
      .flat()
      .filter(
        (e) =>
          inDir(e.from, 'src/remote') &&
          ['src/plan', 'src/workflows', 'src/activities'].some((d) => inDir(e.to, d)),
      )
      .map((e) => `${rel(e.from)} → ${rel(e.to)}`);
    assert.deepEqual(bad, []);
  });

  it('workflow code reaches nothing non-deterministic at any depth', () => {
    const allowedPackages = new Set(['@temporalio/workflow', '@temporalio/common']);
    const allowedDirs = ['src/workflows', 'src/plan', 'src/shared'];
    // The workflow rebuilds the Plan from a compact one (src/plan/compact.ts), so buildPlan's one
    // inventory helper comes along: the port formulas, pure (it imports types only).
    const allowedFiles = [path.join(SRC, 'inventory', 'ports.ts')];
    const bad: string[] = [];
    for (const [mod, via] of valueClosure(path.join(SRC, 'workflows', 'index.ts'))) {
      if (mod === path.join(SRC, 'workflows', 'index.ts')) continue;
      const ok = path.isAbsolute(mod)
        ? allowedDirs.some((d) => inDir(mod, d)) || allowedFiles.includes(mod)
        : allowedPackages.has(mod);
      if (!ok || NODE_BUILTINS.has(mod)) bad.push(`${rel(mod)} (imported by ${via})`);
    }
    // Inside src/shared, only the pure modules: paths, pid files, task queues and connections do I/O.
    for (const mod of valueClosure(path.join(SRC, 'workflows', 'index.ts')).keys()) {
      if (inDir(mod, 'src/shared') && /(paths|pidFile|taskQueues|temporalConnection)\.ts$/.test(mod)) {
        bad.push(`${rel(mod)} does I/O`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it('client code takes the Temporal client SDK from src/temporal/clientSdk.ts; the worker never does', () => {
    // The build replaces that module with one bundle of the SDK (scripts/build.js): a client
    // module importing the packages directly would load a second copy, with its own error classes.
    const sdk = path.join(SRC, 'temporal', 'clientSdk.ts');
    const direct = [...EDGES.values()]
      .flat()
      .filter(
        (e) =>
          (inDir(e.from, 'src/client') || inDir(e.from, 'src/temporal')) &&
          e.from !== sdk &&
          !e.typeOnly &&
          ['@temporalio/client', '@temporalio/common', '@temporalio/proto'].includes(e.to),
      )
      .map((e) => `${rel(e.from)} → ${e.to}`);
    assert.deepEqual(direct, []);
    const workerReaches = valueClosure(path.join(SRC, 'worker.ts'));
    assert.ok(!workerReaches.has(sdk), `the worker reaches the client bundle via ${workerReaches.get(sdk)}`);
    assert.ok(valueClosure(path.join(SRC, 'client', 'actions', 'status.ts')).has(sdk));
  });

  it('no module imports private SDK paths (@temporalio/*/lib/…)', () => {
    const bad = [...EDGES.values()]
      .flat()
      .filter((e) => /^@temporalio\/[^/]+\/lib\//.test(e.to))
      .map((e) => `${rel(e.from)} → ${e.to}`);
    assert.deepEqual(bad, []);
  });
});
