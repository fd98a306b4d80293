import { backoffDelayMs, DEFAULT_BACKOFF, errorMessage, isSolgateError, monotonicMs, type BackoffPolicy } from '#libs/common';
import type { ClaimRepository, ClaimResult, MembershipService } from '#libs/cluster';
import type { Logger } from '#libs/logging';
import { NodeRepository, type ConsoleInterface, type ConsoleState, type ConsoleStatus, type ConsoleStatusRepository, type NodeRecord } from '#libs/nodes';
import type { ConsoleDriver } from './console-driver.js';
import type { PidDirectory } from './pid-dir.js';
import { PortAllocator } from './port-allocator.js';
import { ProcessLauncher } from './process-launcher.js';
import { Semaphore } from './semaphore.js';
import type { ConsoleTlsFiles } from './argv.js';
import { readListeningSockets, socketKey } from './socket-table.js';
import { describeExit, SocatConsoleProcess } from './socat-console.process.js';

export interface SupervisorOptions {
  socatAddress: string;
  portRange: { start: number; stop: number };
  terminalTimeoutS: number;
  /** TLS on console ports (SOLGATE_CONSOLE_TLS_*); undefined = plain TCP. */
  consoleTls?: ConsoleTlsFiles;
  subprocessTimeoutMs: number;
  killTimeoutMs: number;
  startConcurrency: number;
  heartbeatTimeoutMs: number;
  backoff?: BackoffPolicy;
}

/** Full re-read of the enabled nodes at least this often, whatever the nodes version says. */
const FULL_READ_MS = 30_000;

/** Checks in a row a running console may be found not listening before it is restarted. */
const MISSED_LISTEN_CHECKS = 2;

/** What the supervisor knows about one console it runs (or is about to run, or retries). */
interface Entry {
  uuid: string;
  node: NodeRecord;
  proc?: SocatConsoleProcess;
  port?: number;
  /** Claim epoch held; 0 = none. */
  epoch: number;
  state: ConsoleState;
  failures: number;
  restarts: number;
  lastError: string | null;
  retryTimer?: NodeJS.Timeout;
  startedAt: number | null;
  /** Consecutive listener checks that did not find the port listening. */
  missedChecks: number;
}

export interface SupervisorStats {
  byState: Record<ConsoleState, number>;
  owned: number;
  takeovers: number;
  restarts: number;
  startFailures: number;
  starts: number;
  lastPassMs: number;
}

/**
 * The reconciler (level-based, as in controller-runtime): it repeatedly computes
 *   want = { node | intent enabled, ring owner is me, lease valid, I hold (or can take) its claim }
 * and makes the process table match — start, stop, restart with backoff — whatever messages were
 * lost on the way. Pub/sub nudges only make a pass come sooner; a full pass runs every second.
 * Each node's actions are serialized; starts share a bounded queue so a takeover of a thousand
 * consoles neither stalls the event loop nor starves heartbeats. No exception escapes a pass.
 */
export class ConsoleSupervisor {
  private readonly entries = new Map<string, Entry>();
  /** Specs of console-enabled nodes, by uuid, refreshed when their stamp changes. */
  private readonly specs = new Map<string, NodeRecord>();
  private readonly scheduled = new Map<string, { dirty: boolean }>();
  /** What enabledNodes() read last. */
  private known = { version: -1, readAtMs: 0, enabled: [] as string[] };
  private readonly starts: Semaphore;
  private readonly ports: PortAllocator;
  private readonly launcher = new ProcessLauncher();
  private readonly backoff: BackoffPolicy;
  private passRunning = false;
  private checking = false;
  private passAgain = false;
  private closing = false;
  private readonly counters = { takeovers: 0, restarts: 0, startFailures: 0, starts: 0 };
  private lastPassMs = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly opts: SupervisorOptions,
    private readonly nodes: NodeRepository,
    private readonly statuses: ConsoleStatusRepository,
    private readonly claims: ClaimRepository,
    private readonly membership: MembershipService,
    private readonly pidDir: PidDirectory,
    private readonly drivers: ReadonlyMap<ConsoleInterface, ConsoleDriver>,
    private readonly log: Logger,
  ) {
    this.starts = new Semaphore(opts.startConcurrency);
    this.ports = new PortAllocator(opts.socatAddress, opts.portRange);
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    for (const d of drivers.values()) d.onSessionError = (uuid, message) => this.sessionError(uuid, message);
  }

  get me(): string {
    return this.membership.memberId;
  }

  stats(): SupervisorStats {
    const byState: Record<ConsoleState, number> = { stopped: 0, starting: 0, running: 0, restarting: 0, error: 0 };
    for (const e of this.entries.values()) byState[e.state]++;
    return { byState, owned: this.entries.size, ...this.counters, lastPassMs: this.lastPassMs };
  }

  /** A node changed (pub/sub): re-read it and act, without waiting for the next full pass. */
  nudge(uuid: string): void {
    if (this.closing) return;
    this.specs.delete(uuid);
    this.schedule(uuid);
  }

  /** Forget what was read: the next pass reads every enabled node again (after a fence, a Redis restart). */
  private forgetNodes(): void {
    this.specs.clear();
    this.known = { version: -1, readAtMs: 0, enabled: [] };
  }

  /** One full pass over every console-enabled node and every console we run. */
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
        const t0 = monotonicMs();
        await this.pass();
        this.lastPassMs = monotonicMs() - t0;
      } while (this.passAgain && !this.closing);
    } catch (e) {
      this.log.warn({ err: errorMessage(e) }, 'reconcile pass failed; retrying on the next one');
    } finally {
      this.passRunning = false;
    }
  }

  private async pass(): Promise<void> {
    if (this.closing) return;
    if (!this.membership.leaseValid()) {
      if (this.entries.size > 0) await this.stopAll('lease not valid', { redis: false });
      return;
    }
    await this.membership.refreshView();
    const enabled = await this.enabledNodes();
    await this.verifyClaims();
    let i = 0;
    for (const uuid of new Set([...enabled, ...this.entries.keys()])) {
      if (this.needsAction(uuid)) this.schedule(uuid);
      // a pass over thousands of nodes must not hold the event loop (heartbeats, API)
      if (++i % 256 === 0) await yieldToEventLoop();
    }
  }

  /**
   * Cheap, synchronous pre-check of evaluate(): most nodes in a pass need nothing (running with the
   * same spec, or not ours and not running here). Only the others get an evaluation scheduled.
   */
  private needsAction(uuid: string): boolean {
    const node = this.specs.get(uuid);
    const e = this.entries.get(uuid);
    if (!node) return !!e;
    if (!this.wants(node)) return !!e;
    if (!e) return true;
    if (e.epoch === 0 && e.proc) return true;
    const same = NodeRepository.stampOf(e.node) === NodeRepository.stampOf(node);
    if (same && (e.proc?.running || e.retryTimer)) return false;
    return true;
  }

  /**
   * The console-enabled nodes and their specs. Re-read only when the nodes version moved (every
   * change that matters bumps it) or every FULL_READ_MS as a safety net: a pass over 5,000 quiet
   * nodes then costs one GET instead of 5,000 reads, on every conductor, every second.
   */
  private async enabledNodes(): Promise<string[]> {
    const version = await this.nodes.version();
    const now = monotonicMs();
    if (version === this.known.version && now - this.known.readAtMs < FULL_READ_MS) return this.known.enabled;
    const enabled = await this.nodes.consoleEnabledUuids();
    const stamps = await this.nodes.stamps(enabled);
    const enabledSet = new Set(enabled);
    for (const uuid of this.specs.keys()) if (!enabledSet.has(uuid)) this.specs.delete(uuid);
    const stale = enabled.filter((u, i) => stamps[i] !== null && (!this.specs.has(u) || NodeRepository.stampOf(this.specs.get(u)!) !== stamps[i]));
    for (const n of await this.nodes.getMany(stale)) this.specs.set(n.uuid, n);
    this.known = { version, readAtMs: now, enabled };
    return enabled;
  }

  /** Stop at once any console whose claim is no longer ours (e.g. taken over while we were paused). */
  private async verifyClaims(): Promise<void> {
    const held = [...this.entries.values()].filter((e) => e.epoch > 0);
    if (held.length === 0) return;
    const claims = await this.claims.getMany(held.map((e) => e.uuid));
    held.forEach((e, i) => {
      const c = claims[i];
      if (e.epoch > 0 && (!c || c.member !== this.me || c.incarnation !== this.membership.incarnation || c.epoch !== e.epoch)) {
        this.log.warn({ node: e.uuid, holder: c?.member ?? null }, 'lost the claim: stopping the console at once');
        e.epoch = 0;
        this.schedule(e.uuid);
      }
    });
  }

  /** Run evaluate(uuid) soon; coalesce requests while one is running. */
  private schedule(uuid: string): void {
    const s = this.scheduled.get(uuid);
    if (s) {
      s.dirty = true;
      return;
    }
    const state = { dirty: false };
    this.scheduled.set(uuid, state);
    void (async () => {
      try {
        do {
          state.dirty = false;
          await this.evaluate(uuid);
        } while (state.dirty && !this.closing);
      } catch (e) {
        this.log.warn({ node: uuid, err: errorMessage(e) }, 'console evaluation failed; retrying on the next pass');
      } finally {
        this.scheduled.delete(uuid);
        if (this.scheduled.size === 0) for (const w of this.idleWaiters.splice(0)) w();
      }
    })();
  }

  /**
   * The second supervision channel (every SOLGATE_SUBPROCESS_CHECKING_INTERVAL): exit events tell
   * us when socat dies; this tells us when a live socat no longer listens (read from the kernel's
   * socket table, never by connecting). Such a console is restarted like one that died.
   */
  async checkListeners(): Promise<void> {
    // The kernel's socket table is read off the event loop, and not while starts are in flight
    // (a takeover needs the CPU more; exit events still report dead consoles at once).
    if (this.closing || this.checking || this.starts.busy) return;
    const running = [...this.entries.values()].filter((e) => e.state === 'running' && e.proc?.running && e.port !== undefined);
    if (running.length === 0) return;
    this.checking = true;
    let sockets: Set<string>;
    try {
      sockets = await readListeningSockets();
    } finally {
      this.checking = false;
    }
    for (const e of running) {
      if (e.state !== 'running' || !e.proc?.running) continue;
      if (sockets.has(socketKey(this.opts.socatAddress, e.port!))) {
        e.missedChecks = 0;
        continue;
      }
      if (++e.missedChecks < MISSED_LISTEN_CHECKS) continue;
      e.missedChecks = 0;
      const proc = e.proc!;
      this.log.warn({ node: e.uuid, conductor: this.me, port: e.port }, 'console no longer listens: restarting it');
      e.proc = undefined;
      e.restarts++;
      this.counters.restarts++;
      void proc
        .stop(this.opts.killTimeoutMs)
        .then(() => this.failed(e, `socat stopped listening on port ${e.port}`, false, true))
        .catch(() => undefined);
    }
  }

  /** Resolves when no evaluation is queued or running (tests, benchmarks, shutdown). */
  whenIdle(): Promise<void> {
    if (this.scheduled.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private wants(node: NodeRecord | undefined): node is NodeRecord {
    if (!node || !node.console_enabled || this.closing) return false;
    if (!this.drivers.has(node.console_interface)) return false;
    if (this.membership.isDrained || !this.membership.leaseValid()) return false;
    return this.membership.view.ownerOf(node.uuid, node.conductor_group) === this.me;
  }

  private async evaluate(uuid: string): Promise<void> {
    let node = this.specs.get(uuid);
    if (!node) {
      node = await this.nodes.get(uuid);
      if (node?.console_enabled) this.specs.set(uuid, node);
    }
    const e = this.entries.get(uuid);
    if (!this.wants(node)) {
      if (e) await this.stopEntry(e, node ? 'console no longer wanted here' : 'node deleted');
      return;
    }
    if (e && e.epoch === 0 && e.proc) {
      // claim lost (verifyClaims): stop without touching the new owner's state
      await this.stopEntry(e, 'claim lost', { release: false, writeStatus: false });
      return;
    }
    const entry = e ?? this.newEntry(node);
    const sameSpec = NodeRepository.stampOf(entry.node) === NodeRepository.stampOf(node);
    if (entry.proc?.running && sameSpec) return;
    if (entry.proc?.running && !sameSpec) {
      this.log.info({ node: uuid, conductor: this.me }, 'console spec or generation changed: restarting');
      await this.stopProcess(entry);
      entry.failures = 0;
    }
    if (entry.retryTimer && sameSpec) return; // backing off; the timer will come back here
    if (entry.retryTimer) {
      clearTimeout(entry.retryTimer);
      entry.retryTimer = undefined;
      entry.failures = 0;
    }
    entry.node = node;
    const claim = await this.claim(entry);
    if (claim) await this.starts.run(() => this.start(entry, claim));
  }

  private newEntry(node: NodeRecord): Entry {
    const e: Entry = { uuid: node.uuid, node, epoch: 0, state: 'stopped', failures: 0, restarts: 0, lastError: null, startedAt: null, missedChecks: 0 };
    this.entries.set(node.uuid, e);
    return e;
  }

  private fence(e: Entry) {
    return { member: this.me, incarnation: this.membership.incarnation, epoch: e.epoch };
  }

  private async writeStatus(e: Entry, patch: Partial<ConsoleStatus>): Promise<boolean> {
    if (e.epoch === 0) return false;
    return this.statuses.write(e.uuid, this.fence(e), { ...patch, updated_at: Date.now() });
  }

  /**
   * A client session failed or was lost (reported by a driver that runs sessions in-process): the
   * listener is fine, so the state stays; the reason goes into last_error (fenced write).
   */
  private sessionError(uuid: string, message: string): void {
    const e = this.entries.get(uuid);
    if (!e || e.epoch === 0 || this.closing) return;
    e.lastError = message;
    void this.writeStatus(e, { last_error: message }).catch(() => false);
  }

  /**
   * Take (or confirm) the node's claim — before every start and restart, and outside the start
   * queue: a claim still held by a conductor that is handing over (BUSY) must not occupy a start
   * slot; its release nudges us. Returns the claim result, or undefined when we may not start.
   */
  private async claim(e: Entry): Promise<ClaimResult | undefined> {
    if (this.closing || this.entries.get(e.uuid) !== e || e.proc?.running) return undefined;
    if (!this.membership.leaseValid() || !this.membership.identityChecked) return undefined;
    const claim = await this.claims.acquire(e.uuid, this.me, this.membership.incarnation, this.opts.heartbeatTimeoutMs);
    if (claim.status !== 'HELD' && claim.status !== 'TAKEN') {
      // BUSY: the previous owner still hands over (its release nudges us); HOLD: Redis just came
      // back; NOT_MEMBER: we are not registered. Nothing runs; the next pass tries again.
      if (e.epoch === 0 && !e.proc) this.entries.delete(e.uuid);
      return undefined;
    }
    if (claim.status === 'TAKEN' && claim.previous && claim.previous !== this.me) {
      this.counters.takeovers++;
      this.log.info({ node: e.uuid, conductor: this.me, from: claim.previous, epoch: claim.epoch }, 'took over console');
    }
    e.epoch = claim.epoch;
    return claim;
  }

  private async start(e: Entry, claim: ClaimResult): Promise<void> {
    if (this.closing || this.entries.get(e.uuid) !== e || e.proc?.running) return;
    if (!this.membership.leaseValid()) return;
    const t0 = monotonicMs();
    const node = e.node;
    const driver = this.drivers.get(node.console_interface)!;
    const restarting = e.failures > 0;
    // `error` stays `error` through its slow retries until one succeeds: it must not flicker.
    const inError = e.state === 'error';
    if (!inError) e.state = restarting ? 'restarting' : 'starting';
    let previousPort = e.port;
    this.ports.release(e.port); // kept across a restart so the URL stays; re-taken just below
    if (previousPort === undefined && claim.previous === this.me) {
      // an earlier incarnation of this conductor ran it: keep its URL
      const st = await this.statuses.get(e.uuid);
      if (st.conductor === this.me && st.port) previousPort = st.port;
    }
    // A first start needs no intermediate write (the API derives "starting" from intent); a
    // restart reports itself so nobody reads a stale "running".
    if (restarting && !inError) await this.writeStatus(e, { state: e.state, generation: node.console_generation, rev: node.rev, last_error: e.lastError, restarts: e.restarts, url: null, pid: null });
    const fixedPort = node.driver_info.ipmi_terminal_port !== undefined ? Number(node.driver_info.ipmi_terminal_port) : undefined;
    const exclude = new Set<number>();
    const tClaimed = monotonicMs(); // claim confirmed, status written
    let tSpawn = 0;
    try {
      const peer = await driver.prepare(node);
      for (let attempt = 0; ; attempt++) {
        const port = await this.ports.allocate(fixedPort ?? previousPort, fixedPort !== undefined, exclude);
        if (restarting) await this.pidDir.removeLock(e.uuid); // a socat killed by SIGKILL leaves its -L lock file behind
        const proc = new SocatConsoleProcess(
          { address: this.opts.socatAddress, port, pidFile: this.pidDir.pidFile(e.uuid), terminalTimeoutS: this.opts.terminalTimeoutS, peer, tls: this.opts.consoleTls },
          this.launcher,
        );
        try {
          tSpawn = monotonicMs();
          await proc.start(this.opts.subprocessTimeoutMs);
          e.proc = proc;
          e.port = port;
          break;
        } catch (err) {
          this.ports.release(port);
          if (/Address already in use/i.test(errorMessage(err)) && fixedPort === undefined && attempt < 5) {
            exclude.add(port);
            previousPort = undefined;
            continue;
          }
          throw err;
        }
      }
    } catch (err) {
      await this.failed(e, `console failed to start: ${errorMessage(err)}`, isSolgateError(err) && err.code === 'INVALID_INPUT');
      return;
    }
    const proc = e.proc!;
    proc.once('exit', (exit) => void this.onExit(e, proc, exit));
    if (!this.membership.leaseValid() || this.closing) {
      await this.stopEntry(e, 'lease lapsed while starting', { release: false, writeStatus: false });
      return;
    }
    e.state = 'running';
    e.startedAt = Date.now();
    this.counters.starts++;
    const url = consoleUrl(this.opts.socatAddress, e.port!);
    const ok = await this.writeStatus(e, {
      state: 'running',
      url,
      port: e.port!,
      pid: proc.socatPid ?? proc.pid ?? null,
      generation: node.console_generation,
      rev: node.rev,
      last_error: e.lastError,
      restarts: e.restarts,
      started_at: e.startedAt,
    });
    if (!ok) {
      await this.stopEntry(e, 'claim lost while starting', { release: false, writeStatus: false });
      return;
    }
    const t = monotonicMs();
    this.log.info(
      { node: e.uuid, conductor: this.me, pid: proc.socatPid, url, epoch: e.epoch, ms: { setup: Math.round(tClaimed - t0), prepare: Math.round(tSpawn - tClaimed), spawn: Math.round(proc.readyAtMs - tSpawn), total: Math.round(t - t0) } },
      restarting ? 'console restarted' : 'console started',
    );
  }

  /** socat died on its own: record why, restart with backoff (same port, so the URL stays). */
  private async onExit(e: Entry, proc: SocatConsoleProcess, exit: Parameters<typeof describeExit>[0]): Promise<void> {
    if (e.proc !== proc || proc.isStopping || this.closing) return;
    e.proc = undefined;
    const uptime = monotonicMs() - proc.startedAtMs;
    if (uptime >= this.backoff.minUptimeMs) e.failures = 0;
    e.restarts++;
    this.counters.restarts++;
    await this.failed(e, `socat exited unexpectedly (${describeExit(exit)}) after ${Math.round(uptime)} ms`, false, true);
  }

  private async failed(e: Entry, message: string, terminal: boolean, keepPort = false): Promise<void> {
    e.failures++;
    this.counters.startFailures += keepPort ? 0 : 1;
    e.lastError = message;
    e.state = terminal || e.failures >= this.backoff.errorAfter ? 'error' : 'restarting';
    if (!keepPort) {
      this.ports.release(e.port);
    }
    const delay = terminal ? this.backoff.maxDelayMs : backoffDelayMs(this.backoff, e.failures);
    this.log.warn({ node: e.uuid, conductor: this.me, state: e.state, retryInMs: delay, err: message }, 'console failed');
    await this.writeStatus(e, { state: e.state, last_error: message, restarts: e.restarts, url: null, pid: null }).catch(() => false);
    if (this.closing) return;
    e.retryTimer = setTimeout(() => {
      e.retryTimer = undefined;
      this.specs.delete(e.uuid);
      this.schedule(e.uuid);
    }, delay);
  }

  /** Kill socat and clean up after the driver; keeps the claim and the entry. */
  private async stopProcess(e: Entry): Promise<void> {
    const proc = e.proc;
    if (!proc) return;
    const sessionWasActive = proc.hasSession();
    await proc.stop(this.opts.killTimeoutMs);
    e.proc = undefined;
    await this.cleanupDriver(e, sessionWasActive);
  }

  private async cleanupDriver(e: Entry, sessionWasActive: boolean): Promise<void> {
    try {
      const driver = this.drivers.get(e.node.console_interface);
      await (driver ? driver.cleanup(e.node, { sessionWasActive }) : this.pidDir.removeNodeFiles(e.uuid));
    } catch (err) {
      this.log.warn({ node: e.uuid, err: errorMessage(err) }, 'console cleanup failed');
    }
  }

  private async stopEntry(e: Entry, reason: string, { release = true, writeStatus = true } = {}): Promise<void> {
    if (e.retryTimer) clearTimeout(e.retryTimer);
    e.retryTimer = undefined;
    const hadProc = !!e.proc;
    const t0 = monotonicMs();
    await this.stopProcess(e);
    const tKilled = monotonicMs();
    // no socat (backing off after a failure): the driver may still hold what prepare() set up
    if (!hadProc) await this.cleanupDriver(e, false);
    this.ports.release(e.port);
    if (this.entries.get(e.uuid) === e) this.entries.delete(e.uuid);
    if (e.epoch > 0) {
      if (writeStatus) await this.writeStatus(e, { state: 'stopped', url: null, pid: null, port: null, last_error: e.lastError }).catch(() => false);
      if (release) await this.claims.release(e.uuid, this.me, this.membership.incarnation, e.epoch).catch(() => false);
    }
    e.state = 'stopped';
    if (hadProc) this.log.info({ node: e.uuid, conductor: this.me, reason, ms: { kill: Math.round(tKilled - t0), total: Math.round(monotonicMs() - t0) } }, 'console stopped');
  }

  /**
   * Stop everything. `redis: false` when the lease lapsed: our claims are no longer ours to write
   * (and Redis may be unreachable), so only processes are stopped.
   */
  async stopAll(reason: string, { redis }: { redis: boolean }): Promise<void> {
    // Bounded: killing a thousand process groups in one synchronous burst would hold the event loop
    // for most of a second before the first claim is released; in batches, handovers flow at once.
    const stops = new Semaphore(64);
    const all = [...this.entries.values()];
    await Promise.all(all.map((e) => stops.run(() => this.stopEntry(e, reason, { release: redis, writeStatus: redis }))));
  }

  /** Graceful leave, step 1: no new work from now on. */
  beginShutdown(): void {
    this.closing = true;
    for (const e of this.entries.values()) if (e.retryTimer) clearTimeout(e.retryTimer);
  }

  /** Graceful leave, step 2: every console stopped and its claim released (survivors start at once). */
  async shutdown(reason = 'conductor stopping'): Promise<void> {
    this.beginShutdown();
    await this.whenIdle();
    await this.stopAll(reason, { redis: true });
    this.launcher.close();
  }

  /** Stop processes only (self-fence), and accept work again afterwards. */
  async fenceAll(reason: string): Promise<void> {
    await this.stopAll(reason, { redis: false });
    this.forgetNodes();
  }

}

const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

export function consoleUrl(address: string, port: number): string {
  return `tcp://${address.includes(':') ? `[${address}]` : address}:${port}`;
}
