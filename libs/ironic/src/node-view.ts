import { ironicTimestamp } from '#libs/common';
import { maskDriverInfo, maskInstanceInfo, type ConsoleStatus, type NodeRecord } from '#libs/nodes';
import { atLeast, type ApiVersion } from './api-version.js';
import { links } from './links.js';

/**
 * Node documents in Ironic's shape and key order. Fields solgate does not manage (provisioning,
 * power, RAID...) carry Ironic's defaults so clients that read them keep working. Each field
 * appears only at the microversion that introduced it.
 */
export const FIELD_MIN_VERSION: Record<string, string> = {
  automated_clean: '1.47', bios_interface: '1.40', boot_interface: '1.31', boot_mode: '1.75', clean_step: '1.7',
  conductor_group: '1.46', console_interface: '1.31', deploy_interface: '1.31', deploy_step: '1.44', description: '1.51',
  driver_internal_info: '1.3', fault: '1.42', inspection_finished_at: '1.6', inspection_started_at: '1.6', inspect_interface: '1.31',
  lessee: '1.65', management_interface: '1.31', name: '1.5', network_data: '1.66', network_interface: '1.20', owner: '1.50',
  power_interface: '1.31', protected: '1.48', protected_reason: '1.48', raid_config: '1.12', raid_interface: '1.31',
  rescue_interface: '1.38', resource_class: '1.21', retired: '1.61', retired_reason: '1.61', secure_boot: '1.75', shard: '1.82',
  storage_interface: '1.33', target_raid_config: '1.12', traits: '1.37', vendor_interface: '1.31', conductor: '1.49',
  allocation_uuid: '1.52', states: '1.14', portgroups: '1.24', volume: '1.32',
};

export interface NodeContext {
  base: string;
  version: ApiVersion;
  /** The conductor the ring assigns the node to (null when its group has no live conductor). */
  conductor: string | null;
  status: ConsoleStatus;
  /** The console runs right now on a live conductor, for the node's current generation. */
  consoleServing: boolean;
}

/** What a user should read in last_error: the console's last error, or why nothing can run it. */
export function nodeLastError(node: NodeRecord, ctx: Pick<NodeContext, 'conductor' | 'status'>): string | null {
  if (node.console_enabled && ctx.conductor === null)
    return `No conductor is alive in conductor group '${node.conductor_group}'; the console starts when one joins.`;
  return ctx.status.last_error;
}

/**
 * driver_internal_info: what the console's owner reports about it (the node's port and console
 * state). The one place the console's story enters a node document.
 */
export function consoleDriverInternalInfo(node: NodeRecord, ctx: Pick<NodeContext, 'status' | 'consoleServing'>): Record<string, unknown> {
  const dii: Record<string, unknown> = {};
  if (ctx.consoleServing && ctx.status.port) dii.allocated_ipmi_terminal_port = ctx.status.port;
  if (node.console_enabled) dii.console_state = ctx.consoleServing ? 'running' : ctx.status.state === 'stopped' ? 'starting' : ctx.status.state;
  return dii;
}

/** Before 1.2 Ironic showed AVAILABLE as its old NOSTATE (null). */
const provisionState = (node: NodeRecord, version: ApiVersion) => (!atLeast(version, '1.2') && node.provision_state === 'available' ? null : node.provision_state);

export function nodeDocument(node: NodeRecord, ctx: NodeContext): Record<string, unknown> {
  const b = ctx.base;
  const id = node.uuid;
  const dii = consoleDriverInternalInfo(node, ctx);
  const full: Record<string, unknown> = {
    uuid: id,
    created_at: ironicTimestamp(node.created_at),
    updated_at: ironicTimestamp(node.updated_at),
    automated_clean: null,
    bios_interface: 'no-bios',
    boot_interface: 'pxe',
    boot_mode: null,
    clean_step: {},
    conductor_group: node.conductor_group,
    console_enabled: node.console_enabled,
    console_interface: node.console_interface,
    deploy_interface: 'direct',
    deploy_step: {},
    description: node.description,
    driver: node.driver,
    driver_info: maskDriverInfo(node.driver_info),
    driver_internal_info: dii,
    extra: node.extra,
    fault: null,
    inspection_finished_at: null,
    inspection_started_at: null,
    inspect_interface: 'no-inspect',
    instance_info: maskInstanceInfo(node.instance_info),
    instance_uuid: node.instance_uuid,
    last_error: nodeLastError(node, ctx),
    lessee: node.lessee,
    maintenance: node.maintenance,
    maintenance_reason: node.maintenance_reason,
    management_interface: 'ipmitool',
    name: node.name,
    network_data: {},
    network_interface: 'noop',
    owner: node.owner,
    power_interface: 'ipmitool',
    power_state: null,
    properties: node.properties,
    protected: false,
    protected_reason: null,
    provision_state: provisionState(node, ctx.version),
    provision_updated_at: null,
    raid_config: {},
    raid_interface: 'no-raid',
    rescue_interface: 'no-rescue',
    reservation: null,
    resource_class: node.resource_class,
    retired: false,
    retired_reason: null,
    secure_boot: null,
    shard: node.shard,
    storage_interface: 'noop',
    target_power_state: null,
    target_provision_state: null,
    target_raid_config: {},
    traits: [...node.traits],
    vendor_interface: 'no-vendor',
    links: links(b, `nodes/${id}`),
    conductor: ctx.conductor,
    allocation_uuid: null,
    chassis_uuid: null,
    ports: links(b, `nodes/${id}/ports`),
    states: links(b, `nodes/${id}/states`),
    portgroups: links(b, `nodes/${id}/portgroups`),
    volume: links(b, `nodes/${id}/volume`),
  };
  return filterByVersion(full, ctx.version);
}

export function nodeListItem(node: NodeRecord, base: string, version: ApiVersion): Record<string, unknown> {
  return filterByVersion(
    {
      uuid: node.uuid,
      instance_uuid: node.instance_uuid,
      maintenance: node.maintenance,
      power_state: null,
      provision_state: provisionState(node, version),
      name: node.name,
      links: links(base, `nodes/${node.uuid}`),
    },
    version,
  );
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

/** Fields Ironic's API adds to a node after its database columns (they come after `links`). */
const API_FIELDS = ['conductor', 'allocation_uuid', 'chassis_uuid'];

/**
 * Ironic's `fields` projection of a node document (node_convert_with_links + sanitize_dict): the
 * requested fields, `uuid` first if asked for, database fields in the order asked, then `links`, then
 * the API-computed fields. The fields must have been validated (node-query.ts).
 */
export function projectFields(doc: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (fields.includes('uuid') && 'uuid' in doc) out.uuid = doc.uuid;
  for (const f of fields) if (f !== 'uuid' && !API_FIELDS.includes(f) && f in doc) out[f] = doc[f];
  if ('links' in doc) out.links = doc.links;
  for (const f of API_FIELDS) if (fields.includes(f) && f in doc) out[f] = doc[f];
  return out;
}
