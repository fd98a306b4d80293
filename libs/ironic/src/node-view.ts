import { ironicTimestamp } from '#libs/common';
import { maskDriverInfo, maskInstanceInfo, type ConsoleStatus, type NodeRecord } from '#libs/nodes';
import { atLeast, type ApiVersion } from './api-version.js';
import { links } from './links.js';

/**
 * The microversion that introduced each node field: a client asking for an older one does not see it.
 * No prototype: a field named `constructor` or `__proto__` has no minimum version (not Object's members).
 */
export const FIELD_MIN_VERSION: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, {
  automated_clean: '1.47', bios_interface: '1.40', boot_interface: '1.31', boot_mode: '1.75', clean_step: '1.7',
  conductor_group: '1.46', console_interface: '1.31', deploy_interface: '1.31', deploy_step: '1.44', description: '1.51',
  driver_internal_info: '1.3', fault: '1.42', inspection_finished_at: '1.6', inspection_started_at: '1.6', inspect_interface: '1.31',
  lessee: '1.65', management_interface: '1.31', name: '1.5', network_data: '1.66', network_interface: '1.20', owner: '1.50',
  power_interface: '1.31', protected: '1.48', protected_reason: '1.48', raid_config: '1.12', raid_interface: '1.31',
  rescue_interface: '1.38', resource_class: '1.21', retired: '1.61', retired_reason: '1.61', secure_boot: '1.75', shard: '1.82',
  storage_interface: '1.33', target_raid_config: '1.12', traits: '1.37', vendor_interface: '1.31', conductor: '1.49',
  allocation_uuid: '1.52', states: '1.14', portgroups: '1.24', volume: '1.32',
});

export interface NodeContext {
  base: string;
  version: ApiVersion;
  /** The conductor the ring assigns the node to (null when its group has no live conductor). */
  conductor: string | null;
  status: ConsoleStatus;
  /** The console runs right now on a live conductor, for the node's current generation. */
  consoleServing: boolean;
  /** consolePhase's label (libs/console), the same word the CLI and metrics use. */
  consoleState?: string;
}

/** What a user should read in last_error: the console's last error, or why nothing can run it. */
export function nodeLastError(node: NodeRecord, ctx: Pick<NodeContext, 'conductor' | 'status'>): string | null {
  if (node.record_error) return node.record_error;
  if (node.console_enabled && ctx.conductor === null)
    return `No conductor is alive in conductor group '${node.conductor_group}'; the console starts when one joins.`;
  return ctx.status.last_error;
}

/**
 * driver_internal_info: what the console's owner reports about it (the node's port and console
 * state). The one place the console's story enters a node document.
 */
export function consoleDriverInternalInfo(node: NodeRecord, ctx: Pick<NodeContext, 'status' | 'consoleServing' | 'consoleState'>): Record<string, unknown> {
  const dii: Record<string, unknown> = {};
  // the node's sticky console port (allocated once, kept while the node exists)
  const port = node.allocated_port ?? (ctx.consoleServing ? ctx.status.port : null);
  if (port) dii.allocated_ipmi_terminal_port = port;
  const state = ctx.consoleState ?? (ctx.consoleServing ? 'running' : node.console_enabled ? 'starting' : 'stopped');
  if (node.console_enabled || state !== 'stopped') dii.console_state = state;
  // viewers attached to the node's console broker right now (published by the owner)
  if (node.console_enabled) dii.console_viewers = ctx.consoleServing ? (ctx.status.viewers ?? 0) : 0;
  return dii;
}

/** Before 1.2 Ironic showed AVAILABLE as its old NOSTATE (null). */
const provisionState = (node: NodeRecord, version: ApiVersion) => (!atLeast(version, '1.2') && node.provision_state === 'available' ? null : node.provision_state);

type FieldBuilder = (node: NodeRecord, ctx: NodeContext) => unknown;
const nodeLinks = (sub: string): FieldBuilder => (n, ctx) => links(ctx.base, `nodes/${n.uuid}${sub}`);

/**
 * Every field of an Ironic node document, in Ironic's key order (database fields, `links`, then the
 * API-computed fields and the sub-resource links). Fields solgate does not manage (provisioning,
 * power, RAID...) carry Ironic's defaults so clients that read them keep working.
 */
const NODE_FIELD_BUILDERS: [string, FieldBuilder][] = [
  ['uuid', (n) => n.uuid],
  ['created_at', (n) => ironicTimestamp(n.created_at)],
  ['updated_at', (n) => ironicTimestamp(n.updated_at)],
  ['automated_clean', () => null],
  ['bios_interface', () => 'no-bios'],
  ['boot_interface', () => 'pxe'],
  ['boot_mode', () => null],
  ['clean_step', () => ({})],
  ['conductor_group', (n) => n.conductor_group],
  ['console_enabled', (n) => n.console_enabled],
  ['console_interface', (n) => n.console_interface],
  ['deploy_interface', () => 'direct'],
  ['deploy_step', () => ({})],
  ['description', (n) => n.description],
  ['driver', (n) => n.driver],
  ['driver_info', (n) => maskDriverInfo(n.driver_info)],
  ['driver_internal_info', (n, ctx) => consoleDriverInternalInfo(n, ctx)],
  ['extra', (n) => n.extra],
  ['fault', () => null],
  ['inspection_finished_at', () => null],
  ['inspection_started_at', () => null],
  ['inspect_interface', () => 'no-inspect'],
  ['instance_info', (n) => maskInstanceInfo(n.instance_info)],
  ['instance_uuid', (n) => n.instance_uuid],
  ['last_error', (n, ctx) => nodeLastError(n, ctx)],
  ['lessee', (n) => n.lessee],
  ['maintenance', (n) => n.maintenance],
  ['maintenance_reason', (n) => n.maintenance_reason],
  ['management_interface', () => 'ipmitool'],
  ['name', (n) => n.name],
  ['network_data', () => ({})],
  ['network_interface', () => 'noop'],
  ['owner', (n) => n.owner],
  ['power_interface', () => 'ipmitool'],
  ['power_state', () => null],
  ['properties', (n) => n.properties],
  ['protected', () => false],
  ['protected_reason', () => null],
  ['provision_state', (n, ctx) => provisionState(n, ctx.version)],
  ['provision_updated_at', () => null],
  ['raid_config', () => ({})],
  ['raid_interface', () => 'no-raid'],
  ['rescue_interface', () => 'no-rescue'],
  ['reservation', () => null],
  ['resource_class', (n) => n.resource_class],
  ['retired', () => false],
  ['retired_reason', () => null],
  ['secure_boot', () => null],
  ['shard', (n) => n.shard],
  ['storage_interface', () => 'noop'],
  ['target_power_state', () => null],
  ['target_provision_state', () => null],
  ['target_raid_config', () => ({})],
  ['traits', (n) => [...n.traits]],
  ['vendor_interface', () => 'no-vendor'],
  ['links', nodeLinks('')],
  ['conductor', (_n, ctx) => ctx.conductor],
  ['allocation_uuid', () => null],
  ['chassis_uuid', () => null],
  ['ports', nodeLinks('/ports')],
  ['states', nodeLinks('/states')],
  ['portgroups', nodeLinks('/portgroups')],
  ['volume', nodeLinks('/volume')],
];
const BUILDER_BY_FIELD = new Map(NODE_FIELD_BUILDERS);

/** Fields Ironic's API adds to a node after its database columns (they come after `links`). */
const API_FIELDS = ['conductor', 'allocation_uuid', 'chassis_uuid'];

const shownAt = (field: string, version: ApiVersion) => {
  const min = FIELD_MIN_VERSION[field];
  return !min || atLeast(version, min);
};

/**
 * A node as Ironic shows it at the requested microversion: every field, or Ironic's `fields`
 * projection (node_convert_with_links + sanitize_dict): `uuid` first if asked for, database fields
 * in the order asked, then `links`, then the API-computed fields asked for. Only what is shown is
 * computed. `fields` must have been validated (node-query.ts).
 */
export function nodeDocument(node: NodeRecord, ctx: NodeContext, fields?: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const put = (field: string) => {
    const build = BUILDER_BY_FIELD.get(field);
    if (build && shownAt(field, ctx.version)) out[field] = build(node, ctx);
  };
  if (!fields) {
    for (const [field] of NODE_FIELD_BUILDERS) put(field);
    return out;
  }
  if (fields.includes('uuid')) put('uuid');
  for (const f of fields) if (f !== 'uuid' && f !== 'links' && !API_FIELDS.includes(f)) put(f);
  put('links');
  for (const f of API_FIELDS) if (fields.includes(f)) put(f);
  return out;
}

export function statesDocument(node: NodeRecord, ctx: Pick<NodeContext, 'conductor' | 'status' | 'version'>): Record<string, unknown> {
  return filterByVersion(
    {
      console_enabled: node.console_enabled,
      last_error: nodeLastError(node, ctx),
      power_state: null,
      provision_state: provisionState(node, ctx.version),
      target_power_state: null,
      target_provision_state: null,
      provision_updated_at: null,
      raid_config: {},
      target_raid_config: {},
      boot_mode: null,
      secure_boot: null,
    },
    ctx.version,
  );
}

function filterByVersion(doc: Record<string, unknown>, version: ApiVersion): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) {
    const min = FIELD_MIN_VERSION[k];
    if (!min || atLeast(version, min)) out[k] = v;
  }
  return out;
}
