import { errorMessage } from '#libs/common';
import {
  CONSOLE_INTERFACES,
  SECRET_MASK,
  WRITABLE_FIELDS,
  validateNodeFields,
  writableView,
  type ConsoleInterface,
  type NodeRecord,
  type WritableNodeFields,
} from '#libs/nodes';
import type { IronicNode } from './ironic-client.js';

/**
 * How one Ironic node becomes a solgate node (pure). The sync owns these fields of a mirrored node:
 * name, the IPMI keys of driver_info, conductor_group, console_interface, and — where solgate's node
 * model has them — instance_uuid, maintenance, maintenance_reason, resource_class, owner, lessee,
 * traits and shard. Everything else (description, properties, extra, instance_info — Nova's, possibly
 * large and secret —, other driver_info keys, and the console intent) stays as solgate has it.
 */

/** `extra` key that marks a node the sync created: only such nodes are ever deleted by it. */
export const SYNC_MARK = 'solgate_ironic_sync';

/** driver_info keys mirrored from Ironic: the ones a console uses. */
export const SYNCED_DRIVER_INFO_KEYS = [
  'ipmi_address',
  'ipmi_port',
  'ipmi_username',
  'ipmi_password',
  'ipmi_priv_level',
  'ipmi_cipher_suite',
  'ipmi_terminal_port',
] as const;

/** Node fields mirrored only when solgate's node model has them (they arrive with the Nova-facing node fields). */
export const OPTIONAL_MIRRORED_FIELDS = ['instance_uuid', 'maintenance', 'maintenance_reason', 'resource_class', 'owner', 'lessee', 'traits', 'shard'] as const;

const hasField = (f: string) => (WRITABLE_FIELDS as readonly string[]).includes(f);
const hasInterface = (i: string): i is ConsoleInterface => (CONSOLE_INTERFACES as readonly string[]).includes(i);

/** Ironic's console_interface → ours, with a note when the meaning changes. */
export function mapConsoleInterface(ironic: string | null | undefined): { iface: ConsoleInterface; note?: string } {
  switch (ironic) {
    case 'ipmitool-socat':
      return { iface: 'ipmitool-socat' };
    case 'ipmitool-shellinabox': {
      // solgate's own shellinabox interface when this build has one; else a serial console Nova can use
      const shellinabox = 'ipmitool-shellinabox';
      if (hasInterface(shellinabox)) return { iface: shellinabox };
      return { iface: 'ipmitool-socat', note: 'console_interface ipmitool-shellinabox is served as ipmitool-socat' };
    }
    case 'no-console':
    case null:
    case undefined:
      return { iface: 'no-console' };
    default:
      return { iface: 'no-console', note: `console_interface ${ironic} has no solgate equivalent: mirrored as no-console` };
  }
}

export type MappedNode =
  | { ok: true; fields: WritableNodeFields; notes: string[]; passwordMasked: boolean }
  | { ok: false; reason: string; passwordMasked: boolean };

/**
 * The fields solgate should hold for `ironic`, starting from the existing solgate node (or none).
 * A password Ironic masks (******) keeps the stored one. Returns a skip reason when the Ironic node
 * does not pass solgate's validation (nothing is written for it).
 */
export function mapIronicNode(ironic: IronicNode, existing: NodeRecord | undefined): MappedNode {
  const notes: string[] = [];
  const base = existing ? writableView(existing) : undefined;
  const { iface, note } = mapConsoleInterface(ironic.console_interface);
  if (note) notes.push(note);
  if (ironic.driver && ironic.driver !== 'ipmi') notes.push(`Ironic driver ${ironic.driver}: solgate knows the node as ipmi`);

  const fromIronic = ironic.driver_info ?? {};
  const driverInfo: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(base?.driver_info ?? {})) if (!(SYNCED_DRIVER_INFO_KEYS as readonly string[]).includes(k)) driverInfo[k] = v;
  let passwordMasked = false;
  for (const k of SYNCED_DRIVER_INFO_KEYS) {
    const v = fromIronic[k];
    if (v === undefined || v === null) continue;
    if (k === 'ipmi_password' && v === SECRET_MASK) {
      passwordMasked = true;
      if (base?.driver_info.ipmi_password !== undefined) driverInfo[k] = base.driver_info.ipmi_password;
      else notes.push("ipmi_password masked by Ironic's show_password policy: the console cannot log in until it is allowed");
      continue;
    }
    driverInfo[k] = v;
  }

  const body: Record<string, unknown> = {
    uuid: ironic.uuid,
    name: ironic.name ?? null,
    driver: 'ipmi',
    console_interface: iface,
    driver_info: driverInfo,
    conductor_group: ironic.conductor_group ?? '',
    description: base?.description ?? null,
    extra: base ? base.extra : { [SYNC_MARK]: true },
    properties: base?.properties ?? {},
  };
  for (const f of OPTIONAL_MIRRORED_FIELDS) {
    if (!hasField(f)) continue;
    if (f in ironic) body[f] = ironic[f] ?? (f === 'maintenance' ? false : f === 'traits' ? [] : null);
    else if (base && f in base) body[f] = (base as Record<string, unknown>)[f];
  }
  for (const f of WRITABLE_FIELDS) if (!(f in body) && base && f in base) body[f] = (base as Record<string, unknown>)[f];
  try {
    return { ok: true, fields: validateNodeFields(body), notes, passwordMasked };
  } catch (e) {
    return { ok: false, reason: errorMessage(e).replace(/\.$/, ''), passwordMasked };
  }
}

/** JSON with object keys sorted, so two equal nodes compare equal whatever the key order. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** Names of what differs between two field sets (driver_info per key; values never, they may be secret). */
export function changedFields(before: WritableNodeFields, after: WritableNodeFields): string[] {
  const out: string[] = [];
  const b = before as unknown as Record<string, unknown>;
  const a = after as unknown as Record<string, unknown>;
  for (const k of new Set([...Object.keys(b), ...Object.keys(a)])) {
    if (k === 'driver_info') {
      const bi = (b[k] ?? {}) as Record<string, unknown>;
      const ai = (a[k] ?? {}) as Record<string, unknown>;
      for (const dk of new Set([...Object.keys(bi), ...Object.keys(ai)])) if (stableJson(bi[dk]) !== stableJson(ai[dk])) out.push(`driver_info.${dk}`);
    } else if (stableJson(b[k]) !== stableJson(a[k])) out.push(k);
  }
  return out.sort();
}

export const isSyncManaged = (node: NodeRecord) => node.extra?.[SYNC_MARK] === true;
