import { invalidInput, SolgateError } from '#libs/common';
import { FAULTS, type NodeRecord } from '#libs/nodes';
import { atLeast, type ApiVersion } from './api-version.js';
import { FIELD_MIN_VERSION } from './node-view.js';
import { parseQueryArgs, type QueryArgSpec } from './query-args.js';

/**
 * `GET /v1/nodes` and `/v1/nodes/detail` with Ironic 21.4's semantics (ironic/api/controllers/v1/
 * node.py get_all/detail/_get_nodes_collection, utils.py, db/sqlalchemy/api.py): the same parameters,
 * the same checks in the same order, the same messages. Pure: the API reads Redis, this decides.
 */

/** Ironic's [api] max_limit default: a page never holds more (a larger limit is capped, as Ironic does). */
export const MAX_LIMIT = 1000;

/** What a plain list shows (Ironic's _DEFAULT_RETURN_FIELDS, in its order). */
export const NODE_LIST_DEFAULT_FIELDS = ['instance_uuid', 'maintenance', 'power_state', 'provision_state', 'uuid', 'name'] as const;

/** Fields `?fields=` may name (Ironic 21.4's _get_fields_for_node_query + its API-computed fields). */
export const NODE_QUERY_FIELDS: readonly string[] = [
  'uuid', 'traits', 'allocation_uuid', 'chassis_uuid', 'conductor',
  'automated_clean', 'bios_interface', 'boot_interface', 'boot_mode', 'clean_step', 'conductor_group', 'console_enabled',
  'console_interface', 'deploy_interface', 'deploy_step', 'description', 'driver', 'driver_info', 'driver_internal_info',
  'extra', 'fault', 'inspection_finished_at', 'inspection_started_at', 'inspect_interface', 'instance_info', 'instance_uuid',
  'last_error', 'lessee', 'maintenance', 'maintenance_reason', 'management_interface', 'name', 'network_data',
  'network_interface', 'owner', 'power_interface', 'power_state', 'properties', 'protected', 'protected_reason',
  'provision_state', 'provision_updated_at', 'raid_config', 'raid_interface', 'rescue_interface', 'reservation',
  'resource_class', 'retired', 'retired_reason', 'secure_boot', 'shard', 'storage_interface', 'target_power_state',
  'target_provision_state', 'target_raid_config', 'vendor_interface',
]; // prettier-ignore

/** Fields whose value comes from the console's observed state (a list that asks for them reads it). */
export const CONSOLE_STATE_FIELDS = ['last_error', 'driver_internal_info'];

/** Provision states of Ironic 21.4's state machine (a filter for anything else is a 400). */
export const PROVISION_STATES = [
  'enroll', 'manageable', 'available', 'active', 'error', 'rescue', 'verifying', 'deploying', 'wait call-back',
  'deploy failed', 'cleaning', 'clean wait', 'clean failed', 'deleting', 'inspecting', 'inspect failed', 'inspect wait',
  'adopting', 'adopt failed', 'rescuing', 'rescue wait', 'rescue failed', 'unrescuing', 'unrescue failed',
]; // prettier-ignore

/** Node table columns Ironic can sort by (models.NodeBase), minus its invalid_sort_key_list. */
const SORT_COLUMNS = new Set([
  'id', 'uuid', 'created_at', 'updated_at', 'instance_uuid', 'name', 'chassis_id', 'power_state', 'target_power_state',
  'provision_state', 'target_provision_state', 'provision_updated_at', 'last_error', 'driver', 'resource_class',
  'reservation', 'conductor_affinity', 'conductor_group', 'maintenance', 'maintenance_reason', 'fault', 'console_enabled',
  'inspection_finished_at', 'inspection_started_at', 'automated_clean', 'protected', 'protected_reason', 'owner', 'lessee',
  'allocation_id', 'description', 'bios_interface', 'boot_interface', 'console_interface', 'deploy_interface',
  'inspect_interface', 'management_interface', 'network_interface', 'raid_interface', 'rescue_interface', 'retired',
  'retired_reason', 'storage_interface', 'power_interface', 'vendor_interface', 'boot_mode', 'secure_boot', 'shard',
]); // prettier-ignore
const INVALID_SORT_KEYS = [
  'properties', 'driver_info', 'extra', 'instance_info', 'driver_internal_info', 'clean_step', 'deploy_step',
  'raid_config', 'target_raid_config', 'traits', 'network_data',
]; // prettier-ignore

export interface NodeFilters {
  chassis_uuid?: string;
  instance_uuid?: string;
  associated?: boolean;
  maintenance?: boolean;
  retired?: boolean;
  provision_state?: string;
  driver?: string;
  resource_class?: string;
  fault?: string;
  conductor_group?: string;
  conductor?: string;
  owner?: string;
  description_contains?: string;
  lessee?: string;
  project?: string;
  shard?: string[];
  sharded?: boolean;
}

/** Filter names in Ironic's signature order (also the order they are carried into `next` links). */
export const FILTER_NAMES = [
  'chassis_uuid', 'instance_uuid', 'associated', 'maintenance', 'retired', 'provision_state', 'driver', 'resource_class',
  'fault', 'conductor_group', 'conductor', 'owner', 'description_contains', 'lessee', 'project', 'shard', 'sharded',
] as const satisfies readonly (keyof NodeFilters)[]; // prettier-ignore

export interface NodeListQuery {
  /** 'nodes' or 'nodes/detail' (the collection's path, for next links). */
  resource: 'nodes' | 'nodes/detail';
  filters: NodeFilters;
  limit: number;
  marker?: string;
  sortKey: string;
  sortDir: 'asc' | 'desc';
  /** The fields each item shows; undefined means the full document (detail). */
  fields?: string[];
  /** `?detail=` as given (Ironic carries it into next links), for GET /v1/nodes only. */
  detailParam?: boolean;
}

const NODE_ARGS: Record<string, QueryArgSpec> = {
  chassis_uuid: 'uuid', instance_uuid: 'uuid', associated: 'boolean', maintenance: 'boolean', retired: 'boolean',
  provision_state: 'string', marker: 'uuid', limit: 'integer', sort_key: 'string', sort_dir: 'string', driver: 'string',
  fields: 'string_list', resource_class: 'string', fault: 'string', conductor_group: 'string', detail: 'boolean',
  conductor: 'string', owner: 'string', description_contains: 'string', lessee: 'string', project: 'string',
  shard: 'string_list', sharded: 'boolean',
}; // prettier-ignore
const DETAIL_ARGS = Object.fromEntries(Object.entries(NODE_ARGS).filter(([k]) => k !== 'fields' && k !== 'detail'));

const tooOld = (version: string) =>
  new SolgateError('NOT_ACCEPTABLE', `Request not acceptable. The minimal required API version should be ${version}`);
const notAcceptable = () => new SolgateError('NOT_ACCEPTABLE', 'Request not acceptable.');

/** Ironic's check_allowed_fields: a field newer than the requested version is a 406. */
export function checkFieldsAllowed(fields: readonly string[] | undefined, version: ApiVersion): void {
  if (!fields) return;
  for (const f of fields) {
    const min = FIELD_MIN_VERSION[f];
    if (min && !atLeast(version, min)) throw notAcceptable();
  }
}

/** Ironic's node field check ("Field x is not a valid field."), made before anything is read. */
export function checkNodeFields(fields: readonly string[]): void {
  for (const f of fields) if (!NODE_QUERY_FIELDS.includes(f)) throw invalidInput(`Field ${f} is not a valid field.`);
}

/** Ironic's validate_limit: none means max_limit, 0 or less is refused, more than max_limit is capped. */
export function validateLimit(limit: number | undefined): number {
  if (limit === undefined) return MAX_LIMIT;
  if (limit <= 0) throw invalidInput('Limit must be positive');
  return Math.min(MAX_LIMIT, limit);
}

export function validateSortDir(sortDir: string): 'asc' | 'desc' {
  if (sortDir !== 'asc' && sortDir !== 'desc') throw invalidInput(`Invalid sort direction: ${sortDir}. Acceptable values are 'asc' or 'desc'`);
  return sortDir;
}

/**
 * Ironic's get_request_return_fields: ?detail needs 1.43, cannot be combined with ?fields, and a list
 * with neither shows the default fields. Returns undefined for "every field".
 */
export function returnFields(fields: string[] | undefined, detail: boolean | undefined, defaults: readonly string[], version: ApiVersion): string[] | undefined {
  if (detail !== undefined && !atLeast(version, '1.43')) throw invalidInput(`Invalid query parameter ?detail=${detail ? 'True' : 'False'} received.`);
  if (fields !== undefined && detail) throw invalidInput('Can not specify ?detail=True and fields in the same request.');
  if (fields === undefined && !detail) return [...defaults];
  return fields;
}

/** Parse and validate a node list's query string exactly as Ironic does, in Ironic's order. */
export function parseNodeListQuery(raw: Record<string, unknown>, version: ApiVersion, resource: 'nodes' | 'nodes/detail'): NodeListQuery {
  const a = parseQueryArgs(raw, resource === 'nodes' ? NODE_ARGS : DETAIL_ARGS);
  const fields = a.fields as string[] | undefined;
  const sortKey = (a.sort_key as string | undefined) ?? 'id';
  if (fields !== undefined && !atLeast(version, '1.8')) throw notAcceptable();
  checkFieldsAllowed(fields, version);
  checkFieldsAllowed([sortKey], version);
  const provisionState = a.provision_state as string | undefined;
  if (provisionState !== undefined) {
    if (!atLeast(version, '1.9')) throw notAcceptable();
    if (!PROVISION_STATES.includes(provisionState)) throw invalidInput(`Provision state "${provisionState}" is not valid`);
  }
  const gates: [string, string][] = [
    ['driver', '1.16'],
    ['resource_class', '1.21'],
    ['fault', '1.42'],
    ['conductor_group', '1.46'],
    ['conductor', '1.49'],
    ['owner', '1.50'],
    ['lessee', '1.65'],
    ['shard', '1.82'],
    ['sharded', '1.82'],
  ];
  for (const [name, min] of gates) {
    if (a[name] === undefined) continue;
    if (!atLeast(version, min)) throw tooOld(min);
    if (name === 'fault' && !(FAULTS as readonly string[]).includes(a.fault as string))
      throw invalidInput(`Unrecognized fault "${String(a.fault)}" is specified, allowed faults are (${FAULTS.map((f) => `'${f}'`).join(', ')})`);
  }
  const detail = a.detail as boolean | undefined;
  const shown = resource === 'nodes' ? returnFields(fields, detail, NODE_LIST_DEFAULT_FIELDS, version) : undefined;
  if (shown) checkNodeFields(shown);
  const limit = validateLimit(a.limit as number | undefined);
  const sortDir = validateSortDir((a.sort_dir as string | undefined) ?? 'asc');
  if (INVALID_SORT_KEYS.includes(sortKey)) throw invalidInput(`The sort_key value ${sortKey} is an invalid field for sorting`);
  if (!SORT_COLUMNS.has(sortKey)) throw invalidInput(`The sort_key value "${sortKey}" is an invalid field for sorting`);
  if (a.chassis_uuid !== undefined)
    throw invalidInput('Chassis are not supported by this service: solgate keeps Ironic node records for serial consoles; no node has a chassis.');
  const filters: NodeFilters = {};
  for (const name of FILTER_NAMES) if (a[name] !== undefined) (filters as Record<string, unknown>)[name] = a[name];
  if (filters.instance_uuid) filters.instance_uuid = filters.instance_uuid.toLowerCase();
  if (filters.conductor_group !== undefined) filters.conductor_group = filters.conductor_group.toLowerCase();
  return { resource, filters, limit, marker: a.marker as string | undefined, sortKey, sortDir, fields: shown, detailParam: detail };
}

export const hasFilters = (f: NodeFilters) => Object.keys(f).length > 0;

/** Whether a node passes every filter; `owner` is the node's conductor by the ring (for ?conductor=). */
export function matchesFilters(node: NodeRecord, f: NodeFilters, owner: () => string | null): boolean {
  if (f.instance_uuid !== undefined && node.instance_uuid !== f.instance_uuid) return false;
  if (f.associated !== undefined && (node.instance_uuid !== null) !== f.associated) return false;
  if (f.maintenance !== undefined && node.maintenance !== f.maintenance) return false;
  if (f.retired === true) return false; // solgate never retires a node
  if (f.provision_state !== undefined && node.provision_state !== f.provision_state) return false;
  if (f.driver !== undefined && node.driver !== f.driver) return false;
  if (f.resource_class !== undefined && node.resource_class !== f.resource_class) return false;
  if (f.fault !== undefined) return false; // nor sets a fault: consoles never move a node into maintenance
  if (f.conductor_group !== undefined && node.conductor_group !== f.conductor_group) return false;
  if (f.owner !== undefined && node.owner !== f.owner) return false;
  if (f.lessee !== undefined && node.lessee !== f.lessee) return false;
  if (f.project !== undefined && node.owner !== f.project && node.lessee !== f.project) return false;
  if (f.description_contains !== undefined && !(node.description ?? '').toLowerCase().includes(f.description_contains.toLowerCase())) return false;
  if (f.shard !== undefined && (node.shard === null || !f.shard.includes(node.shard.toLowerCase()))) return false;
  if (f.sharded !== undefined && (node.shard !== null) !== f.sharded) return false;
  if (f.conductor !== undefined && owner() !== f.conductor) return false;
  return true;
}

type SortValue = string | number | boolean | null;

/**
 * A node's value for a sort key. Columns solgate does not manage hold the same value on every node,
 * so they sort as equal (by id, like Ironic's tie-break). `lastError` is only read for that key.
 */
export function sortValue(node: NodeRecord, key: string, lastError?: string | null): SortValue {
  switch (key) {
    case 'uuid':
    case 'instance_uuid':
    case 'name':
    case 'provision_state':
    case 'driver':
    case 'resource_class':
    case 'conductor_group':
    case 'maintenance':
    case 'maintenance_reason':
    case 'console_enabled':
    case 'owner':
    case 'lessee':
    case 'description':
    case 'console_interface':
    case 'shard':
      return (node[key as keyof NodeRecord] as SortValue) ?? null;
    case 'created_at':
      return node.created_at;
    case 'updated_at':
      return node.updated_at;
    case 'last_error':
      return lastError ?? null;
    default:
      return null;
  }
}

/** SQL's order: NULL first ascending; false before true. */
function compareValues(a: SortValue, b: SortValue): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (typeof a === 'boolean' || typeof b === 'boolean') return Number(a) - Number(b);
  return a < b ? -1 : 1;
}

export interface SortableNode {
  node: NodeRecord;
  /** Position in creation order: Ironic's `id`, the tie-break of every sort. */
  id: number;
  value: SortValue;
}

/** Ironic's paginate_query order: (sort key, id), both in the requested direction. */
export function compareSortable(a: SortableNode, b: SortableNode, dir: 'asc' | 'desc'): number {
  const c = compareValues(a.value, b.value) || a.id - b.id;
  return dir === 'asc' ? c : -c;
}

/** One page after the marker (keyset, as Ironic: the marker need not match the filters). */
export function pageAfter(sorted: SortableNode[], marker: SortableNode | undefined, limit: number, dir: 'asc' | 'desc'): SortableNode[] {
  let start = 0;
  if (marker) {
    start = sorted.findIndex((x) => compareSortable(x, marker, dir) > 0);
    if (start < 0) return [];
  }
  return sorted.slice(start, start + limit);
}

const pyBool = (b: boolean) => (b ? 'True' : 'False');

/**
 * The `next` link Ironic's collection builds (sort_key, sort_dir, detail, fields, limit, marker), plus
 * every filter of the request so that following it keeps filtering (Ironic 21.4 carries only truthy
 * associated/maintenance/retired, so its second page of `?driver=x` is unfiltered).
 */
export function nextLink(base: string, q: NodeListQuery, lastUuid: string): string {
  const params: [string, string][] = [
    ['sort_key', q.sortKey],
    ['sort_dir', q.sortDir],
  ];
  for (const name of FILTER_NAMES) {
    const v = q.filters[name];
    if (v === undefined) continue;
    params.push([name, typeof v === 'boolean' ? pyBool(v) : Array.isArray(v) ? v.join(',') : v]);
  }
  if (q.detailParam !== undefined) params.push(['detail', pyBool(q.detailParam)]);
  if (q.fields) params.push(['fields', q.fields.join(',')]);
  params.push(['limit', String(q.limit)], ['marker', lastUuid]);
  const qs = params.map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%2C/g, ',')}`).join('&');
  return `${base}/v1/${q.resource}?${qs}`;
}
