import * as fs from 'node:fs';
import {
  isMap,
  isPair,
  isScalar,
  isSeq,
  Lexer,
  parseDocument,
  type Document,
  type Node,
  type Pair,
} from 'yaml';
import { InventoryError, type InventoryProblem } from './errors';
import { LIMITS, limitMessage } from './limits';
import { CONTROL_IN_TEXT, documentValue } from './yamlValue';

export type YamlPath = readonly (string | number)[];

/** Line starts of a text, for 1-based line and column of any offset. */
class LineIndex {
  private readonly starts = [0];

  constructor(text: string) {
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }

  linePos(offset: number): { line: number; col: number } {
    let [lo, hi] = [0, this.starts.length - 1];
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - this.starts[lo]! + 1 };
  }
}

/** The parsed inventory file plus what is needed to point at any part of it. */
export class InventorySource {
  private readonly pairIndex = new WeakMap<object, Map<string, Pair>>();

  constructor(
    readonly file: string,
    readonly data: unknown,
    private readonly doc: Document,
    private readonly lines: LineIndex,
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
      const pair = this.findPair(node, segment);
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

  /** The pair of `segment` in a map (indexed on first use: maps may hold many thousand keys). */
  private findPair(node: unknown, segment: string | number): { key: unknown; value: unknown } | undefined {
    if (isMap(node)) {
      let index = this.pairIndex.get(node);
      if (!index) {
        index = new Map();
        for (const p of node.items) {
          if (isPair(p) && isScalar(p.key) && !index.has(String(p.key.value)))
            index.set(String(p.key.value), p);
        }
        this.pairIndex.set(node, index);
      }
      return index.get(String(segment));
    }
    if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      return item === undefined ? undefined : { key: item, value: item };
    }
    return undefined;
  }
}

function rangeStart(node: unknown): number | undefined {
  return (node as Node | null | undefined)?.range?.[0];
}

/** The file's bytes, at most LIMITS.fileBytes + 1 of them (a FIFO or /dev/zero never ends). */
function readBounded(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(LIMITS.fileBytes + 1);
    let length = 0;
    for (
      let n;
      length < buffer.length && (n = fs.readSync(fd, buffer, length, buffer.length - length, null)) > 0;
    )
      length += n;
    return buffer.subarray(0, length);
  } finally {
    fs.closeSync(fd);
  }
}

/** Offset of the first byte that does not belong to a well-formed UTF-8 sequence, if any. */
function invalidUtf8At(bytes: Buffer): number | undefined {
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i]!;
    const [n, min] =
      b < 0x80
        ? [0, 0]
        : b >= 0xc2 && b < 0xe0
          ? [1, 0x80]
          : b >= 0xe0 && b < 0xf0
            ? [2, 0x800]
            : b >= 0xf0 && b < 0xf5
              ? [3, 0x10000]
              : [-1, 0];
    if (n < 0) return i;
    let cp = n === 0 ? b : b & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return undefined;
}

const describeControl = (c: string) =>
  c === '\0'
    ? 'a NUL byte'
    : `the control character U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Where maps and lists first nest deeper than LIMITS.nestingDepth, by YAML's own tokens: flow
 * brackets, and `- - - x` / `? ? x` written on one line. Checked before parsing, because the
 * parser slows down with every level and its composer recurses once per level.
 */
function tooDeepAt(text: string): number | undefined {
  let offset = 0;
  let flow = 0;
  let compact = 0;
  for (const token of new Lexer().lex(text)) {
    // Markers the lexer emits without any text behind them.
    if (token === '\x02' || token === '\x18' || token === '\x1f') continue;
    if (token === '[' || token === '{') {
      if (++flow > LIMITS.nestingDepth) return offset;
    } else if (token === ']' || token === '}') {
      flow = Math.max(0, flow - 1);
    } else if (token === '\n' || token === '\r\n') {
      compact = 0;
    } else if ((token === '-' || token === '?') && flow === 0) {
      if (++compact > LIMITS.nestingDepth) return offset;
    }
    offset += token.length;
  }
  return undefined;
}

const mib = (bytes: number) =>
  bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;

/**
 * The only I/O of inventory loading: read and parse the file. Everything wrong with it as a file
 * (size, encoding, control characters, YAML syntax, aliases, merges, duplicate keys, nesting) is
 * reported, located, before anything looks at the content; each check is linear in the file.
 */
export function readInventorySource(file: string): InventorySource {
  let bytes: Buffer;
  try {
    bytes = readBounded(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'it is a folder' : (err as Error).message;
    throw new InventoryError([
      { file, line: 0, column: 0, path: '', message: `cannot read inventory: ${reason}` },
    ]);
  }
  const at = (offset: number, message: string, lines: LineIndex, path = ''): InventoryProblem => {
    const { line, col } = lines.linePos(offset);
    return { file, line, column: col, path, message };
  };
  if (bytes.length > LIMITS.fileBytes) {
    const size = fs.statSync(file).size;
    const shown = size > LIMITS.fileBytes ? mib(size) : `more than ${mib(LIMITS.fileBytes)}`;
    throw new InventoryError([
      {
        file,
        line: 1,
        column: 1,
        path: '',
        message: limitMessage(
          'file-size',
          `the file is ${shown}; an inventory may be at most ${mib(LIMITS.fileBytes)}: keep large data out of it`,
        ),
      },
    ]);
  }
  const badByte = invalidUtf8At(bytes);
  if (badByte !== undefined) {
    const before = bytes.subarray(0, badByte).toString('utf8');
    throw new InventoryError([
      at(
        before.length,
        `the file is not UTF-8 text (byte 0x${bytes[badByte]!.toString(16).padStart(2, '0')}): save it as UTF-8`,
        new LineIndex(before),
      ),
    ]);
  }
  const text = bytes.toString('utf8');
  const lines = new LineIndex(text);
  const controls = [...text.matchAll(new RegExp(CONTROL_IN_TEXT.source, 'g'))].slice(0, 10);
  if (controls.length > 0) {
    throw new InventoryError(
      controls.map((m) =>
        at(m.index, `${describeControl(m[0])} in the file: inventories are text, remove it`, lines),
      ),
    );
  }
  const deep = tooDeepAt(text);
  if (deep !== undefined) {
    throw new InventoryError([
      at(
        deep,
        limitMessage('nesting-depth', `maps and lists nest more than ${LIMITS.nestingDepth} deep here`),
        lines,
      ),
    ]);
  }

  const doc = parseDocument(text, {
    merge: true,
    prettyErrors: false,
    // Checked in linear time by documentValue; the parser's own check compares every key with
    // every other key of its map.
    uniqueKeys: false,
    // !!binary, !!set, !!timestamp … are no inventory values: left unresolved, they are refused.
    resolveKnownTags: false,
  });
  const problems: InventoryProblem[] = [];
  for (const e of [...doc.errors, ...doc.warnings.filter((w) => w.code !== 'TAG_RESOLVE_FAILED')]) {
    const message =
      e.code === 'RESOURCE_EXHAUSTION'
        ? limitMessage('nesting-depth', `maps and lists nest too deep here (${e.message.split('\n')[0]})`)
        : `YAML syntax: ${e.message.split('\n')[0]}`;
    problems.push(at(e.pos[0], message, lines));
  }
  if (problems.length > 0) throw new InventoryError(problems);

  const offsetOf = (node: unknown) => rangeStart(node) ?? 0;
  const data = documentValue(
    doc,
    (node, message, path) => problems.push(at(offsetOf(node), message, lines, path.join('.'))),
    (node) => lines.linePos(offsetOf(node)).line,
  );
  if (problems.length > 0) throw new InventoryError(problems);
  return new InventorySource(file, data, doc, lines);
}
