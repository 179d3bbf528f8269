import * as nunjucks from 'nunjucks';
import {
  checkTemplateSource,
  checkValue,
  guardedEnvironment,
  limitOf,
  TemplateBudget,
  withBudget,
} from './templateGuard';

/**
 * Ansible-style variable rendering on nunjucks (a Jinja2 port): values may hold `{{ … }}`
 * expressions over other variables, evaluated lazily in the context of the host that uses them,
 * like Ansible does. A value that is one whole expression keeps its native type (so
 * `"{{ global_port_base + kv_rank }}"` is the number 8001, as Ansible makes it), anything else
 * renders to a string. Everything a load renders draws on one TemplateBudget (templateGuard.ts).
 */

const NATIVE_FILTER = '__omni_native';

interface CompiledTemplate {
  template: nunjucks.Template;
  native: boolean;
  /** Free variables: names the template reads from its context. */
  names: string[];
}

// One `{{ … }}` and nothing around it.
const SINGLE_EXPRESSION = /^\s*\{\{((?:(?!\{\{|\}\}).)*)\}\}\s*$/s;

export class TemplateError extends Error {}

type NjNode = { findAll<T>(type: new (...args: never[]) => T): T[] };
type NjNodes = Record<string, new (...args: never[]) => unknown>;
const njParser = (nunjucks as unknown as { parser: { parse(src: string): NjNode } }).parser;
const njNodes = (nunjucks as unknown as { nodes: NjNodes }).nodes;

function cleanNunjucksMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = text
    .split('\n')
    .map((l) => l.replace(/^\(unknown path\)\s*/, '').trim())
    .filter(Boolean);
  return lines.join(' ').replace(/^Error: /, '');
}

const isTemplate = (s: string) => s.includes('{{') || s.includes('{%');

/** Renders the templates of one inventory load, within one budget. */
export class TemplateRenderer {
  readonly budget = new TemplateBudget();
  private readonly env = guardedEnvironment(this.budget);
  private readonly compiled = new Map<string, CompiledTemplate>();
  private nativeResult: unknown;

  constructor() {
    this.env.addFilter(NATIVE_FILTER, (value: unknown) => {
      this.nativeResult = value;
      return '';
    });
    // Ansible filters the seed's style of inventory may use that nunjucks lacks.
    this.env.addFilter('bool', (v: unknown) =>
      typeof v === 'string' ? /^(true|yes|on|1)$/i.test(v) : Boolean(v),
    );
  }

  /** Renders `source`, asking `lookup` for each free variable first (which may render it in turn). */
  renderString(source: string, lookup: (name: string) => unknown): unknown {
    if (!isTemplate(source)) return source;
    const t = this.compile(source);
    const context: Record<string, unknown> = {};
    for (const name of t.names) context[name] = lookup(name);
    let text: string;
    this.nativeResult = undefined;
    try {
      text = withBudget(this.budget, () => t.template.render(context));
    } catch (err) {
      throw this.limitOr(
        err,
        () => new TemplateError(`cannot render "${source}": ${cleanNunjucksMessage(err)}`),
      );
    }
    const result = t.native ? this.nativeResult : text;
    // A value marked `| safe` is a string to everyone else.
    const value = result instanceof nunjucks.runtime.SafeString ? String(result) : result;
    checkValue(value, 'the rendered value');
    return value;
  }

  /** Renders every string inside `value` (maps and lists included); untouched parts are shared. */
  renderDeep(value: unknown, lookup: (name: string) => unknown): unknown {
    if (typeof value === 'string') return this.renderString(value, lookup);
    if (Array.isArray(value)) {
      const items = value.map((v) => this.renderDeep(v, lookup));
      return items.every((v, i) => v === value[i]) ? value : items;
    }
    if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value);
      const rendered = entries.map(([k, v]) => [k, this.renderDeep(v, lookup)] as const);
      return rendered.every(([, v], i) => v === entries[i]![1]) ? value : Object.fromEntries(rendered);
    }
    return value;
  }

  private compile(source: string): CompiledTemplate {
    const hit = this.compiled.get(source);
    if (hit) return hit;
    let result: CompiledTemplate;
    try {
      checkTemplateSource(source);
      // Parsing the source as written first makes syntax errors point into the operator's text.
      const names = this.freeNames(source);
      const single = SINGLE_EXPRESSION.exec(source);
      const text = single ? `{{ (${single[1]}) | ${NATIVE_FILTER} }}` : source;
      result = {
        template: new nunjucks.Template(text, this.env, undefined, true),
        native: single !== null,
        names,
      };
    } catch (err) {
      throw this.limitOr(
        err,
        () => new TemplateError(`cannot parse template "${source}": ${cleanNunjucksMessage(err)}`),
      );
    }
    this.compiled.set(source, result);
    return result;
  }

  private freeNames(source: string): string[] {
    const root = njParser.parse(source);
    if (root.findAll(njNodes.Literal!).some((l) => (l as { value: unknown }).value instanceof RegExp)) {
      throw new TemplateError(
        `regular expressions (r/…/) are not supported in inventory templates: "${source}"`,
      );
    }
    if (root.findAll(njNodes.Macro!).length > 0) {
      throw new TemplateError(`macros ({% macro %}) are not supported in inventory templates: "${source}"`);
    }
    type Sym = { value: string };
    const bound = new Set<string>(['loop', 'caller']);
    for (const f of root.findAll(njNodes.For!) as { name: Sym | { children: Sym[] } }[]) {
      for (const s of 'children' in f.name ? f.name.children : [f.name]) bound.add(s.value);
    }
    for (const s of root.findAll(njNodes.Set!) as { targets: Sym[] }[])
      for (const t of s.targets) bound.add(t.value);
    for (const f of root.findAll(njNodes.Filter!) as { name: Sym }[]) bound.add(f.name.value);
    const names = (root.findAll(njNodes.Symbol!) as Sym[]).map((s) => s.value);
    const globals = (this.env as unknown as { globals: object }).globals;
    return [...new Set(names)].filter((n) => !bound.has(n) && !Object.hasOwn(globals, n));
  }

  /** The limit a failed render ran into (reported as such), or the error `otherwise` makes. */
  private limitOr(err: unknown, otherwise: () => Error): Error {
    if (err instanceof TemplateError) return err;
    const { pending } = this.budget;
    this.budget.pending = undefined;
    // Nunjucks passes on the message of what a guard or hostvars threw, not the error itself.
    if (pending && err instanceof Error && err.message.includes(pending.message)) return pending;
    return limitOf(err) ?? otherwise();
  }
}
