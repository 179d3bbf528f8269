import { isIP } from 'node:net';
import * as z from 'zod';
import {
  executorPathViolations,
  formatPathViolation,
  hostPathViolations,
  lexicalNormalForm,
  managedFolderViolations,
  modelPathViolations,
  type PathViolation,
} from '../shared/hostPaths';
import { limitMessage } from './limits';
import { didYouMean } from './suggest';

/** Zod building blocks whose messages speak to the operator about the value they wrote. */

export const show = (v: unknown): string =>
  typeof v === 'string' ? `"${v}"` : (JSON.stringify(v) ?? String(v));

/** show() for text that may be a hostile kilobytes long. */
export const showShort = (s: string): string => show(s.length > 80 ? `${s.slice(0, 77)}…` : s);

function check<T>(base: z.ZodType<T>, ok: (v: T) => boolean, message: (v: T) => string): z.ZodType<T> {
  return base.superRefine((v, ctx) => {
    if (!ok(v)) ctx.addIssue({ code: 'custom', message: message(v) });
  });
}

export const text = (): z.ZodType<string> =>
  z.string({ error: (i) => `must be a string, got ${show(i.input)}` });

export const nonEmpty = (): z.ZodType<string> =>
  check(
    text(),
    (s) => s.trim() !== '',
    () => 'must not be empty',
  );

// YAML and `-e` may give "8000" where a number is meant; both are accepted.
const digitsToNumber = (v: unknown) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v);

export const int = (min: number, max = Number.MAX_SAFE_INTEGER, what = 'an integer'): z.ZodType<number> =>
  z.preprocess(
    digitsToNumber,
    check(
      z.number({ error: (i) => `must be ${what}, got ${show(i.input)}` }),
      (n) => Number.isInteger(n) && n >= min && n <= max,
      (n) => `must be ${what}${max === Number.MAX_SAFE_INTEGER ? ` ≥ ${min}` : ` (${min}-${max})`}, got ${n}`,
    ),
  ) as z.ZodType<number>;

export const port = (): z.ZodType<number> => int(1, 65535, 'a port number');

export const fraction = (): z.ZodType<number> =>
  z.preprocess(
    (v) => (typeof v === 'string' && /^\d*\.?\d+$/.test(v) ? Number(v) : v),
    check(
      z.number({ error: (i) => `must be a number in (0, 1], got ${show(i.input)}` }),
      (n) => n > 0 && n <= 1,
      (n) => `must be a number in (0, 1], got ${n}`,
    ),
  ) as z.ZodType<number>;

/** Each violated rule as one issue, its message naming the rule. */
function pathRules<T extends string>(violations: (s: T) => PathViolation[]) {
  return (s: T, ctx: z.RefinementCtx) => {
    for (const v of violations(s)) ctx.addIssue({ code: 'custom', message: formatPathViolation(v) });
  };
}

/** A path on the hosts: absolute, normalised, shell-safe (src/shared/hostPaths.ts). */
export const hostPath = (): z.ZodType<string> => text().superRefine(pathRules(hostPathViolations));

/** MODEL_PATH: a host path that every engine container mounts, so never secrets or system state. */
export const modelPath = (): z.ZodType<string> => text().superRefine(pathRules(modelPathViolations));

/**
 * A folder omni-deploy creates and writes its own files into on every host. Whether it overlaps
 * MODEL_PATH or another such folder is checked by the loader, which knows them all.
 */
export const managedFolder = (): z.ZodType<string> =>
  text().superRefine(pathRules((s) => managedFolderViolations(s)));

/**
 * A path on the executor: `~/` is expanded there, by the worker. Normalised here, so
 * `{{ inventory_dir }}/../keys/id` (the way to name a file beside the checkout) becomes the path
 * it means; the rest of executorPathViolations holds as written.
 */
export const executorPath = (): z.ZodType<string> =>
  text()
    .superRefine(
      pathRules((s) => {
        const normal = lexicalNormalForm(s);
        return executorPathViolations(s).filter((v) => v.rule !== 'normalised' || normal === undefined);
      }),
    )
    .transform((s) => lexicalNormalForm(s) ?? s);

/** An executor path, or nothing (''): an optional file the executor has. */
export const optionalExecutorPath = (): z.ZodType<string> => z.union([z.literal(''), executorPath()]);

/** A name that becomes part of a host name, workflow ID or container name. */
const nameOfAtMost = (max: number, why: string) => (s: string, ctx: z.RefinementCtx) => {
  if (s.length > max) {
    ctx.addIssue({
      code: 'custom',
      message: limitMessage('name-length', `"${s.slice(0, 40)}…" is ${s.length} characters long: ${why}`),
    });
  }
};

/** A DNS label's length: the longest name a host or cluster can be known by. */
export const NAME_MAX = 63;
/**
 * Container names are `<DOCKER_NAME_x>_<host>`: docker takes long names, but 128 characters is
 * plenty and fits every tool that shows them; with host names of at most NAME_MAX, a prefix of
 * up to 64 keeps every container name within it.
 */
export const CONTAINER_PREFIX_MAX = 64;
export const nameLengthMessage = `names are limited to ${NAME_MAX} characters, the length of a DNS label`;

/** Container names are `<prefix>_<host>`; docker accepts `[a-zA-Z0-9][a-zA-Z0-9_.-]*`. */
export const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
export const containerName = (max: number, why: string): z.ZodType<string> =>
  check(
    text(),
    (s) => NAME_PATTERN.test(s),
    (s) => `must be a container name (letters, digits, "_", ".", "-"), got ${showShort(s)}`,
  ).superRefine(nameOfAtMost(max, why));

export const oneOf = <T extends string>(values: readonly T[]): z.ZodType<T> =>
  check(
    text(),
    (s) => (values as readonly string[]).includes(s),
    (s) => `must be one of ${values.join(', ')}, got ${show(s)}${didYouMean(s, values)}`,
  ) as z.ZodType<T>;

/** A single argv word list: a YAML list, or a string split on whitespace (as the seed's EXTRA_ARGS). */
export const argList = (): z.ZodType<string[]> =>
  z.union([z.string().transform((s) => s.split(/\s+/).filter(Boolean)), z.array(z.string())], {
    error: (i) => `must be a string of arguments or a list of strings, got ${show(i.input)}`,
  });

export const stringList = (): z.ZodType<string[]> =>
  z.array(z.string(), { error: (i) => `must be a list of strings, got ${show(i.input)}` });

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const envMap = (): z.ZodType<Record<string, string>> =>
  z
    .record(
      z.string(),
      z.union([z.string(), z.number(), z.boolean()], {
        error: (i) => `must be a scalar, got ${show(i.input)}`,
      }),
      { error: (i) => `must be a map of environment variables, got ${show(i.input)}` },
    )
    .superRefine((m, ctx) => {
      for (const k of Object.keys(m)) {
        if (!ENV_NAME.test(k))
          ctx.addIssue({ code: 'custom', message: `"${k}" is not an environment variable name` });
      }
    })
    .transform((m) =>
      Object.fromEntries(
        Object.entries(m)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([k, v]) => [k, String(v)]),
      ),
    );

export const jsonObject = (): z.ZodType<Record<string, unknown>> =>
  z.preprocess(
    (v) => {
      if (typeof v !== 'string') return v;
      try {
        return JSON.parse(v) as unknown;
      } catch {
        return v;
      }
    },
    z.record(z.string(), z.unknown(), {
      error: (i) => `must be a map or a JSON object, got ${show(i.input)}`,
    }),
  ) as z.ZodType<Record<string, unknown>>;

/** `host:container` or `host:container:ro`, both host paths (the container's side too). */
export const mountList = (): z.ZodType<string[]> =>
  stringList().superRefine((list, ctx) => {
    for (const [i, m] of list.entries()) {
      const parts = m.split(':');
      if (!(parts.length === 2 || (parts.length === 3 && parts[2] === 'ro'))) {
        ctx.addIssue({
          code: 'custom',
          path: [i],
          message: `must be "/host/path:/container/path" (optionally ":ro"), got ${show(m)}`,
        });
        continue;
      }
      for (const [side, p] of [
        ['host', parts[0]!],
        ['container', parts[1]!],
      ] as const) {
        for (const v of hostPathViolations(p))
          ctx.addIssue({ code: 'custom', path: [i], message: `${side} side: ${formatPathViolation(v)}` });
      }
    }
  });

/** `--device` specs: `/dev/x`, `/dev/x:/dev/y` or `/dev/x:/dev/y:rwm`, paths by the host path rules. */
export const deviceSpecList = (): z.ZodType<string[]> =>
  stringList().superRefine((list, ctx) => {
    for (const [i, d] of list.entries()) {
      const parts = d.split(':');
      const paths = parts.length === 3 && /^[rwm]+$/.test(parts[2]!) ? parts.slice(0, 2) : parts;
      if (paths.length > 2) {
        ctx.addIssue({
          code: 'custom',
          path: [i],
          message: `must be "/dev/x", "/dev/x:/dev/y" or "/dev/x:/dev/y:rwm", got ${show(d)}`,
        });
        continue;
      }
      for (const p of paths) {
        for (const v of hostPathViolations(p))
          ctx.addIssue({ code: 'custom', path: [i], message: formatPathViolation(v) });
      }
    }
  });

export const duration = (): z.ZodType<string> =>
  check(
    text(),
    (s) => /^\d+(ms|s|m|h)$/.test(s),
    (s) => `must be a duration like 90s, 30m or 2h, got ${show(s)}`,
  );

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** An IP address or a DNS host name; dotted digits must be a valid IPv4 address. */
export function isAddress(s: string): boolean {
  if (isIP(s) !== 0) return true;
  if (/^[\d.]+$/.test(s)) return false;
  return HOSTNAME.test(s);
}

export const address = (): z.ZodType<string> =>
  check(
    z.preprocess((v) => (typeof v === 'number' ? String(v) : v), text()) as z.ZodType<string>,
    isAddress,
    (s) => `must be an IP address or a host name, got ${show(s)}`,
  );

/** The most NPUs an Ascend host has, numbered 0…DEVICES_MAX-1. */
export const DEVICES_MAX = 64;

/**
 * The seed's `ascend_rt_visible_devices`: strictly `x,y,z` — digits, no spaces, no empty items,
 * no repeats, at most DEVICES_MAX ids below DEVICES_MAX.
 */
export const deviceList = (): z.ZodType<number[]> =>
  z
    .preprocess(
      (v) => (typeof v === 'number' && Number.isInteger(v) ? String(v) : v),
      check(
        text(),
        (s) => /^\d+(,\d+)*$/.test(s),
        (s) => `must be device ids separated by commas without spaces, like "0,1,2,3", got ${showShort(s)}`,
      ),
    )
    .transform((s) => (s as string).split(',').map(Number))
    .superRefine((ids, ctx) => {
      if (ids.length > DEVICES_MAX) {
        ctx.addIssue({
          code: 'custom',
          message: limitMessage(
            'devices-per-host',
            `${ids.length} devices listed; an Ascend host has at most ${DEVICES_MAX}`,
          ),
        });
        return;
      }
      const beyond = ids.filter((id) => id >= DEVICES_MAX);
      if (beyond.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: limitMessage(
            'devices-per-host',
            `no Ascend host has device ${beyond[0]}: device ids run from 0 to ${DEVICES_MAX - 1}`,
          ),
        });
        return;
      }
      const repeated = new Set(ids.filter((id, i) => ids.indexOf(id) !== i));
      for (const id of repeated)
        ctx.addIssue({ code: 'custom', message: `device ${id} is listed more than once` });
    });
