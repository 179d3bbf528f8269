import * as nunjucks from 'nunjucks';

/**
 * Ansible-style variable rendering on nunjucks (a Jinja2 port): values may hold `{{ … }}`
 * expressions over other variables, evaluated lazily in the context of the host that uses them,
 * like Ansible does. A value that is one whole expression keeps its native type (so
 * `"{{ global_port_base + kv_rank }}"` is the number 8001, as Ansible makes it), anything else
 * renders to a string.
 */

const NATIVE_FILTER = '__omni_native';
let nativeResult: unknown;

const env = new nunjucks.Environment([], { autoescape: false, throwOnUndefined: false });
env.addFilter(NATIVE_FILTER, (value: unknown) => {
  nativeResult = value;
  return '';
});
// Ansible filters the seed's style of inventory may use that nunjucks lacks.
env.addFilter('bool', (v: unknown) => (typeof v === 'string' ? /^(true|yes|on|1)$/i.test(v) : Boolean(v)));

interface CompiledTemplate {
  template: nunjucks.Template;
  native: boolean;
  /** Free variables: names the template reads from its context. */
  names: string[];
}

const compiled = new Map<string, CompiledTemplate>();

// One `{{ … }}` and nothing around it.
const SINGLE_EXPRESSION = /^\s*\{\{((?:(?!\{\{|\}\}).)*)\}\}\s*$/s;

export class TemplateError extends Error {}

function compile(source: string): CompiledTemplate {
  const hit = compiled.get(source);
  if (hit) return hit;
  let result: CompiledTemplate;
  try {
    // Parsing the source as written first makes syntax errors point into the operator's text.
    const names = freeNames(source);
    const single = SINGLE_EXPRESSION.exec(source);
    const text = single ? `{{ (${single[1]}) | ${NATIVE_FILTER} }}` : source;
    result = { template: new nunjucks.Template(text, env, undefined, true), native: single !== null, names };
  } catch (err) {
    throw new TemplateError(`cannot parse template "${source}": ${cleanNunjucksMessage(err)}`);
  }
  compiled.set(source, result);
  return result;
}

type NjNode = { findAll<T>(type: new (...args: never[]) => T): T[] };
type NjNodes = Record<string, new (...args: never[]) => unknown>;

function freeNames(source: string): string[] {
  const parser = (nunjucks as unknown as { parser: { parse(src: string): NjNode } }).parser;
  const nodes = (nunjucks as unknown as { nodes: NjNodes }).nodes;
  const root = parser.parse(source);
  type Sym = { value: string };
  const bound = new Set<string>(['loop', 'caller']);
  for (const f of root.findAll(nodes.For!) as { name: Sym | { children: Sym[] } }[]) {
    for (const s of 'children' in f.name ? f.name.children : [f.name]) bound.add(s.value);
  }
  for (const s of root.findAll(nodes.Set!) as { targets: Sym[] }[])
    for (const t of s.targets) bound.add(t.value);
  for (const f of root.findAll(nodes.Filter!) as { name: Sym }[]) bound.add(f.name.value);
  const names = (root.findAll(nodes.Symbol!) as Sym[]).map((s) => s.value);
  return [...new Set(names)].filter(
    (n) => !bound.has(n) && !(n in (env as unknown as { globals: object }).globals),
  );
}

function cleanNunjucksMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = text
    .split('\n')
    .map((l) => l.replace(/^\(unknown path\)\s*/, '').trim())
    .filter(Boolean);
  return lines.join(' ').replace(/^Error: /, '');
}

const isTemplate = (s: string) => s.includes('{{') || s.includes('{%');

/** Renders `source`, asking `lookup` for each free variable first (which may render it in turn). */
export function renderString(source: string, lookup: (name: string) => unknown): unknown {
  if (!isTemplate(source)) return source;
  const t = compile(source);
  const context: Record<string, unknown> = {};
  for (const name of t.names) context[name] = lookup(name);
  let text: string;
  nativeResult = undefined;
  try {
    text = t.template.render(context);
  } catch (err) {
    throw new TemplateError(`cannot render "${source}": ${cleanNunjucksMessage(err)}`);
  }
  return t.native ? nativeResult : text;
}

/** Renders every string inside `value` (maps and lists included). */
export function renderDeep(value: unknown, lookup: (name: string) => unknown): unknown {
  if (typeof value === 'string') return renderString(value, lookup);
  if (Array.isArray(value)) return value.map((v) => renderDeep(v, lookup));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderDeep(v, lookup)]));
  }
  return value;
}
