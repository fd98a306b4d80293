import type { Logger } from '#libs/logging';
import { runningStatus } from './apply-outcome.js';
import type { ConsoleEntry } from './entry.js';
import type { ClusterMembership, ConsoleClaims, ConsoleStatuses, NodeSpecs } from './ports.js';

export interface ClaimUpkeepDeps {
  /** The reconciler's consoles (read only here). */
  entries: ReadonlyMap<string, ConsoleEntry>;
  claims: ConsoleClaims;
  statuses: ConsoleStatuses;
  membership: ClusterMembership;
  specs: NodeSpecs;
  log: Logger;
  socatAddress: string;
  /** Queue a node for the reconciler's worker. */
  requeue(uuid: string): void;
}

/**
 * What each reconcile pass checks about the claims it holds, before it decides anything: every
 * running console's claim is still ours (or written back when Redis went back in time), and claims
 * left behind by consoles stopped while the lease had lapsed are given up.
 */
export class ClaimUpkeep {
  /** Claims of consoles stopped while the lease had lapsed, not given up yet: node → epoch. */
  private readonly left = new Map<string, number>();

  constructor(private readonly d: ClaimUpkeepDeps) {}

  /** A console stopped without Redis (lease lapsed, no fence known): its claim may still be ours. */
  noteLeft(uuid: string, epoch: number): void {
    this.left.set(uuid, epoch);
  }

  /**
   * A lease that lapsed for a moment (a late heartbeat on a starved machine) stops every console it
   * catches as fenced, without Redis — but when no fence followed, the incarnation is the same and the
   * claims are still ours: nobody else may take them (a live holder), and if the ring owner is another
   * conductor nothing here would start the console again either. Found by the chaos soak: consoles that
   * never served again. So each such claim is given up (with "stopped") once the lease is valid, fenced
   * by its epoch and our incarnation: one that was taken over, or held by an incarnation fenced since, is
   * left alone. A console that is still ours to run keeps it (its start takes the same claim again).
   */
  async releaseLeft(): Promise<void> {
    for (const [uuid, epoch] of [...this.left]) {
      if (!this.d.membership.leaseValid()) return;
      const e = this.d.entries.get(uuid);
      const spec = this.d.specs.peek(uuid);
      // still ours to run: the start takes the same claim again (HELD)
      const mine = !!spec && !this.d.membership.isDrained && this.d.membership.ownerOf(uuid, spec.conductor_group) === this.d.membership.memberId;
      if ((e && e.epoch === epoch) || mine) {
        this.left.delete(uuid);
        continue;
      }
      try {
        const released = await this.d.statuses.write(uuid, epoch, { state: 'stopped', url: null, pid: null, port: null }, { releaseClaim: true });
        if (released) this.d.log.info({ node: uuid, epoch }, 'gave up the claim of a console stopped while the lease had lapsed');
        this.left.delete(uuid);
      } catch {
        return; // Redis away: the next pass tries again
      }
    }
  }

  /**
   * Any console whose claim is no longer ours (taken over while we were paused) is stopped at once.
   * One whose claim Redis lost (a failover onto an older copy) has had it written back.
   */
  async verify(): Promise<void> {
    const held = [...this.d.entries.values()].filter((e) => e.epoch > 0 && !e.claimLost).map((e) => ({ e, epoch: e.epoch }));
    if (held.length === 0) return;
    const checks = await this.d.claims.confirmHeld(held.map(({ e, epoch }) => ({ uuid: e.uuid, epoch })));
    held.forEach(({ e, epoch }, i) => {
      // the queue went on meanwhile: a console stopped (handed over, released) or claimed anew is not this answer's
      if (this.d.entries.get(e.uuid) !== e || e.epoch !== epoch || e.state === 'stopped') return;
      if (checks[i] === 'held' || checks[i] === 'unknown') return;
      if (checks[i] === 'reasserted') {
        this.d.log.warn({ node: e.uuid, epoch: e.epoch }, 'Redis had lost this console’s claim (it went back in time): claim written back');
        // its observed state went back too (it may name a former owner’s URL): write it again
        if (e.console && e.port !== undefined && e.state === 'running')
          void this.d.statuses.write(e.uuid, e.epoch, runningStatus(e, e.console, e.port, this.d.socatAddress)).catch(() => false);
        return;
      }
      e.claimLost = true;
      this.d.log.warn({ node: e.uuid, epoch: e.epoch }, 'lost the claim: stopping the console at once');
      this.d.requeue(e.uuid);
    });
  }
}
