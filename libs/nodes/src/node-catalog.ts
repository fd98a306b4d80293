import { monotonicMs } from '#libs/common';
import type { NodeRecord } from './node.model.js';
import { NODE_CHANGES_KEPT, type NodeRepository } from './node.repository.js';

/**
 * A full read at least this often while the catalog is used: the safety net for a write that did
 * not append to the log (a conductor of an older version during a rolling upgrade).
 */
const FULL_READ_MS = 60_000;

/**
 * Every node record in memory, as fresh as Redis on each read: a query over the fleet (Ironic's list
 * filters, sorts, Nova's periodic node list) costs one GET when nothing changed, and re-reads only
 * the nodes changed since (the node-changes log every write appends to, in the same Lua script),
 * instead of reading and parsing every node per request: at 10,000 nodes that read alone is
 * hundreds of ms of CPU. Falls back to a full read when it is too far behind or Redis was replaced.
 */
export class NodeCatalog {
  private readonly byUuid = new Map<string, NodeRecord>();
  private ordered: NodeRecord[] | undefined;
  private seenVersion = -1;
  private fullReadAtMs = 0;
  private refreshing: Promise<void> | undefined;

  constructor(private readonly repo: NodeRepository) {}

  /** Every node in creation order (Ironic's `id` order), as of this call. Do not mutate. */
  async all(): Promise<readonly NodeRecord[]> {
    await this.refresh();
    this.ordered ??= [...this.byUuid.values()].sort(byCreation);
    return this.ordered;
  }

  /** Concurrent readers share one refresh; a reader that arrives during one waits for the next. */
  private async refresh(): Promise<void> {
    while (this.refreshing) await this.refreshing;
    this.refreshing = this.sync().finally(() => (this.refreshing = undefined));
    await this.refreshing;
  }

  private async sync(): Promise<void> {
    const version = await this.repo.version();
    const stale = monotonicMs() - this.fullReadAtMs > FULL_READ_MS;
    if (version === this.seenVersion && !stale) return;
    if (stale || this.seenVersion < 0 || version < this.seenVersion || version - this.seenVersion >= NODE_CHANGES_KEPT) {
      // first read, a new (emptied) Redis, more changes than the log keeps, or the periodic safety net
      const all = await this.repo.all();
      this.byUuid.clear();
      for (const n of all) this.byUuid.set(n.uuid, n);
      this.fullReadAtMs = monotonicMs();
    } else {
      const changed = await this.repo.changedSince(this.seenVersion);
      const fresh = new Map((await this.repo.getMany(changed)).map((n) => [n.uuid, n]));
      for (const uuid of changed) {
        const n = fresh.get(uuid);
        if (n) this.byUuid.set(uuid, n);
        else this.byUuid.delete(uuid);
      }
    }
    this.ordered = undefined;
    // Reads happened after the version was read: anything newer is re-read next time (idempotent).
    this.seenVersion = version;
  }
}

/** The nodes sorted set's order: created_at, then uuid. */
function byCreation(a: NodeRecord, b: NodeRecord): number {
  return a.created_at - b.created_at || (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0);
}
