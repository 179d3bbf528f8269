import * as nunjucks from 'nunjucks';
import { LIMITS, TemplateLimitError } from './limits';

/**
 * Nunjucks evaluates templates with no step limit, and its templates can reach JavaScript (a
 * method call on any value, `''.constructor.constructor(...)` included). An inventory template
 * only needs arithmetic, strings, lists and filters, so this module bounds everything that could
 * grow without end or escape: `range()`, loops, `{% set %}` and macro recursion (a budget shared
 * by all templates of one load), the size of every value a template produces, filters whose
 * parameters multiply their output, member access (data and a few plain string and list methods
 * only), and the size and nesting of template sources.
 */

/** What one inventory load may still spend on templates; every template of the load draws on it. */
export class TemplateBudget {
  rangeElements: number = LIMITS.rangeElements;
  steps: number = LIMITS.templateSteps;
  /** How deep variables are being rendered inside one another right now, across all hosts. */
  variableDepth = 0;
  /**
   * The error a guard (or a hostvars lookup) threw inside a render: nunjucks wraps whatever a
   * render throws into a plain Error, so the renderer picks the original up from here.
   */
  pending: Error | undefined;

  fail(limit: string, detail: string): never {
    throw this.carry(new TemplateLimitError(limit, detail));
  }

  /** `err`, remembered so that it comes out of nunjucks as itself. */
  carry<E extends Error>(err: E): E {
    this.pending = err;
    return err;
  }
}

/** The budget of the render running now; the runtime hooks below are inert without one. */
let active: TemplateBudget | undefined;

export function withBudget<T>(budget: TemplateBudget, render: () => T): T {
  const outer = active;
  active = budget;
  try {
    return render();
  } finally {
    active = outer;
  }
}

interface Measured {
  size: number;
  depth: number;
}
const measured = new WeakMap<object, Measured>();
const TOO_BIG: Measured = { size: Infinity, depth: Infinity };

/**
 * About the size of `value` as JSON, and how deep it nests. Remembered per object, so values
 * built from shared parts (a list holding the same list twice, twenty times over) cost their
 * distinct parts only; gives up (Infinity) as soon as the limit is passed.
 */
export function measure(value: unknown): Measured {
  if (typeof value === 'string') return { size: value.length + 2, depth: 0 };
  if (value === null || typeof value !== 'object') return { size: String(value).length, depth: 0 };
  if (value instanceof nunjucks.runtime.SafeString) return { size: String(value).length + 2, depth: 0 };
  const known = measured.get(value);
  if (known) return known;
  measured.set(value, TOO_BIG); // a value that contains itself is endless
  let size = 2;
  let depth = 0;
  try {
    // Keys first and values one by one: hostvars renders a value when it is read.
    const isList = Array.isArray(value);
    for (const key of isList ? value.keys() : Object.keys(value)) {
      const m = measure((value as Record<string | number, unknown>)[key]);
      size += (isList ? 1 : String(key).length + 4) + m.size;
      depth = Math.max(depth, m.depth + 1);
      if (size > LIMITS.valueChars || depth > LIMITS.nestingDepth) return TOO_BIG;
    }
  } catch (err) {
    measured.delete(value); // reading it failed (a hostvars loop): no verdict on its size
    throw err;
  }
  const result = { size, depth };
  measured.set(value, result);
  return result;
}

export const VALUE_LIMIT_TEXT = `rendered values are limited to ${LIMITS.valueChars / 1024} KiB and ${LIMITS.nestingDepth} levels of nesting`;

/** Larger or deeper than a rendered value may be. */
export const tooBig = (value: unknown): boolean => measure(value).size === Infinity;

/** Refuses a value larger or deeper than a rendered variable may be. */
export function checkValue(value: unknown, what: string): void {
  if (tooBig(value)) throw new TemplateLimitError('value-size', `${what} is too large: ${VALUE_LIMIT_TEXT}`);
}

// --- runtime hooks ----------------------------------------------------------------------------

type Runtime = {
  Frame: { prototype: { set(this: unknown, name: string, val: unknown, resolveUp?: boolean): void } };
  memberLookup(obj: unknown, val: unknown): unknown;
  contextOrFrameLookup(context: unknown, frame: unknown, name: string): unknown;
};
const runtime = nunjucks.runtime as unknown as Runtime;

/** Members that lead from data to JavaScript's machinery (functions, prototypes). */
const BLOCKED_MEMBERS = new Set([
  'constructor',
  '__proto__',
  'prototype',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
]);
/** Methods that neither run code nor build more than their input (no repeat, padStart, join…). */
const STRING_METHODS = new Set([
  'split',
  'startsWith',
  'endsWith',
  'includes',
  'indexOf',
  'lastIndexOf',
  'toUpperCase',
  'toLowerCase',
  'trim',
  'trimStart',
  'trimEnd',
  'slice',
  'substring',
  'charAt',
  'at',
]);
const ARRAY_METHODS = new Set(['includes', 'indexOf', 'lastIndexOf', 'slice', 'at']);

let hooksInstalled = false;

/**
 * Installs the guards into nunjucks' runtime, which compiled templates call for every member
 * access, variable lookup and assignment. Process-wide, because nunjucks passes its one runtime
 * to every template; only the inventory renderer uses nunjucks here.
 */
function installRuntimeHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const frameSet = runtime.Frame.prototype.set;
  // Every loop iteration, {% set %} and macro argument passes here: the step budget, and the
  // size of what is being kept (so `{% set a = [a, a] %}` cannot double its way to exhaustion).
  runtime.Frame.prototype.set = function (name, val, resolveUp) {
    if (active) {
      if (--active.steps < 0) {
        active.fail(
          'template-steps',
          `templates may take ${LIMITS.templateSteps} steps (loop iterations, assignments, macro calls) in one inventory`,
        );
      }
      if (tooBig(val))
        active.fail('value-size', `a value assigned to "${name}" is too large: ${VALUE_LIMIT_TEXT}`);
    }
    frameSet.call(this, name, val, resolveUp);
  };

  runtime.memberLookup = (obj, val) => {
    if (obj === undefined || obj === null) return undefined;
    const key = String(val);
    if (BLOCKED_MEMBERS.has(key))
      fail('template-members', `"${key}" is not available in inventory templates`);
    const member = (obj as Record<string, unknown>)[key];
    if (typeof member !== 'function') return member;
    const methods =
      typeof obj === 'string' || obj instanceof nunjucks.runtime.SafeString
        ? STRING_METHODS
        : Array.isArray(obj)
          ? ARRAY_METHODS
          : undefined;
    if (!methods?.has(key)) {
      fail('template-members', `calling ".${key}()" is not supported in inventory templates: use a filter`);
    }
    return (...args: unknown[]) => (member as (...a: unknown[]) => unknown).apply(obj, args);
  };

  // Names every plain object inherits (`constructor`, `__defineGetter__` …) are not variables.
  const lookup = runtime.contextOrFrameLookup;
  runtime.contextOrFrameLookup = (context, frame, name) => {
    const ctx = (context as { ctx: object }).ctx;
    if (name in Object.prototype && !Object.hasOwn(ctx, name)) return undefined;
    return lookup(context, frame, name);
  };
}

function fail(limit: string, detail: string): never {
  if (active) active.fail(limit, detail);
  throw new TemplateLimitError(limit, detail);
}

// --- globals and filters ------------------------------------------------------------------------

/** Jinja's `range`, drawing its elements from the load's budget. */
function budgetedRange(budget: TemplateBudget) {
  return (start: unknown, stop?: unknown, step?: unknown): number[] => {
    if (stop === undefined) [start, stop, step] = [0, start, 1];
    step ||= 1;
    const [a, b, s] = [start, stop, step].map(Number) as [number, number, number];
    if (![a, b, s].every(Number.isFinite) || s === 0) {
      budget.fail('range', `range(${[start, stop, step].map(String).join(', ')}) is not a finite range`);
    }
    const count = Math.max(0, Math.ceil((b - a) / s));
    if (count > budget.rangeElements) {
      const left =
        budget.rangeElements === LIMITS.rangeElements ? '' : ` (${budget.rangeElements} of them are left)`;
      budget.fail(
        'range',
        `range() would create ${count} elements; templates may create ${LIMITS.rangeElements} in one inventory${left}`,
      );
    }
    budget.rangeElements -= count;
    return Array.from({ length: count }, (_, i) => a + i * s);
  };
}

const text = (v: unknown) => (v === undefined || v === null ? '' : String(v));
const occurrences = (s: string, part: string) => (part === '' ? s.length + 1 : s.split(part).length - 1);

/**
 * How large a filter's output would be, for the filters whose parameters multiply it; checked
 * before they run, since they would build it character by character.
 */
const OUTPUT_ESTIMATE: Record<string, (input: unknown, ...args: unknown[]) => number> = {
  center: (s, width) => Math.max(text(s).length, Number(width) || 80),
  indent: (s, width) => text(s).length + (Number(width) || 4) * text(s).split('\n').length,
  replace: (s, old, replacement) =>
    text(s).length +
    occurrences(text(s), text(old)) * Math.max(0, text(replacement).length - text(old).length),
  join: (list, sep) =>
    measure(list).size + (Array.isArray(list) ? list.length * text(sep === undefined ? '' : sep).length : 0),
  batch: (list, size, fill) => measure(list).size + (fill === undefined ? 0 : Number(size) || 0),
  slice: (list, slices) => measure(list).size + 4 * (Number(slices) || 0),
};

type Filter = (this: unknown, ...args: unknown[]) => unknown;

/** Filters that look at no more than the top of their input: `hostvars | length` stays cheap. */
const SHALLOW_FILTERS = new Set(['length', 'first', 'last', 'default', 'd']);

function guardFilter(budget: TemplateBudget, name: string, filter: Filter): Filter {
  const estimate = OUTPUT_ESTIMATE[name];
  return function (this: unknown, ...args: unknown[]) {
    if (!SHALLOW_FILTERS.has(name) && args.some(tooBig))
      budget.fail('value-size', `the input of the "${name}" filter is too large: ${VALUE_LIMIT_TEXT}`);
    if (estimate) {
      const size = estimate(args[0], ...args.slice(1));
      if (!(size <= LIMITS.valueChars)) {
        budget.fail(
          'value-size',
          `the "${name}" filter would produce ${size} characters: ${VALUE_LIMIT_TEXT}`,
        );
      }
    }
    const result = filter.apply(this, args);
    if (tooBig(result))
      budget.fail('value-size', `the output of the "${name}" filter is too large: ${VALUE_LIMIT_TEXT}`);
    return result;
  };
}

/** A nunjucks environment for one inventory load: no loaders (no file access), bounded globals. */
export function guardedEnvironment(budget: TemplateBudget): nunjucks.Environment {
  installRuntimeHooks();
  const env = new nunjucks.Environment([], { autoescape: false, throwOnUndefined: false });
  const filters = (env as unknown as { filters: Record<string, Filter> }).filters;
  for (const [name, filter] of Object.entries(filters)) filters[name] = guardFilter(budget, name, filter);
  env.addGlobal('range', budgetedRange(budget));
  return env;
}

// --- template sources ---------------------------------------------------------------------------

const BLOCK_TAGS = new Set(['if', 'for', 'macro', 'call', 'filter', 'raw', 'verbatim', 'block']);

/**
 * Refuses a template source too long or nested too deep for nunjucks' recursive parser, before
 * it sees it. Counted on the text: brackets inside `{{ }}`/`{% %}` and block tags.
 */
export function checkTemplateSource(source: string): void {
  if (source.length > LIMITS.templateChars) {
    fail(
      'template-size',
      `the template is ${source.length} characters long; a template may have ${LIMITS.templateChars}`,
    );
  }
  let brackets = 0;
  let deepest = 0;
  const inner = source.replace(/\{\{|\}\}|\{%|%\}|\{#|#\}/g, ' ');
  for (const c of inner) {
    if (c === '(' || c === '[' || c === '{') deepest = Math.max(deepest, ++brackets);
    else if (c === ')' || c === ']' || c === '}') brackets--;
  }
  let blocks = 0;
  for (const [, tag, rest] of source.matchAll(/\{%-?\s*(\w+)([^%]*)/g)) {
    if (tag!.startsWith('end')) blocks--;
    else if (BLOCK_TAGS.has(tag!) || (tag === 'set' && !rest!.includes('='))) {
      deepest = Math.max(deepest, ++blocks);
    }
  }
  if (deepest > LIMITS.templateNesting) {
    fail(
      'template-nesting',
      `the template nests brackets or blocks ${deepest} deep; templates may nest ${LIMITS.templateNesting} deep`,
    );
  }
}

/** Turns what a runaway render throws into the limit it ran into. */
export function limitOf(err: unknown): TemplateLimitError | undefined {
  if (err instanceof TemplateLimitError) return err;
  // Nunjucks hands on a RangeError as a plain Error carrying its message.
  const message = err instanceof Error ? err.message : '';
  if (/Maximum call stack size exceeded/.test(message)) {
    return new TemplateLimitError('template-nesting', 'the template recurses or nests too deep to evaluate');
  }
  if (/Invalid (string|array) length/.test(message)) {
    return new TemplateLimitError('value-size', `the template builds too large a value: ${VALUE_LIMIT_TEXT}`);
  }
  return undefined;
}
