import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { ConductorProcess } from './conductor-process.js';
import { uniquePrefix } from './fixtures.js';
import { FleetSimProcess } from './fleet-sim.js';
import { IpmiSimBmc } from './ipmi-sim.js';
import { readListeningSockets, urlListens } from './net.js';
import { childrenOf, readCmdline } from '#libs/console';
import { portBlockFor } from './ports.js';
import { isAlive, listProcesses } from './procs.js';
import { RedisServer } from './redis-server.js';
import { SentinelSetup, type SentinelOptions } from './sentinel.js';
import { waitFor } from './wait.js';

export interface ClusterOptions {
  name: string;
  conductors: number;
  /** Nodes backed by a real ipmi_sim BMC each. */
  bmcNodes?: number;
  /** Nodes whose BMC address is never contacted unless a client connects (console listeners only). */
  dummyNodes?: number;
  /** console_interface of the dummy nodes (default: the API's, ipmitool-socat). */
  consoleInterface?: 'ipmitool-socat' | 'native-ipmi-socat';
  appendonly?: boolean;
  env?: Record<string, string>;
  /** Nodes whose BMCs are simulated by one bin/solgate-bmc-sim process (`fleet`). */
  fleetNodes?: number;
  /** console_interface of the i-th fleet node (0-based); default ipmitool-socat. */
  fleetConsoleInterface?: (i: number) => string;
  /** Redis behind Sentinel (a master, a replica, one sentinel) instead of one redis-server. */
  sentinel?: boolean | SentinelOptions;
  /** Console ports of every conductor (default: a block derived from the key prefix). */
  portRange?: { start: number; stop: number };
  /** Conductors write their logs to `<logDir>/c<N>.log` instead of keeping them in memory. */
  logDir?: string;
  /** How long each conductor may take to become ready (default 60 s). */
  readyTimeoutMs?: number;
  /** Extra environment and node options for conductor N (e.g. routing its Redis links through a fault proxy). */
  conductorSetup?: (n: number, cluster: LocalCluster) => Promise<{ env?: Record<string, string>; nodeArgs?: string[] }>;
}

export interface ConsoleSample {
  uuid: string;
  name: string;
  serving: boolean;
  url: string | null;
  conductor: string | null;
  listening: boolean;
}

/**
 * A local solgate cluster for tests and benchmarks: one redis-server, N conductors on 127.0.0.1..N
 * (each its own address, same port range), nodes with real ipmi_sim BMCs and/or dummy nodes.
 */
export class LocalCluster {
  redis!: RedisServer;
  /** With `sentinel`: the Sentinel setup (`redis` is then its first master). */
  sentinel: SentinelSetup | undefined;
  /** With `fleetNodes`: the BMC simulator process. */
  fleet: FleetSimProcess | undefined;
  readonly prefix: string;
  conductors: ConductorProcess[] = [];
  bmcs: IpmiSimBmc[] = [];
  nodes: { uuid: string; name: string; bmc?: IpmiSimBmc; bmcIndex?: number }[] = [];

  constructor(readonly opts: ClusterOptions) {
    this.prefix = uniquePrefix(opts.name);
  }

  static async start(opts: ClusterOptions): Promise<LocalCluster> {
    const c = new LocalCluster(opts);
    try {
      await c.start();
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  /** What conductors get as SOLGATE_REDIS_URL. */
  get redisUrl(): string {
    return this.sentinel ? this.sentinel.url : this.redis.url;
  }

  async start(): Promise<void> {
    if (this.opts.sentinel) {
      this.sentinel = await SentinelSetup.start(typeof this.opts.sentinel === 'object' ? this.opts.sentinel : {});
      this.redis = this.sentinel.master;
    } else this.redis = await RedisServer.start({ appendonly: this.opts.appendonly });
    if (this.opts.fleetNodes) this.fleet = await FleetSimProcess.start({ count: this.opts.fleetNodes, namePrefix: `${this.opts.name}-f` });
    for (let i = 0; i < (this.opts.bmcNodes ?? 0); i += 8) {
      const batch = Array.from({ length: Math.min(8, (this.opts.bmcNodes ?? 0) - i) }, (_, j) => IpmiSimBmc.start({ nodeName: `${this.opts.name}-b${i + j + 1}` }));
      this.bmcs.push(...(await Promise.all(batch)));
    }
    await Promise.all(Array.from({ length: this.opts.conductors }, (_, i) => this.addConductor(i + 1)));
    this.conductors.sort((a, b) => a.opts.id.localeCompare(b.opts.id));
    const api = this.conductors[0];
    for (const bmc of this.bmcs) {
      const r = await api.api('POST', '/v1/nodes', { name: bmc.nodeName, driver: 'ipmi', driver_info: bmc.driverInfo() });
      if (r.status !== 201) throw new Error(r.text);
      this.nodes.push({ uuid: r.body.uuid, name: bmc.nodeName, bmc });
    }
    for (let i = 0; i < (this.opts.dummyNodes ?? 0); i++) {
      const name = `${this.opts.name}-d${i + 1}`;
      const iface = this.opts.consoleInterface ? { console_interface: this.opts.consoleInterface } : {};
      const r = await api.api('POST', '/v1/nodes', { name, driver: 'ipmi', ...iface, driver_info: { ipmi_address: '127.0.0.1', ipmi_port: 9, ipmi_username: 'admin', ipmi_password: 'x', ipmi_cipher_suite: 3 } });
      if (r.status !== 201) throw new Error(r.text);
      this.nodes.push({ uuid: r.body.uuid, name });
    }
    if (this.fleet) await this.enrolFleet(api);
  }

  /** Enrol one node per simulated BMC, a few requests at a time. */
  private async enrolFleet(api: ConductorProcess): Promise<void> {
    const fleet = this.fleet!;
    const out: { uuid: string; name: string; bmcIndex: number }[] = [];
    for (let i = 0; i < fleet.bmcs.length; i += 16) {
      const batch = fleet.bmcs.slice(i, i + 16);
      out.push(
        ...(await Promise.all(
          batch.map(async (b) => {
            const console_interface = this.opts.fleetConsoleInterface?.(b.index - 1) ?? 'ipmitool-socat';
            const body = { uuid: randomUUID(), name: b.name, driver: 'ipmi', console_interface, driver_info: fleet.driverInfo(b.index) };
            // A loaded machine may drop a kept-alive connection under a request: try again (same uuid, so a
            // request that did arrive the first time is not created twice).
            for (let attempt = 1; ; attempt++) {
              const r = await api.api('POST', '/v1/nodes', body).catch((e: unknown) => (attempt < 5 ? undefined : Promise.reject(e)));
              if (r?.status === 201 || (r?.status === 409 && (await api.api('GET', `/v1/nodes/${body.uuid}`)).status === 200)) break;
              if (r) throw new Error(r.text);
            }
            return { uuid: body.uuid, name: b.name, bmcIndex: b.index };
          }),
        )),
      );
    }
    this.nodes.push(...out);
  }

  async addConductor(n: number, env: Record<string, string> = {}, nodeArgs?: string[]): Promise<ConductorProcess> {
    const setup = (await this.opts.conductorSetup?.(n, this)) ?? {};
    const c = await ConductorProcess.start({
      nodeArgs: [...(setup.nodeArgs ?? []), ...(nodeArgs ?? [])],
      id: `c${n}`,
      address: `127.0.0.${n}`,
      redisUrl: this.redisUrl,
      prefix: this.prefix,
      portRange: this.opts.portRange ?? portBlockFor(this.prefix),
      env: { SOLGATE_LOG_LEVEL: 'info', ...this.opts.env, ...setup.env, ...env },
      logFile: this.opts.logDir ? join(this.opts.logDir, `c${n}.log`) : undefined,
      readyTimeoutMs: this.opts.readyTimeoutMs,
    });
    this.conductors.push(c);
    return c;
  }

  conductor(id: string): ConductorProcess {
    const c = this.conductors.find((x) => x.opts.id === id);
    if (!c) throw new Error(`no conductor ${id}`);
    return c;
  }

  /** A live conductor to ask (any conductor answers any call). */
  get api(): ConductorProcess {
    const c = this.conductors.find((x) => x.exitCode === undefined);
    if (!c) throw new Error('no live conductor');
    return c;
  }

  async enableAll(via = this.api): Promise<void> {
    await Promise.all(this.nodes.map((n) => via.api('PUT', `/v1/nodes/${n.uuid}/states/console`, { enabled: true })));
  }

  /**
   * Nodes' consoles as the API reports them (what Nova sees), plus whether each URL really listens.
   * `conductor` is the host of the URL mapped back to a conductor id (c<N> binds 127.0.0.N).
   */
  async sample(uuids: string[] = this.nodes.map((n) => n.uuid), via = this.api): Promise<ConsoleSample[]> {
    const res = await Promise.all(uuids.map((u) => via.api('GET', `/v1/nodes/${u}/states/console`)));
    const sockets = await readListeningSockets();
    return uuids.map((uuid, i) => {
      const r = res[i];
      const url: string | null = r.body?.console_info?.url ?? null;
      const host = url ? /^tcp:\/\/127\.0\.0\.(\d+):/.exec(url)?.[1] : undefined;
      return {
        uuid,
        name: this.nodes.find((n) => n.uuid === uuid)?.name ?? uuid,
        serving: !!r.body?.console_enabled,
        url,
        conductor: host ? `c${host}` : null,
        listening: !!url && urlListens(url, sockets),
      };
    });
  }

  async waitAllServing(timeoutMs = 30_000): Promise<ConsoleSample[]> {
    return waitFor(
      async () => {
        const s = await this.sample();
        return s.every((x) => x.serving && x.listening) ? s : undefined;
      },
      { timeoutMs, intervalMs: 50, what: 'every console to serve' },
    );
  }

  /** Whether a pid directory is one of this cluster's conductors' (other suites may run on the machine). */
  private ownsPidDir(dir: string): boolean {
    return this.conductors.some((c) => c.pidDir === dir);
  }

  /** socat listeners per node uuid (from their -L pid file argument) and the conductor pid dir each belongs to. */
  socatsByNode(): Map<string, { pid: number; pidDir: string }[]> {
    const out = new Map<string, { pid: number; pidDir: string }[]>();
    for (const p of listProcesses()) {
      if (!p.argv[0]?.endsWith('socat')) continue;
      const lock = p.argv.find((a) => a.startsWith('-L'));
      const m = lock ? /^-L(.*)\/([0-9a-f-]{36})\.pid$/.exec(lock) : null;
      if (!m || !this.ownsPidDir(m[1])) continue;
      const list = out.get(m[2]) ?? [];
      list.push({ pid: p.pid, pidDir: m[1] });
      out.set(m[2], list);
    }
    return out;
  }

  /** This cluster's socat listener processes only (not their per-connection children, which share the argv). */
  listenerCountByNode(): Map<string, number> {
    const procs = listProcesses();
    const socatPids = new Set(procs.filter((p) => p.argv[0]?.endsWith('socat')).map((p) => p.pid));
    const out = new Map<string, number>();
    for (const p of procs) {
      if (!p.argv[0]?.endsWith('socat') || socatPids.has(p.ppid)) continue;
      const lock = p.argv.find((a) => a.startsWith('-L'));
      const m = lock ? /^-L(.*)\/([0-9a-f-]{36})\.pid$/.exec(lock) : null;
      if (m && this.ownsPidDir(m[1])) out.set(m[2], (out.get(m[2]) ?? 0) + 1);
    }
    return out;
  }

  async stop(): Promise<void> {
    await Promise.all(this.conductors.map((c) => c.dispose().catch(() => undefined)));
    await Promise.all(this.bmcs.map((b) => b.stop().catch(() => undefined)));
    await this.fleet?.stop().catch(() => undefined);
    if (this.sentinel) await this.sentinel.stop().catch(() => undefined);
    else await this.redis?.stop().catch(() => undefined);
  }
}

/**
 * Watches that two conductors never run a node's console at the same time: records the most socat
 * listeners seen at once for one node. Two samplers feed the same record:
 *  - every `intervalMs` (default 5 ms) a cheap one reads only each conductor's launcher's children
 *    (/proc/<pid>/task/<pid>/children: socat listeners are the launcher's direct children), so a
 *    short overlap between a new listener and one still running elsewhere is seen;
 *  - every second a full process-table scan (tens of ms of CPU with a few hundred processes, so
 *    not more often), which also sees listeners no launcher owns any more (a killed conductor's
 *    leftovers, were any to survive it).
 * Still sampling, but an overlap shorter than a few ms would have to fall between two samples.
 */
export class OwnershipSampler {
  maxListenersPerNode = 0;
  offender: string | undefined;
  samples = 0;
  fullScans = 0;
  private startedAt = 0;
  private stoppedAt: number | undefined;
  private timers: NodeJS.Timeout[] = [];
  /** socat listener pid → node uuid (from its -L argument), for the pids seen so far. */
  private readonly uuidOf = new Map<number, string | null>();
  private launchers = new Map<number, number[]>(); // conductor pid → its launcher pids

  constructor(private readonly cluster: LocalCluster) {}

  start(intervalMs = 5): this {
    this.startedAt = performance.now();
    this.stoppedAt = undefined;
    this.timers.push(setInterval(() => this.quickSample(), intervalMs));
    this.timers.push(
      setInterval(() => {
        this.fullScans++;
        this.record(this.cluster.listenerCountByNode());
      }, 1000),
    );
    return this;
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.stoppedAt ??= performance.now();
  }

  /** Launcher samples per second since start: how fine the watch was (each costs a few ms of /proc reads). */
  get samplesPerSecond(): number {
    return this.samples / (((this.stoppedAt ?? performance.now()) - this.startedAt) / 1000);
  }

  private quickSample(): void {
    this.samples++;
    const counts = new Map<string, number>();
    const seen = new Set<number>();
    for (const c of this.cluster.conductors) {
      const pid = c.pid;
      if (!pid || c.exitCode !== undefined) continue;
      let launchers = this.launchers.get(pid)?.filter((l) => isAlive(l));
      if (!launchers?.length) {
        launchers = childrenOf(pid).filter((k) => readCmdline(k).some((a) => a.endsWith('launcher.pl')));
        this.launchers.set(pid, launchers);
      }
      for (const l of launchers) {
        for (const k of childrenOf(l)) {
          seen.add(k);
          let uuid = this.uuidOf.get(k);
          if (uuid === undefined) {
            const argv = readCmdline(k);
            const lock = argv[0]?.endsWith('socat') ? argv.find((a) => a.startsWith('-L')) : undefined;
            uuid = (lock && /\/([0-9a-f-]{36})\.pid$/.exec(lock)?.[1]) || null;
            if (argv.length > 0) this.uuidOf.set(k, uuid); // an empty argv: not exec'd yet, look again next time
          }
          if (uuid) counts.set(uuid, (counts.get(uuid) ?? 0) + 1);
        }
      }
    }
    for (const k of this.uuidOf.keys()) if (!seen.has(k)) this.uuidOf.delete(k); // gone: its pid may be reused
    this.record(counts);
  }

  private record(counts: Map<string, number>): void {
    for (const [uuid, count] of counts) {
      if (count > this.maxListenersPerNode) this.maxListenersPerNode = count;
      if (count > 1) this.offender = uuid;
    }
  }
}
