import type { ConsoleControl, ConsoleView } from '#libs/console';
import type { ConsoleStatus, NodeRecord, NodeRepository, ConsoleStatusRepository } from '#libs/nodes';

/** One row of the web console's node list (apps/web/src/lib/node-list.ts reads it). */
export interface NodeRow {
  uuid: string;
  name: string | null;
  group: string;
  interface: string;
  /** disabled, or the console's observed state as the API derives it (running only while it serves). */
  state: string;
  owner: string | null;
  viewers: number | null;
  lastError: string | null;
}

export interface NodeListQuery {
  q?: string;
  state?: string;
  /** A conductor group; `-` is the default (empty) group. */
  group?: string;
  limit?: number;
}

export const MAX_ROWS = 500;

/** The state word the list shows, as GET /v1/nodes/X reports driver_internal_info.console_state. */
export function rowState(node: NodeRecord, v: ConsoleView): string {
  if (!node.console_enabled) return 'disabled';
  if (v.serving) return 'running';
  return v.status.state === 'stopped' ? 'starting' : v.status.state;
}

function viewersOf(status: ConsoleStatus): number | null {
  const v = (status as ConsoleStatus & { viewers?: unknown }).viewers;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * GET /ui/api/nodes: every node with its console, filtered and searched here (so a large fleet is
 * never shipped whole to a browser), in creation order, at most MAX_ROWS rows.
 */
export async function listNodes(
  nodes: NodeRepository,
  statuses: ConsoleStatusRepository,
  consoles: ConsoleControl,
  query: NodeListQuery,
): Promise<{ total: number; matched: number; groups: string[]; nodes: NodeRow[] }> {
  const uuids = await nodes.listUuids();
  const records: NodeRecord[] = [];
  const stats: ConsoleStatus[] = [];
  for (let i = 0; i < uuids.length; i += 2000) {
    const batch = await nodes.getMany(uuids.slice(i, i + 2000));
    records.push(...batch);
    stats.push(...(await statuses.getMany(batch.map((n) => n.uuid))));
  }
  const groups = [...new Set(records.map((n) => n.conductor_group))].sort();
  const q = query.q?.trim().toLowerCase();
  const group = query.group ? (query.group === '-' ? '' : query.group) : undefined;
  const limit = Math.min(MAX_ROWS, Math.max(1, query.limit ?? MAX_ROWS));
  const rows: NodeRow[] = [];
  let matched = 0;
  records.forEach((node, i) => {
    if (group !== undefined && node.conductor_group !== group) return;
    const v = consoles.describe(node, stats[i]);
    const row: NodeRow = {
      uuid: node.uuid,
      name: node.name,
      group: node.conductor_group,
      interface: node.console_interface,
      state: rowState(node, v),
      owner: v.serving ? v.status.conductor : v.conductor,
      viewers: v.serving ? viewersOf(v.status) : null,
      lastError: v.status.last_error,
    };
    if (query.state && row.state !== query.state) return;
    if (q && ![node.name ?? '', node.uuid, String(node.driver_info.ipmi_address ?? ''), row.owner ?? ''].some((s) => s.toLowerCase().includes(q))) return;
    matched++;
    if (rows.length < limit) rows.push(row);
  });
  return { total: records.length, matched, groups, nodes: rows };
}
