import * as fs from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { InventoryError, type InventoryProblem } from './errors';

export type YamlPath = readonly (string | number)[];

/** The parsed inventory file plus what is needed to point at any part of it. */
export class InventorySource {
  constructor(
    readonly file: string,
    readonly data: unknown,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /**
   * Problem at `path`. `at: 'key'` points at the key (for names that are wrong); otherwise at the
   * value, falling back to the key and then to the nearest ancestor that exists (for missing fields).
   */
  problem(path: YamlPath, message: string, at: 'key' | 'value' = 'value'): InventoryProblem {
    const offset = this.offsetOf(path, at);
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, column: col, path: path.join('.'), message };
  }

  private offsetOf(path: YamlPath, at: 'key' | 'value'): number {
    let node: unknown = this.doc.contents;
    let offset = rangeStart(node) ?? 0;
    for (const [i, segment] of path.entries()) {
      const pair = findPair(node, segment);
      if (!pair) return offset;
      const last = i === path.length - 1;
      const keyOffset = rangeStart(pair.key);
      const valueOffset = rangeStart(pair.value);
      if (last) return (at === 'key' ? keyOffset : (valueOffset ?? keyOffset)) ?? offset;
      offset = keyOffset ?? offset;
      node = pair.value;
    }
    return offset;
  }
}

interface PairLike {
  key: unknown;
  value: unknown;
}

function findPair(node: unknown, segment: string | number): PairLike | undefined {
  if (isMap(node)) {
    return node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment));
  }
  if (isSeq(node) && typeof segment === 'number') {
    const item = node.items[segment];
    return item === undefined ? undefined : { key: item, value: item };
  }
  return undefined;
}

function rangeStart(node: unknown): number | undefined {
  return (node as Node | null | undefined)?.range?.[0];
}

/**
 * The only I/O of inventory loading: read and parse the file. YAML syntax errors are reported
 * all together, located, before anything looks at the content.
 */
export function readInventorySource(file: string): InventorySource {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new InventoryError([
      { file, line: 0, column: 0, path: '', message: `cannot read inventory: ${reason}` },
    ]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, merge: true, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new InventoryError(
      doc.errors.map((e) => {
        const { line, col } = lines.linePos(e.pos[0]);
        return { file, line, column: col, path: '', message: `YAML syntax: ${e.message.split('\n')[0]}` };
      }),
    );
  }
  return new InventorySource(file, doc.toJS({ maxAliasCount: 1000 }), doc, lines);
}
