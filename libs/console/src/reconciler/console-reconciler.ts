import { errorMessage, type BackoffPolicy } from '#libs/common';
import type { NodeRecord } from '#libs/nodes';
import { Semaphore } from '../semaphore.js';
import { applyOutcome, type OutcomeContext, type ReconcilerCounters } from './apply-outcome.js';
import { ClaimUpkeep } from './claim-upkeep.js';
import { consoleSpecKey, decide, type DecideInput } from './decide.js';
import { newEntry, type ConsoleEntry } from './entry.js';
import { ConsoleExecutor } from './execute.js';
import { KeyedQueue } from './keyed-queue.js';
import { silentListeners } from './listener-check.js';
import type { ReconcilerPorts, RunningConsole } from './ports.js';
import { RestartPolicy } from './restart-policy.js';
import { reconcilerStats, type ReconcilerStats } from './stats.js';

export interface ReconcilerOptions {
  socatAddress: string;
  portRange: { start: number; stop: number };
  killTimeoutMs: number;
  startConcurrency: number;
  backoff?: BackoffPolicy;
}

/** A console's companion process (shellinaboxd) says itself what it is and how it ended. */
const COMPANION_EXIT_RE = /^shellinaboxd /;
/** Bounded stops: a thousand process-group kills in one burst would hold the event loop before the first claim is released. */
const STOP_CONCURRENCY = 64;

/**
 * The console reconciler, in controller-runtime's shape. Level-based: a pass computes, for every
 * console-enabled node and every console running here, decide() (pure: spec, what runs, ring owner,
 * lease, claim → one action) and queues the nodes that need one; the keyed queue runs one action per
 * node at a time; the executor carries it out over the ports; applyOutcome records the result.
 * Pub/sub nudges, process exits and listener checks only queue a node sooner; a lost message costs
 * latency, never correctness. No exception escapes a pass.
 */
export class ConsoleReconciler {
  private readonly entries = new Map<string, ConsoleEntry>();
  private readonly claimUpkeep: ClaimUpkeep;
  private readonly queue: KeyedQueue;
  private readonly executor: ConsoleExecutor;
  private readonly outcomes: OutcomeContext;
  private readonly startSlots: Semaphore;
  private readonly counters: ReconcilerCounters = { takeovers: 0, restarts: 0, startFailures: 0, starts: 0 };
  private closing = false;
  private passRunning = false;
  private passAgain = false;
  private checking = false;
  private lastPassMs = 0;

  constructor(
    private readonly opts: ReconcilerOptions,
    private readonly p: ReconcilerPorts,
  ) {
    this.startSlots = new Semaphore(opts.startConcurrency);
    this.queue = new KeyedQueue((uuid) => this.reconcile(uuid), (uuid, e) => p.log.warn({ node: uuid, err: errorMessage(e) }, 'console reconcile failed; retrying on the next pass'), p.clock);
    this.executor = new ConsoleExecutor({
      ...p,
      startSlots: this.startSlots,
      stopSlots: new Semaphore(STOP_CONCURRENCY),
      portRange: opts.portRange,
      killTimeoutMs: opts.killTimeoutMs,
      closing: () => this.closing,
    });
    this.outcomes = {
      statuses: p.statuses,
      policy: new RestartPolicy(opts.backoff),
      log: p.log,
      clock: p.clock,
      counters: this.counters,
      requeue: (uuid, ms) => this.queue.addAfter(uuid, ms),
      forget: (e) => this.entries.get(e.uuid) === e && this.entries.delete(e.uuid),
      closing: () => this.closing,
      kill: (e) => this.executor.kill(e),
      claimLeft: (uuid, epoch) => this.claimUpkeep.noteLeft(uuid, epoch),
    };
    this.claimUpkeep = new ClaimUpkeep({ ...p, entries: this.entries, socatAddress: opts.socatAddress, requeue: (uuid) => this.queue.add(uuid) });
  }

  stats(): ReconcilerStats {
    return reconcilerStats(this.entries.values(), this.counters, this.p.membership.memberId, this.opts.socatAddress, this.lastPassMs);
  }

  /** A node changed (pub/sub): re-read it and act, without waiting for the next pass. */
  nudge(uuid: string): void {
    if (this.closing) return;
    this.p.specs.invalidate(uuid);
    this.queue.add(uuid);
  }

  /** One full pass over every console-enabled node and every console here (coalesced while one runs). */
  async reconcileAll(): Promise<void> {
    if (this.closing) return;
    if (this.passRunning) {
      this.passAgain = true;
      return;
    }
    this.passRunning = true;
    try {
      do {
        this.passAgain = false;
        const t0 = this.p.clock.monotonicMs();
        await this.pass();
        this.lastPassMs = this.p.clock.monotonicMs() - t0;
      } while (this.passAgain && !this.closing);
    } catch (e) {
      this.p.log.warn({ err: errorMessage(e) }, 'reconcile pass failed; retrying on the next one');
    } finally {
      this.passRunning = false;
    }
  }

  private async pass(): Promise<void> {
    if (!this.p.membership.leaseValid()) {
      for (const uuid of this.entries.keys()) this.queue.add(uuid);
      return;
    }
    await this.p.membership.refreshView();
    const enabled = await this.p.specs.enabled();
    await this.claimUpkeep.verify();
    await this.claimUpkeep.releaseLeft();
    let i = 0;
    for (const uuid of new Set([...enabled, ...this.entries.keys()])) {
      const spec = this.p.specs.peek(uuid);
      // an enabled node whose spec is not cached (a nudge dropped it) is read by its worker
      if (spec === undefined || decide(this.input(spec, this.entries.get(uuid))).type !== 'none') this.queue.add(uuid);
      if (++i % 256 === 0) await new Promise<void>((r) => setImmediate(r)); // heartbeats and the API go on
    }
  }

  private input(spec: NodeRecord | null | undefined, entry: ConsoleEntry | undefined): DecideInput {
    const m = this.p.membership;
    return {
      spec,
      entry,
      me: m.memberId,
      owner: spec ? m.ownerOf(spec.uuid, spec.conductor_group) : undefined,
      leaseValid: m.leaseValid(),
      drained: m.isDrained,
      closing: this.closing,
      driverKnown: !!spec && this.p.drivers.has(spec.console_interface),
      takeoverHold: m.takeoverHold(),
      nowMs: this.p.clock.monotonicMs(),
    };
  }

  /** The queue's worker: decide, execute, apply. */
  private async reconcile(uuid: string): Promise<void> {
    let entry = this.entries.get(uuid);
    const spec = this.p.specs.peek(uuid) ?? (await this.p.specs.read(uuid));
    const action = decide(this.input(spec, this.entries.get(uuid)));
    if (action.type === 'none') return;
    if (!entry) this.entries.set(uuid, (entry = newEntry(spec!)));
    if ((action.type === 'start' || action.type === 'restart') && consoleSpecKey(entry.node) !== consoleSpecKey(action.node)) entry.failures = 0; // a new spec starts afresh
    if (action.type === 'start') entry.node = action.node;
    const outcome = await this.executor.execute(entry, action);
    await applyOutcome(entry, outcome, this.opts.socatAddress, this.outcomes);
    if (entry.console && outcome.kind === 'ok' && outcome.result.event === 'started') this.watch(entry, entry.console);
  }

  /** socat died on its own: record the fault; the next reconcile applies the restart policy. */
  private watch(e: ConsoleEntry, c: RunningConsole): void {
    c.onUnexpectedExit((description) => {
      if (e.console !== c) return;
      const uptimeMs = this.p.clock.monotonicMs() - c.startedAtMs;
      e.console = undefined;
      e.fault = { kind: 'exited', uptimeMs, message: `${COMPANION_EXIT_RE.test(description) ? description : `socat exited unexpectedly (${description})`} after ${Math.round(uptimeMs)} ms` };
      this.queue.add(e.uuid);
    });
  }

  /**
   * The second supervision channel (every SOLGATE_SUBPROCESS_CHECKING_INTERVAL): the kernel's socket
   * table, read off the event loop, and not while starts are in flight (a takeover needs the CPU more;
   * exit events still report dead consoles at once).
   */
  async checkListeners(): Promise<void> {
    if (this.closing || this.checking || this.startSlots.busy) return;
    const running = [...this.entries.values()].filter((e) => e.state === 'running' && e.console);
    if (running.length === 0) return;
    this.checking = true;
    try {
      for (const e of silentListeners(running, await this.p.listening(), this.opts.socatAddress)) {
        e.fault = { kind: 'not-listening', message: `socat stopped listening on port ${e.port}` };
        this.queue.add(e.uuid);
      }
    } finally {
      this.checking = false;
    }
  }

  /** A driver that runs sessions in-process reports a failed session: the listener is fine, last_error says why. */
  sessionError(uuid: string, message: string): void {
    const e = this.entries.get(uuid);
    if (!e || e.epoch === 0 || this.closing) return;
    e.lastError = message;
    void this.p.statuses.write(uuid, e.epoch, { last_error: message }).catch(() => false);
  }

  /** Resolves when no action is queued or running (tests, benchmarks, shutdown). */
  whenIdle(): Promise<void> {
    return this.queue.whenIdle();
  }

  /** Graceful leave, step 1: no new work from now on (retries cancelled). */
  beginShutdown(): void {
    this.closing = true;
    this.queue.cancelDelayed();
  }

  /**
   * Graceful leave, step 2: every console marked `stopping` at once (no client is handed a URL that is
   * about to go), then stopped, its final state written and its claim released (survivors start at once).
   */
  async shutdown(): Promise<void> {
    this.beginShutdown();
    await this.queue.whenIdle();
    const all = [...this.entries.values()];
    await Promise.all(
      all
        .filter((e) => e.console && e.epoch > 0 && !e.stoppingWritten)
        .map(async (e) => (e.stoppingWritten = await this.p.statuses.write(e.uuid, e.epoch, { state: 'stopping', url: null }).catch(() => false))),
    );
    for (const e of all) this.queue.add(e.uuid);
    await this.queue.whenIdle();
    this.queue.close();
    this.p.processes.close();
  }

  /**
   * Self-fence: the lease lapsed, so our claims are no longer ours and Redis may be unreachable. Every
   * process is killed now (not behind whatever is in flight for its node); the queue then tidies up
   * without writing to Redis. Work is accepted again after the conductor rejoins.
   */
  async fenceAll(): Promise<void> {
    this.p.specs.clear();
    const all = [...this.entries.values()];
    for (const e of all) e.claimLost = true;
    const kills = new Semaphore(STOP_CONCURRENCY);
    // The BMC session ends here too, not in the queue: a node's queue may be stuck behind a Redis call
    // that hangs (a partition), while the new owner opens its own session; a broker left alive would
    // re-open ours as soon as the lease is valid again (chaos seed 668079193, sol-session-stolen).
    const fenced = async (e: ConsoleEntry) => {
      await this.executor.kill(e);
      await this.p.processes.cleanup(e.node, { sessionWasActive: e.sessionWasActive ?? false, reason: 'fenced' }).catch(() => undefined);
      e.tidiedAtFence = true;
    };
    await Promise.all(all.map((e) => kills.run(() => fenced(e))));
    for (const e of all) this.queue.add(e.uuid);
  }
}
