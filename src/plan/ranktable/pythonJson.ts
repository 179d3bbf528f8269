/**
 * Serialises like Python's `json.dump(obj, f, indent=4)`, which is how omniinfer writes every
 * ranktable: four-space indent, `": "` and `","` separators, no trailing newline, non-ASCII escaped
 * as `\uXXXX` (ensure_ascii). For the values ranktables hold (strings, integers, non-empty arrays
 * and objects) JSON.stringify already agrees on everything but the escaping, which is added here.
 */
export function toPythonJson(value: unknown): string {
  return JSON.stringify(value, null, 4).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
