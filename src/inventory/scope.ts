import { LIMITS, TemplateLimitError } from './limits';
import { TemplateError, type TemplateRenderer } from './render';
import type { YamlPath } from './source';
import { limitOf } from './templateGuard';

/** Where a variable's winning value was written. */
export type VarOrigin = { level: 'all' | 'group' | 'host'; path: YamlPath } | { level: 'extra'; key: string };

export interface RawVar {
  value: unknown;
  origin: VarOrigin;
}

export type ReportProblem = (origin: VarOrigin, message: string, subPath?: (string | number)[]) => void;

/** Validates a variable once rendered: its typed value, or what is wrong with it. */
export type CheckVar = (
  name: string,
  value: unknown,
) =>
  | { ok: true; value: unknown }
  | { ok: false; issues: { message: string; path: (string | number)[] }[] }
  | undefined;

/** One level of variables (all.vars, a group's vars, a host's vars, `-e`). */
export interface VarLayer {
  vars: Readonly<Record<string, unknown>>;
  originOf: (key: string) => VarOrigin;
}

/**
 * The variables one host sees: its layers looked up by precedence (highest first) rather than
 * merged into a copy, so a thousand hosts sharing a large all.vars cost no more than one.
 */
export class LayeredVars {
  private allNames: string[] | undefined;

  constructor(private readonly layers: readonly VarLayer[]) {}

  get(name: string): RawVar | undefined {
    for (const { vars, originOf } of this.layers) {
      if (Object.hasOwn(vars, name)) return { value: vars[name], origin: originOf(name) };
    }
    return undefined;
  }

  has(name: string): boolean {
    return this.layers.some((l) => Object.hasOwn(l.vars, name));
  }

  names(): readonly string[] {
    this.allNames ??= [...new Set(this.layers.flatMap((l) => Object.keys(l.vars)))];
    return this.allNames;
  }
}

/**
 * What every VarScope of one load shares: the renderer (and its budget), and the values that
 * come out the same for every host — those written in all.vars or `-e` whose templates use no
 * variable set per group or host (`varying`) and nothing host-specific. Ansible renders them once
 * per host; rendering them once per load keeps many hosts × many variables linear.
 */
export class SharedRenders {
  readonly values = new Map<string, unknown>();

  constructor(
    readonly renderer: TemplateRenderer,
    /** Names set in some group's or host's vars. */
    readonly varying: ReadonlySet<string>,
  ) {}
}

/** Builtins whose value depends on the host asking. */
const HOST_BUILTINS = new Set(['inventory_hostname', 'group_names']);

class UndefinedVariable extends Error {}
class LoopDetected extends Error {}
/** A dependency already failed and was reported; its dependents stay quiet. */
class DependencyFailed extends Error {}

/**
 * The variables one host sees (all < group < host < extra), rendered on first use and
 * remembered. A failed variable is reported once, at its origin, and reads as missing.
 */
export class VarScope {
  private readonly values = new Map<string, unknown>();
  private readonly checked = new Map<string, unknown>();
  private readonly failed = new Set<string>();
  private readonly resolving = new Set<string>();
  /** Rendered names whose value may differ from another host's. */
  private readonly hostSpecific = new Set<string>();
  /** For each variable being rendered, innermost last: has it used anything host-specific? */
  private readonly rendering: { hostSpecific: boolean }[] = [];

  constructor(
    readonly vars: LayeredVars,
    private readonly builtins: Readonly<Record<string, unknown>>,
    private readonly report: ReportProblem,
    private readonly shared: SharedRenders,
    private readonly check: CheckVar = () => undefined,
  ) {}

  origin(name: string): VarOrigin | undefined {
    return this.vars.get(name)?.origin;
  }

  /**
   * The validated value (typed by the check, e.g. a device list as numbers), or undefined when
   * the variable is not set, could not be rendered or is invalid.
   */
  checkedValue(name: string): unknown {
    return this.value(name) === undefined ? undefined : this.checked.get(name);
  }

  /** value(), for a template reading another host's variable through hostvars. */
  valueForTemplate(name: string): unknown {
    try {
      return this.resolve(name);
    } catch (err) {
      // Carried through nunjucks, so that the template reading it fails the same way (and a
      // variable that failed, already reported, fails its readers quietly).
      if (err instanceof LoopDetected || err instanceof DependencyFailed)
        throw this.shared.renderer.budget.carry(err);
      throw err;
    }
  }

  /** The rendered value, or undefined when the variable is not set or could not be rendered. */
  value(name: string): unknown {
    try {
      return this.resolve(name);
    } catch (err) {
      if (err instanceof DependencyFailed) return undefined;
      throw err;
    }
  }

  private resolve(name: string): unknown {
    if (this.values.has(name)) return this.values.get(name);
    if (this.failed.has(name)) throw new DependencyFailed();
    const raw = this.vars.get(name);
    if (!raw) return undefined;
    if (this.resolving.has(name)) throw new LoopDetected(name);
    const sharable = raw.origin.level === 'all' || raw.origin.level === 'extra';
    const budget = this.shared.renderer.budget;
    const frame = { hostSpecific: !sharable };
    this.resolving.add(name);
    this.rendering.push(frame);
    budget.variableDepth++;
    try {
      if (budget.variableDepth > LIMITS.variableDepth) {
        throw new TemplateLimitError(
          'variable-depth',
          `variables may use variables that use variables … ${LIMITS.variableDepth} deep`,
        );
      }
      const value =
        sharable && this.shared.values.has(name)
          ? this.shared.values.get(name)
          : this.shared.renderer.renderDeep(raw.value, (ref) => this.lookup(ref));
      if (sharable && !frame.hostSpecific) this.shared.values.set(name, value);
      // Checked before anything uses it, so a wrong value fails here, once, rather than as odd
      // results in every template built on it.
      const verdict = this.check(name, value);
      if (verdict && !verdict.ok) {
        for (const issue of verdict.issues) this.report(raw.origin, issue.message, issue.path);
        throw new DependencyFailed();
      }
      this.values.set(name, value);
      this.checked.set(name, verdict ? verdict.value : value);
      if (frame.hostSpecific) this.hostSpecific.add(name);
      return value;
    } catch (err) {
      this.failed.add(name);
      const where = typeof raw.value === 'string' ? ` in "${raw.value}"` : '';
      const limit = limitOf(err);
      if (err instanceof UndefinedVariable) this.report(raw.origin, `'${err.message}' is undefined${where}`);
      else if (err instanceof LoopDetected)
        this.report(raw.origin, `template loop: "${name}" depends on itself`);
      else if (err instanceof TemplateError) this.report(raw.origin, err.message);
      else if (limit) this.report(raw.origin, limit.message);
      else if (!(err instanceof DependencyFailed)) throw err;
      throw new DependencyFailed();
    } finally {
      budget.variableDepth--;
      this.rendering.pop();
      this.resolving.delete(name);
    }
  }

  private lookup(ref: string): unknown {
    const frame = this.rendering.at(-1);
    if (this.vars.has(ref)) {
      const value = this.resolve(ref);
      if (frame && (this.hostSpecific.has(ref) || this.shared.varying.has(ref))) frame.hostSpecific = true;
      return value;
    }
    if (Object.hasOwn(this.builtins, ref)) {
      if (frame && HOST_BUILTINS.has(ref)) frame.hostSpecific = true;
      return this.builtins[ref];
    }
    throw new UndefinedVariable(ref);
  }
}
