import { sleep, SolgateError, systemClock, type Clock } from '#libs/common';
import type { ClusterView } from '#libs/cluster';
import { assertConsoleStartable, type ConsoleStatus, type ConsoleStatusRepository, type NodeRecord, type NodeRepository } from '#libs/nodes';
import { consolePhase, type ConsolePhase } from './console-phase.js';

/** A node's console as clients should see it. */
export interface ConsoleView {
  /** Intent enabled, and the console runs right now on a live conductor for the current generation. */
  serving: boolean;
  url: string | null;
  /** Ring owner (null when the node's group has no live conductor). */
  conductor: string | null;
  status: ConsoleStatus;
  phase: ConsolePhase;
}

/** Is `member` alive with `incarnation` right now (read fresh, see MembershipRepository.isLiveNow)? */
export type LivenessCheck = (member: string, incarnation: string) => Promise<boolean>;

/** Something that says "the node's console state (or intent) changed" (pub/sub), so waiting needs no tight poll. */
export interface ConsoleSignals {
  /** Resolves at the next change of `uuid`, or after `timeoutMs`. */
  next(uuid: string, timeoutMs: number): Promise<void>;
}

/**
 * Fallback while waiting for a signal: a message lost (or raced by the read) costs at most this. Waits
 * are woken by the owner's own writes, so a thousand PUTs waiting at once cost Redis next to nothing.
 */
const WAIT_POLL_MS = 1000;

/**
 * Console intent and observed state, shared by the API (any conductor answers any call) and the
 * CLI: record intent (the owner hears it through pub/sub within milliseconds), and report what
 * actually runs — never a URL whose conductor is gone or whose console is being stopped.
 */
export class ConsoleControl {
  constructor(
    private readonly nodes: NodeRepository,
    private readonly statuses: ConsoleStatusRepository,
    private readonly view: () => ClusterView,
    /** A fresh check for single-node answers (the API's GET); without it, the cached view decides. */
    private readonly liveNow?: LivenessCheck,
    private readonly clock: Clock = systemClock,
  ) {}

  /** From what was read: liveness by the cluster view (lists, the CLI). */
  describe(node: NodeRecord, status: ConsoleStatus, reporterLive?: boolean): ConsoleView {
    const view = this.view();
    const conductor = view.ownerOf(node.uuid, node.conductor_group) ?? null;
    const phase = consolePhase(node, status, { owner: conductor, reporterLive: reporterLive ?? view.isLive(status.conductor, status.incarnation) });
    return { serving: phase.serving, url: phase.url, conductor, status, phase };
  }

  /** One node, with its reporter's liveness read fresh when this control has a LivenessCheck. */
  async get(node: NodeRecord, status?: ConsoleStatus): Promise<ConsoleView> {
    status ??= await this.statuses.get(node.uuid);
    let live: boolean | undefined;
    // Only a console that may be running needs the fresh check; for the rest the view's word is enough.
    if (this.liveNow && status.state !== 'stopped' && status.conductor && status.incarnation) live = await this.liveNow(status.conductor, status.incarnation);
    return this.describe(node, status, live);
  }

  async getMany(nodes: NodeRecord[]): Promise<ConsoleView[]> {
    const statuses = await this.statuses.getMany(nodes.map((n) => n.uuid));
    return nodes.map((n, i) => this.describe(n, statuses[i]));
  }

  /** Record the user's intent. Setting the state a node already has is accepted and changes nothing. */
  async setEnabled(node: NodeRecord, enabled: boolean): Promise<{ changed: boolean; generation: number }> {
    assertConsoleStartable(node);
    return this.nodes.setConsoleIntent(node.uuid, enabled);
  }

  /**
   * Wait (at most `timeoutMs`) until the owner has acted on the intent: the console serves (enable)
   * or nothing live runs it (disable); returns at once when waiting cannot help (no conductor for the
   * node's group, the console in error, the intent changed again). Woken by `signals`, with a short
   * poll as the fallback. Returns the last view.
   */
  async awaitSettled(uuid: string, enabled: boolean, timeoutMs: number, signals?: ConsoleSignals): Promise<ConsoleView | undefined> {
    const deadline = this.clock.monotonicMs() + timeoutMs;
    for (;;) {
      const [node, status] = await Promise.all([this.nodes.get(uuid), this.statuses.get(uuid)]);
      if (!node) return undefined;
      const v = await this.get(node, status);
      if (v.phase.settled(enabled) || v.phase.terminalReason(enabled) !== undefined || (enabled && v.phase.label === 'no conductor')) return v;
      const left = deadline - this.clock.monotonicMs();
      if (left <= 0) return v;
      await (signals ? signals.next(uuid, Math.min(left, WAIT_POLL_MS)) : sleep(Math.min(left, WAIT_POLL_MS)));
    }
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
