import { normalizeGroup, ownEntry } from '#libs/common';
import { UsageError } from './errors.js';

/**
 * Node selectors, kubectl-style: comma-separated requirements that must all hold (AND), each
 * `key=value`, `key==value` or `key!=value`; values may use the globs `*` and `?`.
 *   group=rack1,name=node-*,interface=ipmitool-socat,console=enabled,owner!=c1
 */
export const SELECTOR_KEYS = {
  name: 'node name (nodes without a name have the value "")',
  uuid: 'node uuid',
  group: 'conductor group ("" is the default group)',
  interface: 'console interface (ipmitool-socat, native-ipmi-socat, ipmitool-shellinabox, no-console)',
  driver: 'hardware type (ipmi)',
  address: 'driver_info.ipmi_address',
  console: 'console intent: enabled or disabled',
  state: 'observed console state: stopped, starting, running, restarting, error',
  owner: 'ring owner: the member id of the live conductor the ring assigns the node to ("" when none)',
} as const;
export type SelectorKey = keyof typeof SELECTOR_KEYS;

const ALIASES: Record<string, SelectorKey> = {
  conductor_group: 'group',
  console_interface: 'interface',
  ipmi_address: 'address',
  conductor: 'owner',
};

export interface Requirement {
  key: SelectorKey;
  op: '=' | '!=';
  /** The value as given (for messages). */
  value: string;
  pattern: RegExp;
}

export type SelectorSubject = Record<SelectorKey, string>;

/** `*` any run of characters, `?` one character, everything else literal; matches the whole value. */
export function globToRegExp(glob: string, ignoreCase = false): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, ignoreCase ? 'i' : '');
}

export function parseSelector(text: string): Requirement[] {
  const out: Requirement[] = [];
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.every((p) => p === '')) throw new UsageError(`empty selector ${JSON.stringify(text)}`);
  for (const part of parts) {
    if (part === '') throw new UsageError(`invalid selector ${JSON.stringify(text)}: empty requirement (stray comma?)`);
    const m = /^([A-Za-z_]+)\s*(!=|==|=)\s*(.*)$/.exec(part);
    if (!m) throw new UsageError(`invalid selector requirement ${JSON.stringify(part)}: expected key=value, key==value or key!=value`);
    const rawKey = m[1].toLowerCase();
    const key = (Object.hasOwn(SELECTOR_KEYS, rawKey) ? rawKey : ownEntry(ALIASES, rawKey)) as SelectorKey | undefined;
    if (!key) throw new UsageError(`unknown selector key ${JSON.stringify(m[1])}: one of ${Object.keys(SELECTOR_KEYS).join(', ')}`);
    let value = m[3];
    if (key === 'console' && !['enabled', 'disabled', '*'].includes(value.toLowerCase()))
      throw new UsageError(`invalid selector value console=${value}: enabled or disabled`);
    if (key === 'group') value = normalizeGroup(value);
    else if (key === 'console' || key === 'uuid') value = value.toLowerCase();
    out.push({ key, op: m[2] === '!=' ? '!=' : '=', value, pattern: globToRegExp(value, key === 'address') });
  }
  return out;
}

export function matchesSelector(reqs: readonly Requirement[], subject: SelectorSubject): boolean {
  return reqs.every((r) => r.pattern.test(subject[r.key] ?? '') === (r.op === '='));
}

/** Whether a selector needs the cluster view or observed state (so callers may skip reading them). */
export const selectorNeeds = (reqs: readonly Requirement[], key: SelectorKey) => reqs.some((r) => r.key === key);

/** The selector section of `--help` texts. */
export function selectorHelp(): string {
  const width = Math.max(...Object.keys(SELECTOR_KEYS).map((k) => k.length));
  return `
Selectors (-l, --selector): comma-separated requirements that must all hold, each key=value,
key==value or key!=value; values may use the globs * and ?. Keys:
${Object.entries(SELECTOR_KEYS)
  .map(([k, d]) => `  ${k.padEnd(width)}  ${d}`)
  .join('\n')}
  e.g. -l 'group=rack1,name=node-*,interface=ipmitool-socat'   -l 'console=enabled,state!=running'
`;
}
