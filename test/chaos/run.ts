import { mkdirSync } from 'node:fs';
import type { ConductorProcess } from '../support/conductor-process.js';
import { Checker, type FaultWindow, type ResourceSample, type Violation } from './checker.js';
import { describeFault, FAULT_KINDS, recoveryBoundMs, REJOIN_BOUND_MS, schedule, type FaultKind, type PlannedFault } from './faults.js';
import { Rng } from './rng.js';
import { ChaosTopology } from './topology.js';
import { WatcherPool, type ProbeOutcome, type WatcherStats } from './watchers.js';

export interface ChaosOptions {
  seed: number;
  conductors: number;
  nodes: number;
  /** Share of nodes on native-ipmi-socat (the rest use ipmitool-socat). */
  nativeShare: number;
  /** Console users holding SOL sessions during the run. */
  watchers: number;
  /** Stop after this many faults... */
  faults?: number;
  /** ...or once this much time has passed (whichever comes first). */
  durationMs?: number;
  kinds?: readonly FaultKind[];
  sampleMs?: number;
  logDir: string;
  log: (line: string) => void;
}

export interface FaultResult {
  seq: number;
  plan: PlannedFault;
  description: string;
  boundMs: number;
  /** ms from the fault until every console that went down served again (Redis faults: and the API answered). */
  recoveryMs: number;
  nodesDown: number;
  /** Longest outage of one console while the conductor rejoined and took its share back. */
  rejoinWorstMs: number;
  rejoinNodes: number;
  apiDownMs: number;
  notes: string[];
}

export interface ChaosReport {
  seed: number;
  options: Omit<ChaosOptions, 'log'>;
  setupMs: number;
  runMs: number;
  faults: FaultResult[];
  violations: Violation[];
  watchers: WatcherStats;
  probes: ProbeOutcome[];
  bmc: { activations: number; refused: number; maxConcurrent: number; checks: number };
  samples: number;
  /** Mean time one look at the world took (ms). */
  sampleMeanMs: number;
  apiSamples: number;
  maxListenersPerNode: number;
  resources: ResourceSample[];
  nodeRecords: { before: number; after: number; changed: number };
  /** Self-fences on a starved machine (nobody planned them) and the console outages they caused. */
  unplanned: { fences: { t: number; conductor: string; reason: string; during?: string }[]; outages: number };
  /** Claims that read older after Redis lost writes in a failover/restart, and the slowest write-back. */
  redisLoss: { claimsRewound: number; healedWorstMs: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const TIMING = { heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 5000 };

/**
 * A chaos run: build the cluster, enable every console, then inject the seeded schedule of faults
 * one after the other (each fault is undone and the cluster settles before the next), while the
 * checker and the console watchers look for invariant violations. Returns the figures; never throws
 * for a violation (they are in the report), only for a broken test setup.
 */
export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  mkdirSync(o.logDir, { recursive: true });
  const rng = new Rng(o.seed);
  const plans = rng.fork('schedule');
  const t0 = Date.now();
  o.log(`chaos: seed ${o.seed} (replay with SOLGATE_CHAOS_SEED=${o.seed}); ${o.conductors} conductors, ${o.nodes} nodes, logs in ${o.logDir}`);
  const topo = await ChaosTopology.start({
    name: 'chaos',
    conductors: o.conductors,
    nodes: o.nodes,
    nativeShare: o.nativeShare,
    logDir: o.logDir,
    sentinelDownAfterMs: 2000,
  });
  let checker: Checker | undefined;
  let watchers: WatcherPool | undefined;
  try {
    checker = new Checker(topo, {
      sampleMs: o.sampleMs ?? 250,
      apiSampleMs: 1000,
      leaseMs: TIMING.heartbeatTimeoutMs - TIMING.heartbeatIntervalMs,
      fenceGraceMs: 3000,
      resumeGraceMs: 2000,
      crashListenerGraceMs: 3000,
      orphanGraceMs: 3000,
      log: o.log,
    });
    const run = new Runner(topo, checker, o);
    await run.enableAll();
    checker.start();
    if (!(await run.settle(180_000))) throw new Error(`the cluster did not converge before the first fault: ${JSON.stringify(checker.settled())}`);
    const before = await run.snapshotNodes();
    const setupMs = Date.now() - t0;
    o.log(`chaos: ${o.nodes} consoles serving after ${Math.round(setupMs / 1000)} s; injecting faults`);
    watchers = new WatcherPool(topo, checker, rng.fork('watchers'), { count: o.watchers, holdMs: [3000, 15_000], log: o.log });
    watchers.start();
    run.watchers = watchers;

    const tRun = Date.now();
    const results: FaultResult[] = [];
    const ids = topo.conductors.map((c) => c.opts.id);
    let n = 0;
    for (const plan of schedule(plans, ids, o.kinds ?? FAULT_KINDS)) {
      if (o.faults !== undefined && n >= o.faults) break;
      if (o.durationMs !== undefined && Date.now() - tRun >= o.durationMs) break;
      n++;
      const w = await run.inject(plan);
      await sleep(plan.gapMs);
      results.push(run.result(w, plan));
      const r = results[results.length - 1];
      o.log(`chaos: #${w.seq} ${r.description}: recovered in ${r.recoveryMs} ms (bound ${r.boundMs}), ${r.nodesDown} consoles went down; rejoin worst ${r.rejoinWorstMs} ms; violations so far ${checker.violationCount}`);
    }
    const runMs = Date.now() - tRun;

    await watchers.stop();
    await sleep(3500); // the watchers' last sessions end; orphans (if any) outlive the grace
    checker.checkProcesses();
    await checker.checkBmcs();
    await checker.sampleResources('final');
    const after = await run.snapshotNodes();
    const changed = compareSnapshots(before, after, checker);
    checker.scanLogs();
    run.checkOutagesOutsideFaults(tRun);
    run.checkDrops();
    run.checkTakeovers(watchers);
    run.checkResources();
    for (const u of checker.unhealedClaims())
      checker.violation('claim-not-healed', `the claim of node ${u.node} went back below epoch ${u.bar} when Redis lost writes (${u.during}) and was never written back`, { node: u.node });
    await checker.stop();
    return {
      seed: o.seed,
      options: { ...o, log: undefined } as unknown as Omit<ChaosOptions, 'log'>,
      setupMs,
      runMs,
      faults: results.map((r) => ({ ...r, ...recompute(run, r) })),
      violations: [...checker.violations.values()],
      watchers: watchers.stats,
      probes: watchers.probes,
      bmc: checker.bmc,
      samples: checker.samples,
      sampleMeanMs: Math.round(checker.sampleMsTotal / Math.max(1, checker.samples)),
      apiSamples: checker.apiSamples,
      maxListenersPerNode: checker.maxListenersPerNode,
      resources: checker.resources,
      nodeRecords: { before: before.size, after: after.size, changed },
      unplanned: { fences: checker.unplannedFences, outages: run.unplannedOutages },
      redisLoss: { claimsRewound: checker.claimsRewound, healedWorstMs: Math.max(0, ...checker.claimsHealed.map((h) => h.ms)) },
    };
  } catch (e) {
    o.log(`chaos: run failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    throw e;
  } finally {
    // each step bounded: a teardown that hangs must not hide the result (or the error) of the run
    await bounded(watchers?.stop(), 20_000, 'stopping the watchers', o.log);
    await bounded(checker?.stop(), 10_000, 'stopping the checker', o.log);
    await bounded(topo.stop(o.log), 90_000, 'stopping the cluster', o.log);
  }
}

async function bounded(p: Promise<unknown> | undefined, ms: number, what: string, log: (line: string) => void): Promise<void> {
  if (!p) return;
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([p.then(() => true, () => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  if (!done) log(`chaos: ${what} did not finish within ${ms} ms; going on`);
}

/** Outages can end after the fault's result was first computed (a console back later): compute again at the end. */
function recompute(run: Runner, r: FaultResult): Partial<FaultResult> {
  const w = run.checker.windows.find((x) => x.seq === r.seq);
  return w ? run.measure(w) : {};
}

function compareSnapshots(before: Map<string, string>, after: Map<string, string>, checker: Checker): number {
  let changed = 0;
  for (const [uuid, doc] of before) {
    const now = after.get(uuid);
    if (now === undefined) {
      changed++;
      checker.violation('node-record-lost', `node ${uuid} is gone after the run`, { node: uuid });
    } else if (now !== doc) {
      changed++;
      checker.violation('node-record-changed', `node ${uuid} changed: before ${doc} after ${now}`, { node: uuid });
    }
  }
  for (const uuid of after.keys()) if (!before.has(uuid)) checker.violation('node-record-appeared', `node ${uuid} appeared during the run`, { node: uuid });
  return changed;
}

class Runner {
  watchers: WatcherPool | undefined;
  /** Console outages explained by a self-fence nobody planned (a starved machine). */
  unplannedOutages = 0;

  constructor(
    readonly topo: ChaosTopology,
    readonly checker: Checker,
    private readonly o: ChaosOptions,
  ) {}

  async enableAll(): Promise<void> {
    const api = this.topo.conductors[0];
    const nodes = this.topo.cluster.nodes;
    for (let i = 0; i < nodes.length; i += 32) {
      await Promise.all(
        nodes.slice(i, i + 32).map(async (n) => {
          for (let attempt = 1; ; attempt++) {
            // idempotent: a request lost with a dropped kept-alive connection is simply sent again
            const r = await api.api('PUT', `/v1/nodes/${n.uuid}/states/console`, { enabled: true }).catch((e: unknown) => (attempt < 5 ? undefined : Promise.reject(e)));
            if (r?.status === 202) return;
            if (r) throw new Error(`enable ${n.name}: ${r.status} ${r.text}`);
            await sleep(200);
          }
        }),
      );
    }
  }

  /** The stable part of every node record, as the API returns it. */
  async snapshotNodes(): Promise<Map<string, string>> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const c = this.checker.apiConductor();
      const r = c ? await c.api('GET', '/v1/nodes/detail').catch(() => undefined) : undefined;
      if (r?.status === 200) {
        const out = new Map<string, string>();
        for (const n of r.body.nodes as Record<string, unknown>[]) {
          const { uuid, name, driver, driver_info, console_interface, console_enabled, conductor_group, description, extra, properties, created_at, updated_at, provision_state } = n;
          out.set(String(uuid), JSON.stringify({ name, driver, driver_info, console_interface, console_enabled, conductor_group, description, extra, properties, created_at, updated_at, provision_state }));
        }
        return out;
      }
      await sleep(500);
    }
    throw new Error('could not read the node records through the API');
  }

  async ready(c: ConductorProcess): Promise<boolean> {
    const r = await fetch(`${c.apiUrl}/readyz`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    return r?.status === 200;
  }

  /**
   * Wait until every conductor is ready and every console serves from its ring owner (three samples in
   * a row), judged against ring owners the API gave after the wait began: owners read before a
   * conductor rejoined would call the cluster settled before the rejoined one takes its share back.
   */
  async settle(capMs: number): Promise<boolean> {
    const from = Date.now();
    const deadline = from + capMs;
    let streak = 0;
    let lastSample = -1;
    while (Date.now() < deadline) {
      if (this.checker.samples !== lastSample) {
        lastSample = this.checker.samples;
        const ok = this.checker.apiViewFrom >= from && this.checker.settled().ok && (await Promise.all(this.topo.conductors.map((c) => this.ready(c)))).every(Boolean);
        streak = ok ? streak + 1 : 0;
        if (streak >= 3) return true;
      }
      await sleep(50);
    }
    return false;
  }

  /** Every console serves somewhere healthy (placement not yet settled). */
  async allServing(capMs: number): Promise<boolean> {
    const deadline = Date.now() + capMs;
    while (Date.now() < deadline) {
      if (this.checker.settled().notServing === 0) return true;
      await sleep(50);
    }
    return false;
  }

  /** A resumed or reconnected conductor counts as healthy again once it is ready and the grace has passed. */
  private async rejoin(c: ConductorProcess, w: FaultWindow): Promise<void> {
    const id = c.opts.id;
    const from = Date.now();
    while (Date.now() - from < 30_000) {
      if (Date.now() - from >= 2000 && (await this.ready(c))) {
        this.checker.health.set(id, 'up');
        return;
      }
      await sleep(100);
    }
    this.checker.health.set(id, 'up');
    w.notes.push(`${id} not ready 30 s after it came back`);
    this.checker.violation('did-not-rejoin', `${id} was not ready 30 s after fault #${w.seq} was undone`, { conductor: id, key: `${w.seq}` });
  }

  private async restart(c: ConductorProcess, w: FaultWindow): Promise<void> {
    this.checker.health.set(c.opts.id, 'resuming');
    w.healAt = Date.now();
    try {
      await c.start();
      this.checker.health.set(c.opts.id, 'up');
    } catch (e) {
      this.checker.violation('restart-failed', `${c.opts.id} did not start again: ${e instanceof Error ? e.message.slice(0, 300) : String(e)}`, { conductor: c.opts.id, key: `${w.seq}` });
    }
  }

  async inject(plan: PlannedFault): Promise<FaultWindow> {
    const { topo, checker } = this;
    const settleFrom = Date.now();
    const steady = await this.settle(60_000);
    if (!steady) this.unsettled(settleFrom, `the cluster did not settle within 60 s before fault ${describeFault(plan)}: ${await this.whyUnsettled()}`, describeFault(plan));
    await checker.sampleResources('steady');
    const boundMs = recoveryBoundMs(plan, TIMING);
    const victim = plan.victim ? topo.conductor(plan.victim) : undefined;
    const owned = victim ? topo.cluster.nodes.filter((n) => checker.view.get(n.uuid)?.conductor === victim.opts.id).map((n) => n.uuid) : [];
    const w = checker.beginFault({ kind: plan.kind, victim: plan.victim, params: { ...plan } as unknown as Record<string, number | string>, boundMs, t0: Date.now() });
    const capMs = boundMs * 4 + 15_000;
    const id = plan.victim!;
    switch (plan.kind) {
      case 'kill9': {
        checker.health.set(id, 'down');
        await victim!.kill9();
        if (!(await this.allServing(capMs))) w.notes.push('not every console served again before the restart');
        await sleep(plan.restartAfterMs!);
        await this.restart(victim!, w);
        break;
      }
      case 'sigterm': {
        checker.health.set(id, 'stopping');
        const code = await victim!.stop(30_000).catch((e: unknown) => {
          checker.violation('sigterm-hang', `${id} did not exit within 30 s of SIGTERM: ${String(e)}`, { conductor: id, key: `${w.seq}` });
          return victim!.kill9().then(() => null);
        });
        checker.health.set(id, 'down');
        if (code !== 0 && code !== null) checker.violation('sigterm-exit-code', `${id} exited with ${code} after SIGTERM`, { conductor: id, key: `${w.seq}` });
        if (!(await this.allServing(capMs))) w.notes.push('not every console served again before the restart');
        await sleep(plan.restartAfterMs!);
        await this.restart(victim!, w);
        break;
      }
      case 'pause':
      case 'partition-blackhole':
      case 'partition-reset': {
        const until = w.t0 + plan.durationMs!;
        if (plan.kind === 'pause') {
          checker.health.set(id, 'paused');
          victim!.pause();
        } else {
          checker.health.set(id, 'partitioned');
          await topo.setLink(id, { kind: plan.kind === 'partition-blackhole' ? 'blackhole' : 'reset' });
        }
        // Long enough to be taken over: once the others serve its consoles, poke its stale listeners.
        if (plan.durationMs! > TIMING.heartbeatTimeoutMs + 3000 && owned.length > 0) {
          const probeFrom = Date.now();
          if (await this.allServing(Math.max(0, until - Date.now() - 2000))) {
            await this.watchers?.probeStale(`#${w.seq} ${plan.kind}`, id, owned, 2);
            w.notes.push(`stale probes after ${Date.now() - probeFrom} ms`);
          }
        }
        await sleep(Math.max(0, until - Date.now()));
        w.healAt = Date.now();
        if (plan.kind === 'pause') victim!.resume();
        else await topo.setLink(id, { kind: 'pass' });
        checker.health.set(id, 'resuming');
        await this.rejoin(victim!, w);
        break;
      }
      case 'latency': {
        checker.health.set(id, 'slow');
        await topo.setLink(id, { kind: 'delay', ms: plan.delayMs! });
        await sleep(plan.durationMs!);
        await topo.setLink(id, { kind: 'pass' });
        w.healAt = Date.now();
        checker.health.set(id, 'up');
        break;
      }
      case 'redis-restart': {
        const s = topo.cluster.sentinel!;
        const master = await s.currentMaster();
        const before = master.port;
        await s.restartServer(master, plan.durationMs!);
        w.healAt = Date.now();
        await sleep(1000);
        const now = await s.masterPort();
        if (now !== before) w.notes.push(`Sentinel failed over while the master was away (master now ${now})`);
        break;
      }
      case 'sentinel-failover': {
        try {
          await topo.cluster.sentinel!.failover();
        } catch (e) {
          w.notes.push(`Sentinel did not fail over: ${e instanceof Error ? e.message : String(e)}`);
        }
        w.healAt = Date.now();
        break;
      }
    }
    const afterFrom = Date.now();
    if (!(await this.settle(capMs + 30_000)))
      this.unsettled(afterFrom, `not every console served from its ring owner within ${Math.round((capMs + 30_000) / 1000)} s after fault #${w.seq} ${describeFault(plan)}: ${await this.whyUnsettled()}`, `${w.seq}`, w);
    // the master as of the end of a Redis fault: the checker, sampling every half second, may see the
    // fault's own failover only after the window closed
    if (plan.kind === 'sentinel-failover' || plan.kind === 'redis-restart') checker.masterAfterFault = await topo.cluster.sentinel?.masterPort();
    checker.endFault(w);
    return w;
  }

  /**
   * Not settled in time: a violation, unless a conductor fenced itself with no fault asking for it
   * meanwhile (a starved machine: reported with the fault, as its outages are).
   */
  private unsettled(from: number, detail: string, key: string, w?: FaultWindow): void {
    if (this.checker.unplannedFences.some((u) => u.t >= from - 5000)) {
      const note = `did not settle in time after a self-fence nobody planned (${detail})`;
      if (w) w.notes.push(note);
      this.o.log(`chaos: ${note}`);
      return;
    }
    this.checker.violation('did-not-settle', detail, { key });
  }

  /** Which consoles keep the cluster from settling, how old the API's ring view is, who is not ready. */
  private async whyUnsettled(): Promise<string> {
    const notReady = (await Promise.all(this.topo.conductors.map(async (c) => ((await this.ready(c)) ? undefined : c.opts.id)))).filter(Boolean);
    return `${this.checker.describeUnsettled()}; API ring view ${Math.round((Date.now() - this.checker.apiViewFrom) / 1000)} s old; not ready: ${notReady.join(', ') || 'none'}`;
  }

  measure(w: FaultWindow): Pick<FaultResult, 'recoveryMs' | 'nodesDown' | 'rejoinWorstMs' | 'rejoinNodes' | 'apiDownMs'> {
    const now = Date.now();
    const phaseEnd = w.healAt ?? w.settledAt ?? now;
    const end = w.settledAt ?? now;
    const faultOutages = this.checker.outages.filter((o) => o.start >= w.t0 && o.start < phaseEnd);
    const rejoinOutages = this.checker.outages.filter((o) => o.start >= phaseEnd && o.start <= end);
    const apiDownMs = w.apiBackAt !== undefined ? w.apiBackAt - w.t0 : 0;
    const recoveryMs = Math.max(0, apiDownMs, ...faultOutages.map((o) => (o.end ?? Number.POSITIVE_INFINITY) - w.t0));
    const rejoinWorstMs = Math.max(0, ...rejoinOutages.map((o) => (o.end ?? Number.POSITIVE_INFINITY) - o.start));
    return {
      recoveryMs,
      nodesDown: new Set(faultOutages.map((o) => o.uuid)).size,
      rejoinWorstMs,
      rejoinNodes: new Set(rejoinOutages.map((o) => o.uuid)).size,
      apiDownMs,
    };
  }

  result(w: FaultWindow, plan: PlannedFault): FaultResult {
    return { seq: w.seq, plan, description: describeFault(plan), boundMs: w.boundMs, notes: w.notes, ...this.measure(w) };
  }

  /** A console that went down while no fault was going on, or never came back. */
  checkOutagesOutsideFaults(from: number): void {
    for (const o of this.checker.outages) {
      if (o.end === undefined) this.checker.violation('not-recovered', `console of ${o.uuid} down since ${new Date(o.start).toISOString()} and never back`, { node: o.uuid });
      if (o.start < from) continue;
      const w = this.checker.faultDuring(o.start);
      if (!w && this.checker.nearUnplannedFence(o.start)) this.unplannedOutages++;
      else if (!w) this.checker.violation('outage-without-fault', `console of ${o.uuid} was down ${new Date(o.start).toISOString()} for ${(o.end ?? Date.now()) - o.start} ms with no fault going on`, { node: o.uuid, key: `${o.uuid}|${o.start}` });
    }
  }

  /** Sessions that broke with no fault going on: a violation unless a conductor fenced itself on a starved machine. */
  checkDrops(): void {
    for (const d of this.checker.drops) {
      if (this.checker.nearUnplannedFence(d.t)) continue;
      this.checker.violation('session-dropped', d.detail, { node: d.node, key: `${d.node}|${d.t}` });
    }
  }

  /**
   * A watcher's session on a healthy owner was taken over at the BMC: two conductors had a SOL session
   * for one node, unless the session that took over was the owner's own (its broker re-opening the
   * BMC session after a stall), as the conductors' logs tell (a conductor logs a BMC session once it is
   * open, up to seconds after its `sol deactivate` took the old one over on a loaded machine).
   */
  checkTakeovers(watchers: WatcherPool): void {
    const c = this.checker;
    for (const t of c.takeovers) {
      const near = (c.sessionOpens.get(t.node) ?? []).filter((o) => o.t >= t.at - 2000 && o.t <= t.at + 10_000);
      const others = [...new Set(near.filter((o) => o.conductor !== t.conductor).map((o) => o.conductor))];
      if (others.length === 0 && near.length > 0) {
        watchers.stats.reopenedByOwner++;
        continue;
      }
      const who = `${others.length ? `by a session ${others.join(' and ')} opened` : 'by a session no conductor logged'}${t.by ? ` (the BMC: ${t.by})` : ''}`;
      c.violation('sol-session-stolen', `the SOL session of ${t.name} (${t.node}) held through ${t.conductor} (${t.health}) was taken over at the BMC at ${new Date(t.at).toISOString()} ${who} while its client was connected`, { node: t.node, key: `${t.node}|${t.at}` });
    }
  }

  /**
   * Leaks: a conductor that lived through faults must not hold more descriptors or Redis connections
   * at the end than at its first steady moment, nor much more memory. Its share can differ between two
   * steady moments (a watcher's session is on it at one and not the other, a rejoin moved consoles):
   * each extra process in its tree (a socat, a session's relay) brings up to two of the conductor's
   * descriptors (the broker's socket, the launcher's pipe), which is allowed for.
   */
  checkResources(): void {
    for (const [pid, list] of groupBy(this.checker.resources.filter((r) => r.label), (r) => `${r.id}/${r.pid}`)) {
      if (list.length < 2) continue;
      const first = list[0];
      const last = list[list.length - 1];
      const allowed = first.fds + 20 + 2 * Math.max(0, last.procs - first.procs);
      if (last.fds > allowed)
        this.checker.violation('fd-growth', `${pid}: ${first.fds} → ${last.fds} open descriptors between its first and last steady moments (processes in its tree ${first.procs} → ${last.procs})`, { key: pid });
      if (last.redisConns > first.redisConns && first.redisConns >= 0) this.checker.violation('redis-connection-growth', `${pid}: ${first.redisConns} → ${last.redisConns} Redis connections`, { key: pid });
      // memory: the last steady RSS against the highest of the first half (warm-up, V8's heap settling),
      // with room for a garbage collector's swing; a leak grows with the faults and crosses it in a soak
      if (list.length >= 3) {
        const early = Math.max(...list.slice(0, Math.ceil(list.length / 2)).map((r) => r.rssKb));
        if (last.rssKb > early * 1.5 + 48 * 1024)
          this.checker.violation('memory-growth', `${pid}: RSS ${Math.round(early / 1024)} MB (highest of its first half of steady moments) → ${Math.round(last.rssKb / 1024)} MB at its last`, { key: pid });
      }
    }
  }
}

export function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const i of items) m.set(key(i), [...(m.get(key(i)) ?? []), i]);
  return m;
}

export { REJOIN_BOUND_MS };
