import type { ConsoleControl } from '#libs/console';
import type { NodeRecord, NodeRepository, WritableNodeFields } from '#libs/nodes';
import type { SyncTarget } from './ironic-sync.js';

/**
 * The sync's writes through solgate's own repositories and Lua scripts (the same ones the API and
 * `solgate nodes` use): create and compare-and-set update of node records, and deletion that stops
 * a running console first.
 */
export class NodeRepositoryTarget implements SyncTarget {
  constructor(
    private readonly nodes: NodeRepository,
    private readonly consoles: ConsoleControl,
    private readonly deleteTimeoutMs = 15_000,
  ) {}

  async listNodes(): Promise<NodeRecord[]> {
    const uuids = await this.nodes.listUuids();
    const out: NodeRecord[] = [];
    for (let i = 0; i < uuids.length; i += 2000) out.push(...(await this.nodes.getMany(uuids.slice(i, i + 2000))));
    return out;
  }

  get(uuid: string): Promise<NodeRecord | undefined> {
    return this.nodes.get(uuid);
  }

  create(fields: WritableNodeFields): Promise<NodeRecord> {
    return this.nodes.create(fields, 'enroll');
  }

  update(node: NodeRecord, fields: WritableNodeFields): Promise<NodeRecord> {
    return this.nodes.update(node, fields);
  }

  delete(node: NodeRecord): Promise<void> {
    return this.consoles.deleteNode(node, this.deleteTimeoutMs);
  }
}
