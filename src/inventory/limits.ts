/**
 * The bounds that make loading any inventory — however large, deep or hostile — finish in well
 * under two seconds with a located refusal, instead of hanging or running out of memory. Each is
 * far above what a real cluster needs (the seed's 2P1D inventory is 2.5 KiB, nests 6 deep and
 * renders values of a few dozen characters); each refusal names its limit as `limit "<name>"`.
 */
export const LIMITS = {
  /**
   * "file-size": the YAML parser reads about half a megabyte per second on a small, busy
   * machine, so a quarter of a mebibyte keeps parsing any file to about half a second — still a
   * hundred times the seed's inventories (a 700-host inventory in the seed's style fits).
   */
  fileBytes: 256 * 1024,
  /** "nesting-depth": maps and lists inside one another, in the file and in rendered values. */
  nestingDepth: 32,
  /**
   * "alias-expansion": nodes that YAML aliases (`*name`, merges) add to the document; what a
   * "billion laughs" file multiplies.
   */
  aliasExpansion: 100_000,
  /** "template-size": characters of one `{{ … }}` / `{% … %}` value as written. */
  templateChars: 4096,
  /** "template-nesting": brackets and blocks (`{% if %}`, `{% for %}` …) inside one another. */
  templateNesting: 20,
  /** "range": elements `range()` may create in one inventory load, all templates together. */
  rangeElements: 100_000,
  /**
   * "template-steps": assignments templates may make in one load — each loop iteration, `{% set %}`
   * and macro argument is one; bounds loops and macro recursion, which nunjucks does not.
   */
  templateSteps: 1_000_000,
  /**
   * "value-size": characters of one rendered variable (its JSON size for lists and maps). Stops
   * variables that double each other long before they exhaust memory.
   */
  valueChars: 64 * 1024,
  /** "variable-depth": variables whose templates use variables, and so on. */
  variableDepth: 64,
  /** Problems listed in one refusal; the rest are counted ("problems-shown"). */
  problemsShown: 100,
} as const;

/** `limit "file-size": …`: how every refusal by a bound starts. */
export const limitMessage = (name: string, message: string): string => `limit "${name}": ${message}`;

/** A bound was hit while rendering a template; reported at the variable's origin. */
export class TemplateLimitError extends Error {
  constructor(
    readonly limit: string,
    detail: string,
  ) {
    super(limitMessage(limit, detail));
  }
}
