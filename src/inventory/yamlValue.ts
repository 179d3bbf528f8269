import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  type Document,
  type Node,
  type Pair,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { LIMITS, limitMessage } from './limits';

/** Reports a problem at a node of the document, whose YAML path is `path`. */
export type NodeProblem = (node: unknown, message: string, path: readonly (string | number)[]) => void;

/** What an inventory scalar may hold: YAML's core types, nothing the 1.1 schema adds (dates, bytes). */
const PLAIN_TAGS = new Set(
  ['str', 'int', 'float', 'bool', 'null', 'map', 'seq', 'merge'].map((t) => `tag:yaml.org,2002:${t}`),
);

/**
 * Control characters no inventory text holds, written in the file or through an escape
 * (`"\0"`, `"\x01"`): C0 controls but tab, LF and CR, DEL, C1 controls.
 */
// eslint-disable-next-line no-control-regex -- control characters are what it finds
export const CONTROL_IN_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/** A node's YAML path, as links to its parent: built per node, turned into a list per problem. */
type Path = { parent: Path; key: string | number; depth: number } | undefined;
const child = (parent: Path, key: string | number): Path => ({
  parent,
  key,
  depth: (parent?.depth ?? 0) + 1,
});
function segments(path: Path): (string | number)[] {
  const out: (string | number)[] = [];
  for (let p = path; p; p = p.parent) out.unshift(p.key);
  return out;
}

interface Converted {
  js: unknown;
  /** Nodes in the value once every alias is expanded. */
  size: number;
}

interface Anchor extends Partial<Converted> {
  open: boolean;
}

const isMergeKey = (key: unknown) =>
  isScalar(key) &&
  ((typeof key.value === 'symbol' && key.value.description === '<<') ||
    (key.value === '<<' && (!key.type || key.type === 'PLAIN')));

/**
 * The document's data, converted by hand rather than by `doc.toJS()`, whose alias resolution scans
 * the whole document for every alias and whose failures (an alias bomb, a merge of a list) carry
 * no position. Here every alias costs O(1), aliases share the value they name (as in toJS), and
 * each problem is reported at its node: duplicate keys, keys that are not plain values, an alias
 * inside its own anchor, more alias expansion than LIMITS.aliasExpansion, merge sources that are
 * not maps, nesting deeper than LIMITS.nestingDepth, tags beyond YAML's core schema, and control
 * characters written as escapes.
 */
export function documentValue(
  doc: Document,
  report: NodeProblem,
  lineOf: (node: unknown) => number,
): unknown {
  const problem = (node: unknown, message: string, path: Path) => report(node, message, segments(path));
  const anchors = new Map<string, Anchor>();
  let expansion = 0;
  let exhausted = false;

  const walk = (node: unknown, path: Path): Converted => {
    if (node === null || node === undefined) return { js: null, size: 1 };
    if (exhausted) return { js: null, size: 1 };
    if (isAlias(node)) return alias(node, path);
    const n = node as Node;
    if ((path?.depth ?? 0) >= LIMITS.nestingDepth) {
      const message = `maps and lists nest more than ${LIMITS.nestingDepth} deep here`;
      problem(n, limitMessage('nesting-depth', message), path);
      exhausted = true;
      return { js: null, size: 1 };
    }
    if (n.tag && !PLAIN_TAGS.has(n.tag)) {
      const tag = n.tag.replace('tag:yaml.org,2002:', '!!');
      problem(n, `the tag ${tag} is not supported: inventories are plain YAML, remove it`, path);
      return { js: null, size: 1 };
    }
    const anchor = n.anchor ? { open: true } : undefined;
    if (anchor) anchors.set(n.anchor!, anchor);
    const converted = isMap(n)
      ? map(n, path)
      : isSeq(n)
        ? seq(n, path)
        : isScalar(n)
          ? scalar(n, path)
          : { js: null, size: 1 };
    if (anchor) Object.assign(anchor, converted, { open: false });
    return converted;
  };

  const alias = (node: Node & { source: string }, path: Path): Converted => {
    const anchor = anchors.get(node.source);
    if (!anchor) {
      problem(node, `the alias *${node.source} names no anchor (&${node.source}) written before it`, path);
      return { js: null, size: 1 };
    }
    if (anchor.open) {
      const message = `the alias *${node.source} is inside its own anchor &${node.source}: that value would never end`;
      problem(node, message, path);
      return { js: null, size: 1 };
    }
    expansion += anchor.size! - 1;
    if (expansion > LIMITS.aliasExpansion) {
      problem(
        node,
        limitMessage(
          'alias-expansion',
          `aliases expand this file by more than ${LIMITS.aliasExpansion} values (a YAML "billion laughs"?)`,
        ),
        path,
      );
      exhausted = true;
      return { js: null, size: 1 };
    }
    return { js: anchor.js, size: anchor.size! };
  };

  const scalar = (node: Node & { value: unknown }, path: Path): Converted => {
    const { value } = node;
    if (typeof value === 'string' && CONTROL_IN_TEXT.test(value)) {
      problem(node, 'the value holds a control character (from an escape such as "\\0"): remove it', path);
    } else if (typeof value === 'symbol') {
      return { js: value.description, size: 1 };
    } else if (value !== null && !['string', 'number', 'boolean'].includes(typeof value)) {
      problem(node, 'not a plain value (string, number, boolean or null): quote it', path);
      return { js: null, size: 1 };
    }
    return { js: value, size: 1 };
  };

  const keyOf = (pair: Pair, path: Path): string | undefined => {
    const key = isAlias(pair.key) ? anchors.get(pair.key.source) : undefined;
    const node = key ? undefined : pair.key;
    if (key && key.js !== null && typeof key.js === 'object') {
      problem(pair.key, 'a key must be a plain value, not a map or list', path);
      return undefined;
    }
    if (key) return String(key.js ?? '');
    if (node === null || node === undefined) return '';
    if (!isScalar(node)) {
      problem(node, 'a key must be a plain value, not a map or list', path);
      return undefined;
    }
    return String(scalar(node, path).js ?? '');
  };

  const set = (obj: Record<string, unknown>, key: string, value: unknown) => {
    if (key === '__proto__') {
      Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
    } else {
      obj[key] = value;
    }
  };

  const merge = (obj: Record<string, unknown>, value: unknown, path: Path): number => {
    const sources = isSeq(value) ? value.items : [value];
    let size = 0;
    for (const source of sources) {
      const converted = walk(source, child(path, '<<'));
      size += converted.size;
      if (!isPlainObject(converted.js)) {
        // An alias that names no finished anchor was reported by walk.
        if (!isAlias(source) || anchors.get(source.source)?.open === false) {
          const message = 'a merge (<<) takes a map, an alias of a map, or a list of those';
          problem(source ?? value, message, child(path, '<<'));
        }
        continue;
      }
      for (const [k, v] of Object.entries(converted.js as Record<string, unknown>)) {
        if (!Object.hasOwn(obj, k)) set(obj, k, v);
      }
    }
    return size;
  };

  const map = (node: YAMLMap, path: Path): Converted => {
    const obj: Record<string, unknown> = {};
    const explicit = new Map<string, unknown>();
    let size = 1;
    for (const pair of node.items) {
      if (isMergeKey(pair.key)) {
        size += merge(obj, pair.value, path);
        continue;
      }
      const key = keyOf(pair, path);
      const value = walk(pair.value, child(path, key ?? '?'));
      size += 1 + value.size;
      if (key === undefined) continue;
      const first = explicit.get(key);
      if (first !== undefined) {
        const message = `duplicate key "${key}" (first written at line ${lineOf(first)}): keep one`;
        problem(pair.key, message, child(path, key));
        continue;
      }
      explicit.set(key, pair.key);
      set(obj, key, value.js);
    }
    return { js: obj, size };
  };

  const seq = (node: YAMLSeq, path: Path): Converted => {
    const list: unknown[] = [];
    let size = 1;
    for (const [i, item] of node.items.entries()) {
      if (isPair(item)) {
        // `[a: 1]`: a one-pair map inside a flow list.
        const key = keyOf(item, child(path, i));
        const value = walk(item.value, child(child(path, i), key ?? '?'));
        size += 2 + value.size;
        if (key !== undefined) list.push({ [key]: value.js });
        continue;
      }
      const value = walk(item, child(path, i));
      size += value.size;
      list.push(value.js);
    }
    return { js: list, size };
  };

  return walk(doc.contents, undefined).js;
}

const isPlainObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
