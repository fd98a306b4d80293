import { SolgateError } from '#libs/common';
import type { ClusterView } from '#libs/cluster';
import type { ConsoleControl } from '#libs/console';
import {
  CONSOLE_STATE_FIELDS,
  compareSortable,
  matchesFilters,
  nextLink,
  nodeDocument,
  nodeLastError,
  pageAfter,
  sortValue,
  type ApiVersion,
  type NodeListQuery,
  type SortableNode,
} from '#libs/ironic';
import { NodeCatalog, STOPPED_STATUS, type NodeRecord, type NodeRepository } from '#libs/nodes';

/**
 * Runs a validated node list query, never one Redis round trip per node:
 * - instance_uuid (Nova, on every call): one HGET in the instance index;
 * - anything else: filtered, sorted and paged over the in-memory catalog (one GET when nothing
 *   changed, the changed nodes otherwise).
 * Console state is read only for the nodes of the page, and only when a shown field needs it.
 */
export class NodeListing {
  private readonly catalog: NodeCatalog;

  constructor(
    private readonly nodes: NodeRepository,
    private readonly consoles: ConsoleControl,
    private readonly view: () => ClusterView,
  ) {
    this.catalog = new NodeCatalog(nodes);
  }

  async list(q: NodeListQuery, base: string, version: ApiVersion): Promise<Record<string, unknown>> {
    const page = await this.page(q);
    const items = await this.render(page, q.fields, base, version);
    const out: Record<string, unknown> = { nodes: items };
    // Ironic: a full page has a next link, except for an instance_uuid lookup (limit forced to 0).
    if (page.length > 0 && page.length === q.limit && q.filters.instance_uuid === undefined) out.next = nextLink(base, q, page[page.length - 1].uuid);
    return out;
  }

  /** Node documents for a page: full (fields undefined) or Ironic's projection of the given fields. */
  async render(page: NodeRecord[], fields: readonly string[] | undefined, base: string, version: ApiVersion): Promise<Record<string, unknown>[]> {
    const needsConsoleState = !fields || fields.some((f) => CONSOLE_STATE_FIELDS.includes(f));
    if (needsConsoleState) {
      const views = await this.consoles.getMany(page);
      return page.map((n, i) =>
        nodeDocument(n, { base, version, conductor: views[i].conductor, status: views[i].status, consoleServing: views[i].serving, consoleState: views[i].phase.label }, fields),
      );
    }
    const view = this.view();
    return page.map((n) => nodeDocument(n, { base, version, conductor: view.ownerOf(n.uuid, n.conductor_group) ?? null, status: STOPPED_STATUS, consoleServing: false }, fields));
  }

  private async page(q: NodeListQuery): Promise<NodeRecord[]> {
    const f = q.filters;
    const view = this.view();
    const ownerOf = (n: NodeRecord) => () => view.ownerOf(n.uuid, n.conductor_group) ?? null;
    if (f.instance_uuid !== undefined && q.marker === undefined) {
      const uuid = await this.nodes.uuidForInstance(f.instance_uuid);
      const found = uuid ? await this.nodes.getMany([uuid]) : [];
      return found.filter((n) => matchesFilters(n, f, ownerOf(n))).slice(0, q.limit);
    }
    const all = await this.catalog.all();
    const ids = new Map(all.map((n, i) => [n.uuid, i]));
    if (q.marker !== undefined && !ids.has(q.marker)) throw new SolgateError('NODE_NOT_FOUND', `Node ${q.marker} could not be found.`);
    const matching = all.filter((n) => matchesFilters(n, f, ownerOf(n)));
    const lastErrors = q.sortKey === 'last_error' ? await this.lastErrors([...matching, ...(q.marker ? [all[ids.get(q.marker)!]] : [])]) : undefined;
    const sortable = (n: NodeRecord): SortableNode => ({ node: n, id: ids.get(n.uuid)!, value: sortValue(n, q.sortKey, lastErrors?.get(n.uuid)) });
    const sorted = matching.map(sortable).sort((a, b) => compareSortable(a, b, q.sortDir));
    const marker = q.marker !== undefined ? sortable(all[ids.get(q.marker)!]) : undefined;
    return pageAfter(sorted, marker, q.limit, q.sortDir).map((s) => s.node);
  }

  private async lastErrors(nodes: NodeRecord[]): Promise<Map<string, string | null>> {
    const views = await this.consoles.getMany(nodes);
    return new Map(nodes.map((n, i) => [n.uuid, nodeLastError(n, { conductor: views[i].conductor, status: views[i].status })]));
  }
}
