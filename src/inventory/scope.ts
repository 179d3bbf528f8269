import { renderDeep, TemplateError } from './render';
import type { YamlPath } from './source';

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

class UndefinedVariable extends Error {}
class LoopDetected extends Error {}
/** A dependency already failed and was reported; its dependents stay quiet. */
class DependencyFailed extends Error {}

/**
 * The variables one host sees (all < group < host < extra, already merged), rendered on first use
 * and remembered. A failed variable is reported once, at its origin, and reads as missing.
 */
export class VarScope {
  private readonly values = new Map<string, unknown>();
  private readonly checked = new Map<string, unknown>();
  private readonly failed = new Set<string>();
  private readonly resolving = new Set<string>();

  constructor(
    readonly vars: ReadonlyMap<string, RawVar>,
    private readonly builtins: Readonly<Record<string, unknown>>,
    private readonly report: ReportProblem,
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
    this.resolving.add(name);
    try {
      const value = renderDeep(raw.value, (ref) => this.lookup(ref));
      // Checked before anything uses it, so a wrong value fails here, once, rather than as odd
      // results in every template built on it.
      const verdict = this.check(name, value);
      if (verdict && !verdict.ok) {
        for (const issue of verdict.issues) this.report(raw.origin, issue.message, issue.path);
        throw new DependencyFailed();
      }
      this.values.set(name, value);
      this.checked.set(name, verdict ? verdict.value : value);
      return value;
    } catch (err) {
      this.failed.add(name);
      const where = typeof raw.value === 'string' ? ` in "${raw.value}"` : '';
      if (err instanceof UndefinedVariable) this.report(raw.origin, `'${err.message}' is undefined${where}`);
      else if (err instanceof LoopDetected)
        this.report(raw.origin, `template loop: "${name}" depends on itself`);
      else if (err instanceof TemplateError) this.report(raw.origin, err.message);
      else if (!(err instanceof DependencyFailed)) throw err;
      throw new DependencyFailed();
    } finally {
      this.resolving.delete(name);
    }
  }

  private lookup(ref: string): unknown {
    if (this.vars.has(ref)) return this.resolve(ref);
    if (ref in this.builtins) return this.builtins[ref];
    throw new UndefinedVariable(ref);
  }
}
