import { errorMessage, isSolgateError, type Clock } from '#libs/common';
import { fixedConsolePort, isConsolePortError, type NodeRecord } from '#libs/nodes';
import { isSocatStartError } from '../console-errors.js';
import type { Semaphore } from '../semaphore.js';
import type { Action, StopReason } from './decide.js';
import type { ConsoleEntry, ConsoleFault } from './entry.js';
import { OK_NONE, type Outcome } from './outcome.js';
import type { ClusterMembership, ConsoleClaims, ConsolePortAllocator, ConsoleProcesses, ConsoleStatuses } from './ports.js';

export interface ExecutorDeps {
  processes: ConsoleProcesses;
  ports: ConsolePortAllocator;
  claims: ConsoleClaims;
  statuses: ConsoleStatuses;
  membership: ClusterMembership;
  clock: Clock;
  /** Bounded start concurrency (a takeover of a thousand consoles queues the rest). */
  startSlots: Semaphore;
  /** Bounded stops (killing a thousand process groups at once would hold the event loop). */
  stopSlots: Semaphore;
  portRange: { start: number; stop: number };
  killTimeoutMs: number;
  closing(): boolean;
}

/** How soon to look again at a node whose claim another conductor still holds (its release nudges us sooner). */
export const CLAIM_BUSY_RETRY_MS = 1000;

/**
 * Carries out one Action over the ports and says how it went (an Outcome). It changes the entry
 * only where the action itself does (the process, the claim epoch); states, status writes, logs and
 * backoff are applyOutcome's. Exception: a console is never killed while GET could still hand out
 * its URL, so `stopping` (or `restarting`) is written first.
 */
export class ConsoleExecutor {
  constructor(private readonly d: ExecutorDeps) {}

  execute(e: ConsoleEntry, action: Action): Promise<Outcome> {
    switch (action.type) {
      case 'start':
        return this.start(e, action.node, false);
      case 'restart':
        return this.restart(e, action.node);
      case 'stop':
        return this.stop(e, action.reason, action.redis);
      case 'recover':
        return this.recover(e, action.fault);
      case 'adopt':
        return Promise.resolve({ kind: 'ok', result: { event: 'adopted', node: action.node } });
      case 'wait':
        return Promise.resolve({ kind: 'requeueAfter', ms: Math.max(0, action.untilMs - this.d.clock.monotonicMs()), why: 'backing off', drop: false });
      case 'none':
        return Promise.resolve(OK_NONE);
    }
  }

  private mayRun(): boolean {
    return !this.d.closing() && this.d.membership.leaseValid();
  }

  /** Claim (outside the start queue: a claim still held elsewhere must not occupy a start slot), then start. */
  private async start(e: ConsoleEntry, node: NodeRecord, restart: boolean): Promise<Outcome> {
    if (!this.mayRun() || !this.d.membership.identityChecked) return { kind: 'requeueAfter', ms: CLAIM_BUSY_RETRY_MS, why: 'lease not valid or Redis not checked yet', drop: e.epoch === 0 };
    const t0 = this.d.clock.monotonicMs();
    let claim;
    try {
      claim = await this.d.claims.acquire(e.uuid);
    } catch (err) {
      return { kind: 'requeueAfter', ms: CLAIM_BUSY_RETRY_MS, why: `claim not checked: ${errorMessage(err)}`, drop: e.epoch === 0 };
    }
    if (claim.status !== 'HELD' && claim.status !== 'TAKEN') {
      // BUSY: the previous owner still hands over; HOLD: Redis just came back; NOT_MEMBER: not registered
      return { kind: 'requeueAfter', ms: CLAIM_BUSY_RETRY_MS, why: `claim ${claim.status}${claim.previous ? ` (held by ${claim.previous})` : ''}`, drop: true };
    }
    e.epoch = claim.epoch;
    const tClaim = this.d.clock.monotonicMs();
    return this.d.startSlots.run(async (): Promise<Outcome> => {
      if (!this.mayRun()) return { kind: 'requeueAfter', ms: 0, why: 'lease lapsed or shutting down', drop: false };
      const tSlot = this.d.clock.monotonicMs();
      let console;
      let port: number;
      try {
        port = await this.portFor(node);
        console = await this.d.processes.start(node, port, { restart: restart || e.restarts > 0 || e.failures > 0 });
      } catch (err) {
        return failure(err);
      }
      if (!this.mayRun()) {
        await console.stop(this.d.killTimeoutMs);
        return { kind: 'requeueAfter', ms: 0, why: 'lease lapsed while starting', drop: false };
      }
      const t = this.d.clock.monotonicMs();
      const takeoverFrom = claim.status === 'TAKEN' && claim.previous && claim.previous !== this.d.membership.memberId ? claim.previous : undefined;
      const ms = { claim: Math.round(tClaim - t0), queued: Math.round(tSlot - tClaim), spawn: Math.round(console.readyAtMs - console.startedAtMs), total: Math.round(t - t0) };
      return { kind: 'ok', result: { event: 'started', console, port, restart, takeoverFrom, ms } };
    });
  }

  /** The node's sticky port: as stored with the node, else allocated cluster-wide (a fixed port that changed too). */
  private async portFor(node: NodeRecord): Promise<number> {
    const have = node.allocated_port ?? undefined;
    const fixed = fixedConsolePort(node);
    const inRange = have !== undefined && have >= this.d.portRange.start && have < this.d.portRange.stop;
    if (have !== undefined && (fixed !== undefined ? fixed === have : inRange)) return have;
    const port = await this.d.ports.allocate(node);
    node.allocated_port = port; // the cached spec knows it from now on
    return port;
  }

  private async restart(e: ConsoleEntry, node: NodeRecord): Promise<Outcome> {
    if (e.console) {
      if (e.epoch > 0) await this.d.statuses.write(e.uuid, e.epoch, { state: 'restarting', url: null, pid: null }).catch(() => false);
      const sessionWasActive = e.console.hasSession();
      await e.console.stop(this.d.killTimeoutMs);
      e.console = undefined;
      await this.d.processes.cleanup(e.node, { sessionWasActive, reason: 'restart' }).catch(() => undefined);
    }
    e.node = node;
    return this.start(e, node, true);
  }

  private async stop(e: ConsoleEntry, reason: StopReason, redis: boolean): Promise<Outcome> {
    return this.d.stopSlots.run(async (): Promise<Outcome> => {
      const t0 = this.d.clock.monotonicMs();
      const hadConsole = !!e.console;
      if (redis && e.epoch > 0 && e.console && !e.stoppingWritten)
        e.stoppingWritten = await this.d.statuses.write(e.uuid, e.epoch, { state: 'stopping', url: null }).catch(() => false);
      const sessionWasActive = e.sessionWasActive ?? e.console?.hasSession() ?? false;
      await e.console?.stop(this.d.killTimeoutMs);
      e.console = undefined;
      const tKilled = this.d.clock.monotonicMs();
      let cleanupError: string | undefined;
      try {
        if (!e.tidiedAtFence) await this.d.processes.cleanup(e.node, { sessionWasActive, reason });
      } catch (err) {
        cleanupError = errorMessage(err);
      }
      e.tidiedAtFence = false;
      const ms = { kill: Math.round(tKilled - t0), total: Math.round(this.d.clock.monotonicMs() - t0) };
      return { kind: 'ok', result: { event: 'stopped', reason, redis, hadConsole, cleanupError, ms } };
    });
  }

  private async recover(e: ConsoleEntry, fault: ConsoleFault): Promise<Outcome> {
    let uptimeMs = fault.kind === 'exited' ? fault.uptimeMs : undefined;
    if (fault.kind === 'not-listening' && e.console) {
      uptimeMs = this.d.clock.monotonicMs() - e.console.startedAtMs;
      await e.console.stop(this.d.killTimeoutMs);
      e.console = undefined;
    }
    return { kind: 'retry', failure: { kind: fault.kind, message: fault.message, uptimeMs } };
  }

  /** Self-fence: kill the process now, whatever else is in flight for the node (no Redis, no waiting in line). */
  async kill(e: ConsoleEntry): Promise<void> {
    const c = e.console;
    if (!c) return;
    e.sessionWasActive ??= c.hasSession();
    await c.stop(this.d.killTimeoutMs);
  }
}

/** A start that failed: typed errors decide between retry (with backoff) and terminal (needs a fix). */
function failure(err: unknown): Outcome {
  const message = `console failed to start: ${errorMessage(err)}`;
  if (isSocatStartError(err)) {
    const why = err.reason === 'ADDRESS_IN_USE' ? `${errorMessage(err)}; retrying with backoff (the node keeps its port)` : errorMessage(err);
    return { kind: 'retry', failure: { kind: 'start', message: `console failed to start: ${why}` } };
  }
  if (isConsolePortError(err)) {
    if (err.reason === 'GONE') return { kind: 'requeueAfter', ms: 0, why: 'node deleted', drop: false };
    return { kind: 'terminal', failure: { kind: 'start', message } };
  }
  if (isSolgateError(err) && err.code === 'INVALID_INPUT') return { kind: 'terminal', failure: { kind: 'start', message } };
  return { kind: 'retry', failure: { kind: 'start', message } };
}
