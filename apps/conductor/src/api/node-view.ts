import { ironicTimestamp } from '#libs/common';
import { maskDriverInfo, type ConsoleStatus, type NodeRecord } from '#libs/nodes';
import { atLeast, type ApiVersion } from './api-version.js';
import { links } from './links.js';

/**
 * Node documents in Ironic's shape and key order. Fields solgate does not manage (provisioning,
 * power, RAID...) carry Ironic's defaults so clients that read them keep working. Each field
 * appears only at the microversion that introduced it.
 */
const FIELD_MIN_VERSION: Record<string, string> = {
  automated_clean: '1.47', bios_interface: '1.40', boot_interface: '1.31', boot_mode: '1.75', clean_step: '1.7',
  conductor_group: '1.46', console_interface: '1.31', deploy_interface: '1.31', deploy_step: '1.44', description: '1.51',
  driver_internal_info: '1.3', fault: '1.42', inspection_finished_at: '1.6', inspection_started_at: '1.6', inspect_interface: '1.31',
  lessee: '1.65', management_interface: '1.31', name: '1.5', network_data: '1.66', network_interface: '1.20', owner: '1.50',
  power_interface: '1.31', protected: '1.48', protected_reason: '1.48', raid_config: '1.12', raid_interface: '1.31',
  rescue_interface: '1.38', resource_class: '1.21', retired: '1.61', retired_reason: '1.61', secure_boot: '1.75',
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
  if (node.record_error) return node.record_error;
  if (node.console_enabled && ctx.conductor === null)
    return `No conductor is alive in conductor group '${node.conductor_group}'; the console starts when one joins.`;
  return ctx.status.last_error;
}

export function nodeDocument(node: NodeRecord, ctx: NodeContext): Record<string, unknown> {
  const b = ctx.base;
  const id = node.uuid;
  const dii: Record<string, unknown> = {};
  if (ctx.consoleServing && ctx.status.port) dii.allocated_ipmi_terminal_port = ctx.status.port;
  if (node.console_enabled) dii.console_state = ctx.consoleServing ? 'running' : ctx.status.state === 'stopped' ? 'starting' : ctx.status.state;
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
    instance_info: {},
    instance_uuid: null,
    last_error: nodeLastError(node, ctx),
    lessee: null,
    maintenance: false,
    maintenance_reason: null,
    management_interface: 'ipmitool',
    name: node.name,
    network_data: {},
    network_interface: 'noop',
    owner: null,
    power_interface: 'ipmitool',
    power_state: null,
    properties: node.properties,
    protected: false,
    protected_reason: null,
    provision_state: node.provision_state,
    provision_updated_at: null,
    raid_config: {},
    raid_interface: 'no-raid',
    rescue_interface: 'no-rescue',
    reservation: null,
    resource_class: null,
    retired: false,
    retired_reason: null,
    secure_boot: null,
    storage_interface: 'noop',
    target_power_state: null,
    target_provision_state: null,
    target_raid_config: {},
    traits: [],
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
      instance_uuid: null,
      maintenance: false,
      power_state: null,
      provision_state: node.provision_state,
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
      provision_state: node.provision_state,
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

/** Ironic's `fields` query parameter: a subset of top-level fields, validated. */
export function selectFields(doc: Record<string, unknown>, fields: string | undefined): Record<string, unknown> {
  if (!fields) return doc;
  const wanted = fields.split(',').map((f) => f.trim()).filter(Boolean);
  const out: Record<string, unknown> = {};
  for (const f of wanted) if (f in doc) out[f] = doc[f];
  if (!('uuid' in out) && 'uuid' in doc) out.uuid = doc.uuid;
  return out;
}
