import * as z from 'zod';
import type { Group } from './types';
import type { InventoryProblem } from './errors';
import { limitMessage } from './limits';
import { NAME_MAX, NAME_PATTERN, nameLengthMessage, show, showShort } from './schemas';
import type { InventorySource, YamlPath } from './source';
import { didYouMean } from './suggest';

export type VarMap = Record<string, unknown>;

export interface HostEntry {
  name: string;
  group: Group;
  vars: VarMap;
  path: YamlPath;
}

/** The inventory's shape: which vars live where, before anything is rendered. */
export interface InventoryShape {
  allVars: VarMap;
  groupVars: Record<Group, VarMap>;
  hosts: HostEntry[];
}

export const GROUPS: readonly Group[] = ['P', 'D', 'C'];
const GROUP_MEANING: Record<Group, string> = { P: 'prefill', D: 'decode', C: 'proxy' };

const vars = z.record(z.string(), z.unknown(), {
  error: (i) => `must be a map of variables, got ${show(i.input)}`,
});
const hostVars = z.union([vars, z.null()], {
  error: (i) => `must be a map of host variables, got ${show(i.input)}`,
});

const groupSchema = z.strictObject(
  {
    hosts: z.record(z.string(), hostVars, { error: (i) => `must be a map of hosts, got ${show(i.input)}` }),
    vars: vars.nullish(),
  },
  { error: (i) => `must be a group (a map with "hosts"), got ${show(i.input)}` },
);

const documentSchema = z.strictObject(
  {
    all: z.strictObject(
      {
        vars: vars.nullish(),
        children: z.record(z.string(), groupSchema, {
          error: (i) => `must map the groups P, D and C, got ${show(i.input)}`,
        }),
      },
      { error: (i) => `must be a map with "vars" and "children", got ${show(i.input)}` },
    ),
  },
  { error: (i) => `an inventory is a map with "all" at the top, got ${show(i.input)}` },
);

const KNOWN_KEYS_AT: Record<string, readonly string[]> = { '': ['all'], all: ['vars', 'children'] };

function isMissing(data: unknown, path: readonly (string | number)[]): boolean {
  let node = data;
  for (const segment of path) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, segment)) return true;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node === undefined;
}

export function readShape(src: InventorySource): { shape?: InventoryShape; problems: InventoryProblem[] } {
  const problems: InventoryProblem[] = [];
  const parsed = documentSchema.safeParse(src.data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path as (string | number)[];
      if (issue.code === 'unrecognized_keys') {
        const known = KNOWN_KEYS_AT[path.join('.')] ?? ['hosts', 'vars'];
        for (const key of issue.keys) {
          problems.push(src.problem([...path, key], `unknown key "${key}"${didYouMean(key, known)}`, 'key'));
        }
      } else if (issue.code === 'invalid_type' && isMissing(src.data, path)) {
        problems.push(src.problem(path, `"${String(path.at(-1))}" is missing`));
      } else {
        problems.push(src.problem(path, issue.message));
      }
    }
    return { problems };
  }

  const { all } = parsed.data;
  const groupVars = { P: {}, D: {}, C: {} } as Record<Group, VarMap>;
  const hosts: HostEntry[] = [];
  const seen = new Map<string, Group>();
  for (const [groupName, group] of Object.entries(all.children)) {
    const groupPath = ['all', 'children', groupName];
    if (!(GROUPS as readonly string[]).includes(groupName)) {
      problems.push(
        src.problem(
          groupPath,
          `unknown group "${groupName}"${didYouMean(groupName, GROUPS)} (groups are P for prefill, D for decode, C for the proxy)`,
          'key',
        ),
      );
      continue;
    }
    const g = groupName as Group;
    groupVars[g] = group.vars ?? {};
    for (const [name, v] of Object.entries(group.hosts)) {
      const path = [...groupPath, 'hosts', name];
      const other = seen.get(name);
      if (other) {
        problems.push(
          src.problem(path, `host ${name} is already in group ${other}; a host has one role`, 'key'),
        );
        continue;
      }
      if (!NAME_PATTERN.test(name)) {
        problems.push(
          src.problem(
            path,
            `host name ${showShort(name)} becomes part of a container name: use letters, digits, "_", "." and "-"`,
            'key',
          ),
        );
        continue;
      }
      if (name.length > NAME_MAX) {
        problems.push(
          src.problem(
            path,
            limitMessage(
              'name-length',
              `host name "${name.slice(0, 40)}…" is ${name.length} characters long: ${nameLengthMessage}`,
            ),
            'key',
          ),
        );
        continue;
      }
      seen.set(name, g);
      hosts.push({ name, group: g, vars: v ?? {}, path });
    }
  }
  for (const g of GROUPS) {
    const count = hosts.filter((h) => h.group === g).length;
    if (count === 0) {
      problems.push(
        src.problem(['all', 'children', g], `group ${g} (${GROUP_MEANING[g]}) needs at least one host`),
      );
    } else if (g === 'C' && count > 1) {
      const extra = hosts.filter((h) => h.group === 'C')[1]!;
      problems.push(
        src.problem(extra.path, `group C has ${count} hosts; omni-deploy runs one global proxy`, 'key'),
      );
    }
  }
  return { shape: { allVars: all.vars ?? {}, groupVars, hosts }, problems };
}
