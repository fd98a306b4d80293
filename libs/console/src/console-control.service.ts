import { sleep, SolgateError } from '#libs/common';
import type { ClusterView } from '#libs/cluster';
import { assertConsoleStartable, type ConsoleStatus, type ConsoleStatusRepository, type NodeRecord, type NodeRepository } from '#libs/nodes';

/** A node's console as clients should see it. */
export interface ConsoleView {
  /** Intent enabled, and the console runs right now on a live conductor for the current generation. */
  serving: boolean;
  url: string | null;
  /** Ring owner (null when the node's group has no live conductor). */
  conductor: string | null;
  status: ConsoleStatus;
}

/**
 * Console intent and observed state, shared by the API (any conductor answers any call) and the
 * CLI: record intent (the owner hears it through pub/sub within milliseconds), and report what
 * actually runs — never a URL whose conductor is gone.
 */
export class ConsoleControl {
  constructor(
    private readonly nodes: NodeRepository,
    private readonly statuses: ConsoleStatusRepository,
    private readonly view: () => ClusterView,
  ) {}

  describe(node: NodeRecord, status: ConsoleStatus): ConsoleView {
    const view = this.view();
    const conductor = view.ownerOf(node.uuid, node.conductor_group) ?? null;
    const serving =
      node.console_enabled &&
      status.state === 'running' &&
      !!status.url &&
      status.generation === node.console_generation &&
      view.isLive(status.conductor, status.incarnation);
    return { serving, url: serving ? status.url : null, conductor, status };
  }

  async get(node: NodeRecord): Promise<ConsoleView> {
    return this.describe(node, await this.statuses.get(node.uuid));
  }

  async getMany(nodes: NodeRecord[]): Promise<ConsoleView[]> {
    const statuses = await this.statuses.getMany(nodes.map((n) => n.uuid));
    return nodes.map((n, i) => this.describe(n, statuses[i]));
  }

  /** Record the user's intent. Setting the state a node already has is accepted and changes nothing. */
  async setEnabled(node: NodeRecord, enabled: boolean): Promise<{ changed: boolean }> {
    assertConsoleStartable(node);
    return this.nodes.setConsoleIntent(node.uuid, enabled);
  }

  /**
   * Delete a node, stopping its console first (as Ironic does, synchronously): disable, wait until
   * the owner reports the console stopped (or no live conductor runs it), then remove the records.
   */
  async deleteNode(node: NodeRecord, timeoutMs: number): Promise<void> {
    // An unreadable record cannot be disabled first; deleting it makes its owner stop whatever still runs.
    if (node.record_error) return void (await this.nodes.delete(node.uuid));
    let status = await this.statuses.get(node.uuid);
    if (node.console_enabled || this.runsSomewhere(status)) {
      if (node.console_enabled) await this.nodes.setConsoleIntent(node.uuid, false);
      const deadline = Date.now() + timeoutMs;
      while (this.runsSomewhere(status) && Date.now() < deadline) {
        await sleep(20);
        status = await this.statuses.get(node.uuid);
      }
      if (this.runsSomewhere(status))
        throw new SolgateError('CONFLICT', `Node ${node.uuid} is locked by conductor ${status.conductor}: its console did not stop within ${timeoutMs} ms; retry.`);
    }
    await this.nodes.delete(node.uuid);
  }

  private runsSomewhere(status: ConsoleStatus): boolean {
    return status.state !== 'stopped' && this.view().isLive(status.conductor, status.incarnation);
  }
}
