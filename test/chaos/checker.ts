import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { ClaimRepository, listSolgateConnections, type Claim } from '#libs/cluster';
import { readListeningSockets } from '#libs/console';
import { ConsoleStatusRepository } from '#libs/nodes';
import { createRedisClient, closeRedisClient, Keys } from '#libs/redis';
import type { Redis } from 'ioredis';
import { listProcesses, type ProcInfo } from '../support/procs.js';
import type { ChaosTopology } from './topology.js';

/** What the checker believes about one conductor at a moment (set by whoever injects faults). */
export type Health = 'up' | 'down' | 'paused' | 'partitioned' | 'slow' | 'resuming' | 'stopping';

/** States in which a conductor runs code and talks to Redis: its listeners are real consoles. */
export const HEALTHY: readonly Health[] = ['up', 'slow', 'stopping'];

export class HealthTimeline {
  private readonly events = new Map<string, { t: number; health: Health }[]>();

  set(id: string, health: Health, t = Date.now()): void {
    const list = this.events.get(id) ?? [];
    if (list.length === 0 || list[list.length - 1].health !== health) list.push({ t, health });
    this.events.set(id, list);
  }

  at(id: string, t: number): Health {
    const list = this.events.get(id) ?? [];
    let h: Health = 'down';
    for (const e of list) {
      if (e.t > t) break;
      h = e.health;
    }
    return h;
  }

  now(id: string): Health {
    const list = this.events.get(id) ?? [];
    return list.length ? list[list.length - 1].health : 'down';
  }

  /** When the current state began. */
  since(id: string): number {
    const list = this.events.get(id) ?? [];
    return list.length ? list[list.length - 1].t : 0;
  }
}

export interface Violation {
  kind: string;
  detail: string;
  node?: string;
  conductor?: string;
  firstAt: number;
  lastAt: number;
  count: number;
  /** The fault window open when it was first seen. */
  fault?: string;
}

/** One injected fault and the stretch of time that belongs to it. */
export interface FaultWindow {
  seq: number;
  kind: string;
  victim?: string;
  params: Record<string, number | string>;
  /** The recovery bound for this fault (ms from t0 until every node serves again). */
  boundMs: number;
  t0: number;
  /** When the fault was undone (restart, SIGCONT, partition healed); undefined: not yet. */
  healAt?: number;
  settledAt?: number;
  apiFailures: number;
  /** First successful API sample after an API failure in this window. */
  apiBackAt?: number;
  notes: string[];
}

interface Outage {
  uuid: string;
  start: number;
  end?: number;
}

export interface ResourceSample {
  t: number;
  id: string;
  pid: number;
  fds: number;
  rssKb: number;
  /** Processes in the conductor's tree (launcher, socat listeners, per-connection socat, sh, ipmitool). */
  procs: number;
  redisConns: number;
  label?: string;
}

export interface NodeView {
  serving: boolean;
  /** Conductor whose listener serves it (healthy ones only). */
  conductor?: string;
  /** The ring owner the API names. */
  apiOwner?: string | null;
  port?: number;
  consoleInterface?: string;
}

export interface CheckerOptions {
  sampleMs: number;
  /** How often the API's node list is read (in the background). */
  apiSampleMs: number;
  /** A conductor's lease: heartbeat timeout − interval (it must have fenced itself by lease + grace). */
  leaseMs: number;
  fenceGraceMs: number;
  /** Time after SIGCONT or a healed partition during which stale listeners are tolerated. */
  resumeGraceMs: number;
  /** Time a killed conductor's listeners may outlive it. */
  crashListenerGraceMs: number;
  orphanGraceMs: number;
  log: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Faults in which Redis may lose acknowledged writes (its replication is asynchronous). */
const REDIS_LOSS_FAULTS = ['sentinel-failover', 'redis-restart'];
/** After the lease, the time conductors get to write lost claims back (two reconcile passes and a margin). */
const REWIND_HEAL_GRACE_MS = 3000;

/**
 * Watches a chaos run from the outside, through the processes and Redis only: the kernel's socket
 * table (who listens for which node's console port), the claims in Redis, the API (what Nova sees),
 * the process table (orphans), /proc of each conductor (descriptors, memory), Redis's CLIENT LIST
 * (connections per conductor) and the BMC simulator (every SOL activation). It records every
 * invariant violation, every console outage, and resource figures over time.
 */
export class Checker {
  readonly health = new HealthTimeline();
  readonly violations = new Map<string, Violation>();
  readonly windows: FaultWindow[] = [];
  readonly outages: Outage[] = [];
  readonly resources: ResourceSample[] = [];
  readonly view = new Map<string, NodeView>();
  samples = 0;
  apiSamples = 0;
  apiSamplesFailed = 0;
  sampleMsTotal = 0;
  /** The latest API answer per node. */
  private readonly api = new Map<string, { running: boolean; port?: number; owner: string | null; iface?: string }>();
  private apiInFlight: Promise<void> | undefined;
  /** When the API answer behind the current ring owners was asked for (owners older than a rejoin are stale). */
  apiViewFrom = 0;
  private apiAt = 0;
  bmc = { activations: 0, refused: 0, maxConcurrent: 0, checks: 0 };
  maxListenersPerNode = 0;
  private readonly open = new Map<string, Outage>();
  /** Console listen addresses ("127.0.0.K:P") each node's console has had, and the node each one belongs to. */
  private readonly addrsOf = new Map<string, Set<string>>();
  private readonly nodeOfAddr = new Map<string, string>();
  private readonly lastClaim = new Map<string, Claim>();
  /** Claims that read older inside a Redis-loss window, not healed yet: node → since, the epoch to reach. */
  private readonly rewound = new Map<string, { t: number; bar: number; during: string }>();
  /** How many claims Redis lost in failovers/restarts, and how long each took to be written back. */
  claimsRewound = 0;
  readonly claimsHealed: { node: string; ms: number }[] = [];
  private readonly orphanSeen = new Map<string, number>();
  private readonly ours = new Set<string>();
  private readonly redis: Redis;
  private readonly claims: ClaimRepository;
  private readonly statuses: ConsoleStatusRepository;
  private running = false;
  private loopDone: Promise<void> | undefined;
  private apiTurn = 0;
  private tick = 0;
  active: FaultWindow | undefined;
  lastSampleAt = 0;
  /**
   * Self-fences the schedule did not ask for (read from the conductors' logs): on a starved machine a
   * conductor whose event loop stalls past its lease fences itself, as designed. Console outages
   * around one are reported as such, not as violations.
   */
  readonly unplannedFences: { t: number; conductor: string; reason: string; during?: string }[] = [];
  /** Console sessions that broke with no fault going on: judged at the end, against unplanned fences. */
  readonly drops: { t: number; node: string; detail: string }[] = [];
  /** A watcher's session on a healthy owner that the BMC says another session took over: judged at the end. */
  readonly takeovers: { node: string; name: string; conductor: string; health: Health; at: number; by?: string }[] = [];
  /** Every BMC session a conductor logged opening, per node (from the conductors' logs). */
  readonly sessionOpens = new Map<string, { t: number; conductor: string }[]>();
  private readonly logOffsets = new Map<string, number>();
  /** Sentinel's master port at the last look. */
  private masterPort: number | undefined;
  /** Sentinel's master when the last Redis fault's window closed (the runner sets it). */
  masterAfterFault: number | undefined;

  constructor(
    private readonly topo: ChaosTopology,
    private readonly opts: CheckerOptions,
  ) {
    // The checker's own client goes straight to Sentinel (never through a conductor's proxies).
    this.redis = createRedisClient(topo.cluster.redisUrl, { name: `${topo.cluster.prefix}-checker` });
    this.redis.on('error', () => undefined);
    this.claims = new ClaimRepository(this.redis, new Keys(topo.cluster.prefix));
    this.statuses = new ConsoleStatusRepository(this.redis, new Keys(topo.cluster.prefix));
    for (const c of topo.conductors) this.health.set(c.opts.id, 'up');
  }

  private get nodes() {
    return this.topo.cluster.nodes;
  }

  violation(kind: string, detail: string, extra: { node?: string; conductor?: string; key?: string } = {}): void {
    const key = `${kind}|${extra.key ?? `${extra.node ?? ''}|${extra.conductor ?? ''}`}`;
    const now = Date.now();
    const v = this.violations.get(key);
    if (v) {
      v.lastAt = now;
      v.count++;
      return;
    }
    const fault = this.active ? `#${this.active.seq} ${this.active.kind}${this.active.victim ? ` ${this.active.victim}` : ''}` : undefined;
    this.violations.set(key, { kind, detail, node: extra.node, conductor: extra.conductor, firstAt: now, lastAt: now, count: 1, fault });
    this.opts.log(`VIOLATION ${kind}: ${detail}${fault ? ` (during fault ${fault})` : ''}`);
  }

  /**
   * A Redis fault that can lose acknowledged writes (Sentinel failover, a master crash and restart)
   * is going on, or was undone less than a heartbeat timeout plus two passes ago: the fault it names.
   */
  private redisLossWindow(t: number): string | undefined {
    const w = [...this.windows].reverse().find((x) => REDIS_LOSS_FAULTS.includes(x.kind) && x.t0 <= t && t <= (x.healAt ?? Infinity) + this.opts.leaseMs + REWIND_HEAL_GRACE_MS);
    return w ? `#${w.seq} ${w.kind}` : undefined;
  }

  /** Claims Redis lost that were never written back (checked at the end of the run). */
  unhealedClaims(): { node: string; bar: number; during: string }[] {
    return [...this.rewound].map(([node, r]) => ({ node, bar: r.bar, during: r.during }));
  }

  get violationCount(): number {
    return this.violations.size;
  }

  beginFault(w: Omit<FaultWindow, 'seq' | 'apiFailures' | 'notes'>): FaultWindow {
    const win: FaultWindow = { ...w, seq: this.windows.length + 1, apiFailures: 0, notes: [] };
    this.windows.push(win);
    this.active = win;
    return win;
  }

  endFault(w: FaultWindow): void {
    w.settledAt = Date.now();
    if (this.active === w) this.active = undefined;
  }

  /** The fault whose window (injection until the cluster settled) overlaps [from, to], if any. */
  faultDuring(from: number, to = from): FaultWindow | undefined {
    return this.windows.find((x) => x.t0 <= to && from <= (x.settledAt ?? Number.POSITIVE_INFINITY));
  }

  start(): void {
    this.running = true;
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loopDone;
    await Promise.race([closeRedisClient(this.redis), sleep(2000)]);
    this.redis.disconnect();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const t0 = Date.now();
      try {
        if (!this.apiInFlight && t0 - this.apiAt >= this.opts.apiSampleMs) {
          // the API view (what Nova sees) refreshes in the background, about once a second
          const startedAt = t0;
          this.apiInFlight = this.fetchNodes()
            .then((r) => this.onApi(r, startedAt))
            .finally(() => (this.apiInFlight = undefined));
          this.apiAt = t0;
        }
        await this.sample();
        this.scanLogs();
        if (this.tick % 12 === 0) this.checkProcesses();
        if (this.tick % 4 === 0) await this.watchMaster();
        if (this.tick % 20 === 0) await Promise.all([this.sampleResources(), this.checkBmcs()]);
      } catch (e) {
        this.opts.log(`checker: sample failed: ${e instanceof Error ? e.message : String(e)}`);
      }
      this.tick++;
      this.sampleMsTotal += Date.now() - t0;
      await sleep(Math.max(10, this.opts.sampleMs - (Date.now() - t0)));
    }
    await this.apiInFlight;
  }

  /** What the API answered (or that it did not): ring owners, and API availability during Redis faults. */
  private onApi(api: Map<string, { running: boolean; port?: number; owner: string | null; iface?: string }> | undefined, startedAt: number): void {
    const t = Date.now();
    const win = this.active;
    const redisFault = win && (win.kind === 'redis-restart' || win.kind === 'sentinel-failover');
    if (!api) {
      this.apiSamplesFailed++;
      if (redisFault) win.apiFailures++;
      return;
    }
    this.apiSamples++;
    this.apiViewFrom = startedAt;
    if (redisFault && win.apiFailures > 0 && win.apiBackAt === undefined) win.apiBackAt = t;
    for (const [uuid, a] of api) this.api.set(uuid, a);
  }

  /** New lines of each conductor's log: self-fences nobody planned. */
  scanLogs(): void {
    for (const c of this.topo.conductors) {
      const file = c.opts.logFile;
      if (!file) continue;
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        continue;
      }
      const from = this.logOffsets.get(file) ?? 0;
      if (size <= from) continue;
      const buf = Buffer.alloc(Math.min(size - from, 8 * 1024 * 1024));
      const fd = openSync(file, 'r');
      try {
        readSync(fd, buf, 0, buf.length, from);
      } finally {
        closeSync(fd);
      }
      const end = buf.lastIndexOf(0x0a);
      if (end < 0) continue;
      this.logOffsets.set(file, from + end + 1);
      for (const line of buf.subarray(0, end).toString('utf8').split('\n')) {
        if (line.includes('"BMC session open"') || line.includes('"SOL session started"')) {
          const m = /"time":"([^"]+)".*"node":"([^"]+)"/.exec(line);
          if (m) this.sessionOpens.set(m[2], [...(this.sessionOpens.get(m[2]) ?? []), { t: Date.parse(m[1]), conductor: c.opts.id }]);
          continue;
        }
        if (!line.includes('self-fenced')) continue;
        let j: { time?: string; msg?: string; reason?: string };
        try {
          j = JSON.parse(line) as typeof j;
        } catch {
          continue;
        }
        if (!j.msg?.startsWith('self-fenced') || !j.time) continue;
        const t = Date.parse(j.time);
        const id = c.opts.id;
        const w = this.windows.find((x) => t >= x.t0 - 1000 && t <= (x.settledAt ?? Number.POSITIVE_INFINITY));
        const planned = w && (w.victim === id || w.kind === 'redis-restart' || w.kind === 'sentinel-failover');
        if (planned) continue;
        const during = w ? `#${w.seq} ${w.kind}` : undefined;
        this.unplannedFences.push({ t, conductor: id, reason: j.reason ?? '', during });
        if (w) w.notes.push(`${id} fenced itself on its own (${j.reason ?? ''})`);
        this.opts.log(`checker: ${id} fenced itself with no fault asking for it (${j.reason ?? ''})${during ? ` during ${during}` : ''}: a starved machine; its consoles' outages are reported, not counted as violations`);
      }
    }
  }

  /**
   * Sentinel's master, as Sentinel itself names it (about twice a second). A change while no Redis
   * fault is injected is Sentinel failing over on its own (one Sentinel, a 1–2 s down-after, a loaded
   * machine; seen in seed 853914884: three flips in 5 s). The product's answer is by design (a takeover
   * hold of one heartbeat timeout), so the outages around it are reported like those of an unplanned
   * self-fence, not counted as violations. A conductor that merely reaches the master late is not a
   * change here (Sentinel's answer did not change).
   */
  private async watchMaster(): Promise<void> {
    const port = await this.topo.cluster.sentinel?.masterPort();
    if (port === undefined) return;
    const before = this.masterPort;
    this.masterPort = port;
    if (before === undefined || before === port) return;
    const t = Date.now();
    const w = this.active;
    if (w && REDIS_LOSS_FAULTS.includes(w.kind)) return; // the injected fault's own failover, inside its window
    if (port === this.masterAfterFault) return; // the same, seen after its window closed (seed 2905798123)
    // Sentinel may also fail over seconds after a Redis fault's window settled (seed 853914884: the
    // restarted master came back, then Sentinel moved the master once more)
    const last = [...this.windows].reverse().find((x) => REDIS_LOSS_FAULTS.includes(x.kind) && x.settledAt !== undefined);
    const after = last && t - last.settledAt! < 30_000 ? `${t - last.settledAt!} ms after #${last.seq} ${last.kind} had settled` : 'with no Redis fault injected';
    const during = w ? `#${w.seq} ${w.kind}` : undefined;
    const what = `Sentinel failed over on its own (master ${before} → ${port}, ${after})`;
    this.unplannedFences.push({ t, conductor: 'Redis', reason: what, during });
    if (w) w.notes.push(what);
    this.opts.log(`checker: ${what}${during ? ` during ${during}` : ''}: the outages around it are reported, not counted as violations`);
  }

  /** Within reach of a self-fence or Redis failover nobody planned (the machine, not the product)? */
  nearUnplannedFence(t: number): boolean {
    return this.unplannedFences.some((u) => t >= u.t - 2000 && t <= u.t + 30_000);
  }

  /** A conductor to ask: a healthy one, in turn. */
  apiConductor() {
    const ok = this.topo.conductors.filter((c) => this.health.now(c.opts.id) === 'up' && c.exitCode === undefined);
    const pool = ok.length ? ok : this.topo.conductors.filter((c) => this.health.now(c.opts.id) === 'slow' && c.exitCode === undefined);
    if (!pool.length) return undefined;
    return pool[this.apiTurn++ % pool.length];
  }

  private async fetchNodes(): Promise<Map<string, { running: boolean; port?: number; owner: string | null; iface?: string }> | undefined> {
    const c = this.apiConductor();
    if (!c) return undefined;
    try {
      const r = await fetch(`${c.apiUrl}/v1/nodes?fields=uuid,console_enabled,console_interface,driver_internal_info,conductor`, {
        headers: { 'X-OpenStack-Ironic-API-Version': '1.78' },
        signal: AbortSignal.timeout(2500),
      });
      if (r.status !== 200) return undefined;
      const body = (await r.json()) as { nodes: { uuid: string; console_enabled: boolean; console_interface?: string; conductor: string | null; driver_internal_info: Record<string, unknown> }[] };
      const out = new Map<string, { running: boolean; port?: number; owner: string | null; iface?: string }>();
      for (const n of body.nodes) {
        const dii = n.driver_internal_info ?? {};
        const port = typeof dii.allocated_ipmi_terminal_port === 'number' ? dii.allocated_ipmi_terminal_port : undefined;
        out.set(n.uuid, { running: n.console_enabled && dii.console_state === 'running' && port !== undefined, port, owner: n.conductor, iface: n.console_interface });
      }
      return out;
    } catch {
      return undefined;
    }
  }

  private async readClaims(): Promise<(Claim | undefined)[] | undefined> {
    if (this.redis.status !== 'ready') return undefined;
    try {
      return await Promise.race([
        this.claims.getMany(this.nodes.map((n) => n.uuid)),
        sleep(2000).then(() => undefined),
      ]);
    } catch {
      return undefined;
    }
  }

  /** Each node's observed console state, as its owner wrote it (url = tcp://127.0.0.K:P). */
  private async readStatuses(): Promise<{ running: boolean; addr?: string }[] | undefined> {
    if (this.redis.status !== 'ready') return undefined;
    try {
      const st = await Promise.race([this.statuses.getMany(this.nodes.map((n) => n.uuid)), sleep(2000).then(() => undefined)]);
      return st?.map((x) => ({ running: x.state === 'running', addr: x.url ? /^tcp:\/\/(.+)$/.exec(x.url)?.[1] : undefined }));
    } catch {
      return undefined;
    }
  }

  /**
   * One look at the world: observed states and claims from Redis, the kernel's socket table, the
   * claims again (a listener is judged against claims read before and after it was seen).
   * With Redis away only the socket table is read: a console whose listener is gone is down.
   */
  async sample(): Promise<void> {
    const statuses = await this.readStatuses();
    const claims1 = statuses ? await this.readClaims() : undefined;
    const sockets = await readListeningSockets();
    const tS = Date.now();
    const claims2 = claims1 ? await this.readClaims() : undefined;
    this.samples++;
    this.lastSampleAt = tS;

    const ids = this.topo.conductors.map((c) => c.opts.id);
    const loss = this.redisLossWindow(tS); // one look, one instant
    for (const [i, node] of this.nodes.entries()) {
      const st = statuses?.[i];
      const addr = st?.addr;
      if (addr) {
        // ports are per conductor address: "127.0.0.K:P" names one console of one node
        const prev = this.nodeOfAddr.get(addr);
        if (prev !== node.uuid) {
          if (prev) this.addrsOf.get(prev)?.delete(addr);
          this.nodeOfAddr.set(addr, node.uuid);
          const set = this.addrsOf.get(node.uuid) ?? new Set<string>();
          set.add(addr);
          this.addrsOf.set(node.uuid, set);
        }
      }
      const listeners: string[] = [];
      for (const x of this.addrsOf.get(node.uuid) ?? []) {
        const m = /^127\.0\.0\.(\d+):\d+$/.exec(x);
        if (m && sockets.has(x) && ids.includes(`c${m[1]}`) && !listeners.includes(`c${m[1]}`)) listeners.push(`c${m[1]}`);
      }
      if (listeners.length > this.maxListenersPerNode) this.maxListenersPerNode = listeners.length;
      const c1 = claims1?.[i];
      const c2 = claims2?.[i];
      const claimedBy = (id: string) => c1?.member === id || c2?.member === id;
      const claimsKnown = claims1 !== undefined && claims2 !== undefined;

      // epochs: a node's claim epoch never goes back, and one epoch never has two holders. Redis itself
      // may go back in time in a failover or restart (it loses writes its replica never got): in that
      // window a claim that reads older is Redis's loss, not a violation, but it must be healed (the
      // running console's conductor writes it back) before the window ends; after it, the highest
      // epoch seen before is the bar again.
      for (const c of [c1, c2]) {
        if (!c) continue;
        const prev = this.lastClaim.get(node.uuid);
        const healing = this.rewound.get(node.uuid);
        if (healing && c.epoch >= healing.bar) {
          this.rewound.delete(node.uuid);
          this.claimsHealed.push({ node: node.uuid, ms: tS - healing.t });
        }
        if (prev && (c.epoch < prev.epoch || (c.epoch === prev.epoch && (c.member !== prev.member || c.incarnation !== prev.incarnation)))) {
          if (loss && c.epoch < prev.epoch) {
            if (!healing) {
              this.rewound.set(node.uuid, { t: tS, bar: prev.epoch, during: loss });
              this.claimsRewound++;
            }
          } else
            this.violation('claim-epoch', `claim of ${node.name} went from ${prev.member}/${prev.incarnation}@${prev.epoch} to ${c.member}/${c.incarnation}@${c.epoch}`, {
              node: node.uuid,
              key: `${node.uuid}|${c.epoch}`,
            });
        }
        if (!prev || c.epoch >= prev.epoch) this.lastClaim.set(node.uuid, c);
      }

      const healthy = listeners.filter((id) => HEALTHY.includes(this.health.now(id)));
      if (healthy.length > 1) this.violation('two-conductors', `${node.name} has console listeners on ${healthy.join(' and ')} at once`, { node: node.uuid });
      for (const id of healthy) {
        if (claimsKnown && !claimedBy(id))
          this.violation('listener-without-claim', `${id} listens for ${node.name} while the claim is ${c1?.member ?? 'free'}/${c2?.member ?? 'free'}`, { node: node.uuid, conductor: id });
      }
      for (const id of listeners) {
        const h = this.health.now(id);
        const since = this.health.since(id);
        if (h === 'down' && tS - since > this.opts.crashListenerGraceMs)
          this.violation('listener-outlived-conductor', `${node.name}'s listener on ${id} is still there ${tS - since} ms after ${id} went down`, { node: node.uuid, conductor: id });
        if (h === 'partitioned' && tS - since > this.opts.leaseMs + this.opts.fenceGraceMs)
          this.violation('partitioned-not-fenced', `${id} still listens for ${node.name} ${tS - since} ms into its partition from Redis (lease ${this.opts.leaseMs} ms)`, { node: node.uuid, conductor: id });
      }

      let serving: boolean;
      let servingOn: string | undefined;
      if (st) {
        const current = addr ? `c${/^127\.0\.0\.(\d+):/.exec(addr)?.[1]}` : undefined;
        // A listener of a conductor that is not fully healthy still serves while that conductor holds the
        // claim: one paused or cut off from Redis until its lease runs out, one coming back (restarted,
        // resumed, reconnected) as soon as it has its claims again.
        const stillOwner = (id: string) => {
          if (!claimsKnown || c1?.member !== id || c2?.member !== id) return false;
          const h = this.health.now(id);
          if (h === 'resuming') return true;
          return (h === 'paused' || h === 'partitioned') && tS - this.health.since(id) < this.opts.leaseMs;
        };
        servingOn = (current && healthy.includes(current) ? current : healthy[0]) ?? listeners.find(stillOwner);
        serving = st.running && servingOn !== undefined;
      } else {
        // Redis unreadable: a console whose listeners are all gone is down; one still listening keeps its state
        const prev = this.view.get(node.uuid);
        if (listeners.length > 0 || !prev) continue;
        serving = false;
      }
      const a = this.api.get(node.uuid);
      this.view.set(node.uuid, { serving, conductor: serving ? servingOn : undefined, apiOwner: a?.owner, port: a?.port, consoleInterface: a?.iface });
      const o = this.open.get(node.uuid);
      if (serving && o) {
        o.end = tS;
        this.open.delete(node.uuid);
      } else if (!serving && !o) {
        const out: Outage = { uuid: node.uuid, start: tS };
        this.outages.push(out);
        this.open.set(node.uuid, out);
      }
    }
  }

  /** Every node serves, from its ring owner, on a healthy conductor. */
  settled(): { ok: boolean; notServing: number; misplaced: number } {
    let notServing = 0;
    let misplaced = 0;
    for (const n of this.nodes) {
      const v = this.view.get(n.uuid);
      if (!v?.serving) notServing++;
      else if (v.apiOwner && v.conductor !== v.apiOwner) misplaced++;
    }
    return { ok: notServing === 0 && misplaced === 0, notServing, misplaced };
  }

  /** Which consoles keep the cluster from settling, grouped by ring owner (for a violation's detail). */
  describeUnsettled(): string {
    const by = new Map<string, { notServing: number; misplaced: number }>();
    for (const n of this.nodes) {
      const v = this.view.get(n.uuid);
      const key = v?.apiOwner ?? 'no owner';
      const e = by.get(key) ?? { notServing: 0, misplaced: 0 };
      if (!v?.serving) e.notServing++;
      else if (v.apiOwner && v.conductor !== v.apiOwner) e.misplaced++;
      else continue;
      by.set(key, e);
    }
    const health = this.topo.conductors.map((c) => `${c.opts.id}=${this.health.now(c.opts.id)}${c.exitCode !== undefined ? `(exited ${c.exitCode ?? c.exitSignal})` : ''}`).join(' ');
    return `${[...by].map(([k, e]) => `ring owner ${k}: ${e.notServing} not serving, ${e.misplaced} served elsewhere`).join('; ')} [${health}]`;
  }

  /**
   * Socat, ipmitool, the launcher...: every process of ours must sit in a live conductor's tree.
   * "Ours" = seen in one of our conductors' trees before, or naming one of their runtime directories.
   */
  checkProcesses(): void {
    const procs = listProcesses();
    const byPid = new Map(procs.map((p) => [p.pid, p]));
    const dirs = this.topo.conductors.map((c) => c.pidDir);
    const live = new Map<number, string>();
    for (const c of this.topo.conductors) if (c.pid && c.exitCode === undefined && this.health.now(c.opts.id) !== 'down') live.set(c.pid, c.opts.id);
    const ownerOf = (p: ProcInfo): string | undefined => {
      let cur: ProcInfo | undefined = p;
      for (let depth = 0; cur && depth < 12; depth++) {
        const id = live.get(cur.pid);
        if (id) return id;
        cur = byPid.get(cur.ppid);
      }
      return undefined;
    };
    const now = Date.now();
    const alive = new Set<string>();
    for (const p of procs) {
      const line = p.argv.join(' ');
      const key = `${p.pid}:${line}`;
      alive.add(key);
      if (ownerOf(p)) {
        if (!live.has(p.pid)) this.ours.add(key);
        continue;
      }
      if (!this.ours.has(key) && !dirs.some((d) => line.includes(d))) continue;
      const first = this.orphanSeen.get(key) ?? now;
      this.orphanSeen.set(key, first);
      if (now - first > this.opts.orphanGraceMs)
        this.violation('orphan-process', `pid ${p.pid} (parent ${p.ppid}) outside every live conductor's tree for ${now - first} ms: ${line.slice(0, 200)}`, { key: `${p.pid}` });
    }
    for (const k of [...this.orphanSeen.keys()]) if (!alive.has(k)) this.orphanSeen.delete(k);
    for (const k of [...this.ours]) if (!alive.has(k)) this.ours.delete(k);
  }

  private processCount(pid: number, procs: ProcInfo[]): number {
    const children = new Map<number, number[]>();
    for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
    let n = 0;
    const stack = [...(children.get(pid) ?? [])];
    while (stack.length) {
      const x = stack.pop()!;
      n++;
      stack.push(...(children.get(x) ?? []));
    }
    return n;
  }

  /** Descriptors, RSS, processes and Redis connections of every running conductor. */
  async sampleResources(label?: string): Promise<ResourceSample[]> {
    const conns = await Promise.race([listSolgateConnections(this.redis, this.topo.cluster.prefix).catch(() => undefined), sleep(2000).then(() => undefined)]);
    const procs = listProcesses();
    const out: ResourceSample[] = [];
    const t = Date.now();
    for (const c of this.topo.conductors) {
      const h = this.health.now(c.opts.id);
      if (!c.pid || c.exitCode !== undefined || h === 'down' || h === 'paused') continue;
      try {
        const fds = readdirSync(`/proc/${c.pid}/fd`).length;
        const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${c.pid}/status`, 'utf8'))?.[1] ?? NaN);
        const redisConns = conns ? conns.filter((x) => x.memberId === c.opts.id).length : -1;
        out.push({ t, id: c.opts.id, pid: c.pid, fds, rssKb, procs: this.processCount(c.pid, procs), redisConns, label });
      } catch {
        /* it just went away */
      }
    }
    this.resources.push(...out);
    return out;
  }

  /** The simulator's own record (exact, not sampled): no BMC ever had two SOL sessions at once. */
  async checkBmcs(): Promise<void> {
    const fleet = this.topo.cluster.fleet!;
    const all = await fleet.summary().catch(() => undefined);
    if (!all) return;
    this.bmc.checks++;
    this.bmc.activations = all.reduce((s, b) => s + b.solActivations, 0);
    this.bmc.refused = all.reduce((s, b) => s + b.solActivationsRefused, 0);
    this.bmc.maxConcurrent = Math.max(0, ...all.map((b) => b.maxConcurrentSolSessions));
    for (const b of all)
      if (b.maxConcurrentSolSessions > 1) this.violation('bmc-two-sessions', `BMC ${b.name} had ${b.maxConcurrentSolSessions} SOL sessions at once`, { key: b.name });
  }
}
