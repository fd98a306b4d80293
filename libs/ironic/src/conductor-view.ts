import { invalidInput, ironicTimestamp } from '#libs/common';
import type { ApiVersion } from './api-version.js';
import { links } from './links.js';
import { checkFieldsAllowed, returnFields, validateLimit, validateSortDir } from './node-query.js';
import { parseQueryArgs } from './query-args.js';

/**
 * Ironic's conductor resource (1.49+, ironic/api/controllers/v1/conductor.py): documents, `fields`,
 * `detail`, and the list's limit / marker (hostname) / sort_key / sort_dir, with Ironic's checks.
 */

/** What solgate knows of a conductor (a cluster member). */
export interface ConductorFacts {
  hostname: string;
  conductorGroup: string;
  alive: boolean;
  createdAtMs: number | null;
  updatedAtMs: number | null;
}

/** A conductor list shows these unless ?detail or ?fields say otherwise (Ironic's DEFAULT_RETURN_FIELDS). */
export const CONDUCTOR_DEFAULT_FIELDS = ['hostname', 'conductor_group', 'alive'] as const;
const CONDUCTOR_FIELDS = ['created_at', 'updated_at', 'hostname', 'conductor_group', 'drivers', 'links', 'alive'];
const INVALID_SORT_KEYS = ['alive', 'drivers'];
const SORT_COLUMNS = ['id', 'hostname', 'conductor_group', 'created_at', 'updated_at', 'online', 'drivers'];

/** Ironic's conductor document, key order included, optionally narrowed to `fields` (links always kept). */
export function conductorDocument(c: ConductorFacts, base: string, fields?: readonly string[]): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    created_at: ironicTimestamp(c.createdAtMs),
    updated_at: ironicTimestamp(c.updatedAtMs),
    hostname: c.hostname,
    conductor_group: c.conductorGroup,
    drivers: ['ipmi'],
    links: links(base, `conductors/${c.hostname}`),
    alive: c.alive,
  };
  if (!fields) return doc;
  for (const k of Object.keys(doc)) if (k !== 'links' && !fields.includes(k)) delete doc[k];
  return doc;
}

/** Ironic's check_for_invalid_fields for conductors ('Field(s) "x" are not valid'). */
export function checkConductorFields(fields: readonly string[] | undefined): void {
  const invalid = (fields ?? []).filter((f) => !CONDUCTOR_FIELDS.includes(f));
  if (invalid.length > 0) throw invalidInput(`Field(s) "${invalid.join(', ')}" are not valid`);
}

export interface ConductorListQuery {
  limit: number;
  marker?: string;
  sortKey: string;
  sortDir: 'asc' | 'desc';
  fields: string[] | undefined;
  detailParam?: boolean;
}

export function parseConductorListQuery(raw: Record<string, unknown>, version: ApiVersion): ConductorListQuery {
  const a = parseQueryArgs(raw, { marker: 'name', limit: 'integer', sort_key: 'string', sort_dir: 'string', fields: 'string_list', detail: 'boolean' });
  const fields = a.fields as string[] | undefined;
  const sortKey = (a.sort_key as string | undefined) ?? 'id';
  checkFieldsAllowed(fields, version);
  const detail = a.detail as boolean | undefined;
  const shown = returnFields(fields, detail, CONDUCTOR_DEFAULT_FIELDS, version);
  checkConductorFields(shown);
  const limit = validateLimit(a.limit as number | undefined);
  const sortDir = validateSortDir((a.sort_dir as string | undefined) ?? 'asc');
  if (INVALID_SORT_KEYS.includes(sortKey)) throw invalidInput(`The sort_key value ${sortKey} is an invalid field for sorting`);
  if (!SORT_COLUMNS.includes(sortKey)) throw invalidInput(`The sort_key value "${sortKey}" is an invalid field for sorting`);
  return { limit, marker: a.marker as string | undefined, sortKey, sortDir, fields: shown, detailParam: detail };
}

/** Sorted by the key, then by join order (Ironic's id), in the requested direction. */
export function sortConductors(list: ConductorFacts[], sortKey: string, sortDir: 'asc' | 'desc'): ConductorFacts[] {
  const value = (c: ConductorFacts): string | number | null =>
    sortKey === 'hostname' ? c.hostname : sortKey === 'conductor_group' ? c.conductorGroup : sortKey === 'updated_at' ? c.updatedAtMs : sortKey === 'created_at' || sortKey === 'id' ? c.createdAtMs : null;
  const order = new Map(list.map((c, i) => [c.hostname, i]));
  const cmp = (a: ConductorFacts, b: ConductorFacts) => {
    const [x, y] = [value(a), value(b)];
    const c = x === y ? 0 : x === null ? -1 : y === null ? 1 : x < y ? -1 : 1;
    return c || order.get(a.hostname)! - order.get(b.hostname)!;
  };
  const sorted = [...list].sort(cmp);
  return sortDir === 'asc' ? sorted : sorted.reverse();
}

/** Ironic's next link for conductors (sort_key, sort_dir, detail, fields, limit, marker=hostname). */
export function conductorNextLink(base: string, q: ConductorListQuery, lastHostname: string): string {
  const params: [string, string][] = [
    ['sort_key', q.sortKey],
    ['sort_dir', q.sortDir],
  ];
  if (q.detailParam !== undefined) params.push(['detail', q.detailParam ? 'True' : 'False']);
  if (q.fields) params.push(['fields', q.fields.join(',')]);
  params.push(['limit', String(q.limit)], ['marker', lastHostname]);
  return `${base}/v1/conductors?${params.map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%2C/g, ',')}`).join('&')}`;
}
