import { join } from 'node:path';
import { packageRoot } from '#libs/common';
import { canBind } from '../support/ports.js';
import { LocalCluster } from '../support/cluster.js';
import type { ConductorProcess } from '../support/conductor-process.js';
import { FaultProxyHost } from '../support/fault-proxy-host.js';
import type { FaultMode } from '../support/fault-proxy.js';

export interface ChaosTopologyOptions {
  name: string;
  conductors: number;
  nodes: number;
  /** Share of nodes with console_interface native-ipmi-socat (the rest: ipmitool-socat). */
  nativeShare: number;
  logDir: string;
  /** How long Sentinel waits before it fails a silent master over (ms). */
  sentinelDownAfterMs: number;
  env?: Record<string, string>;
}

/**
 * The cluster a chaos run works on, built from the shared test harness (LocalCluster): Redis
 * behind Sentinel (master, replica, one sentinel), the fleet BMC simulator with one BMC per node,
 * and N conductors on 127.0.0.1..N. Every Redis link of conductor `cN` (to Sentinel and to each
 * Redis server) goes through its own fault proxies (group `cN`, in a worker thread), redirected by
 * the net-redirect preload: so any one conductor can be partitioned from Redis, slowed down or
 * reset, whichever server is master, while its API and console ports stay reachable.
 */
export class ChaosTopology {
  readonly proxies = FaultProxyHost.start();
  cluster!: LocalCluster;

  private constructor(readonly opts: ChaosTopologyOptions) {}

  static async start(opts: ChaosTopologyOptions): Promise<ChaosTopology> {
    const t = new ChaosTopology(opts);
    try {
      await t.start();
    } catch (e) {
      await t.stop();
      throw e;
    }
    return t;
  }

  private async start(): Promise<void> {
    const o = this.opts;
    const portRange = await freePortBlockOnAll(o.nodes + 100, Array.from({ length: o.conductors + 1 }, (_, i) => `127.0.0.${i + 1}`));
    const preload = join(packageRoot(), 'dist', 'test', 'support', 'net-redirect.preload.js');
    const nativeEvery = o.nativeShare > 0 ? Math.max(1, Math.round(1 / o.nativeShare)) : 0;
    this.cluster = new LocalCluster({
      name: o.name,
      conductors: o.conductors,
      fleetNodes: o.nodes,
      fleetConsoleInterface: (i) => (nativeEvery && i % nativeEvery === nativeEvery - 1 ? 'native-ipmi-socat' : 'ipmitool-socat'),
      sentinel: { downAfterMs: o.sentinelDownAfterMs, failoverTimeoutMs: 4000 },
      portRange,
      logDir: o.logDir,
      readyTimeoutMs: 90_000,
      env: { SOLGATE_LOG_LEVEL: 'info', ...o.env },
      conductorSetup: async (n, cluster) => {
        const s = cluster.sentinel!;
        const pairs: string[] = [];
        for (const port of [s.sentinelPort, s.master.port, s.replica.port]) {
          const p = await this.proxies.add(`c${n}->${port}`, `c${n}`, { host: '127.0.0.1', port });
          pairs.push(`127.0.0.1:${port}=127.0.0.1:${p.port}`);
        }
        return { env: { CHAOS_NET_REDIRECT: pairs.join(',') }, nodeArgs: ['--import', preload] };
      },
    });
    await this.cluster.start();
  }

  get conductors(): ConductorProcess[] {
    return this.cluster.conductors;
  }

  conductor(id: string): ConductorProcess {
    return this.cluster.conductor(id);
  }

  /** Cut (blackhole), reset, slow down or restore every Redis link of one conductor. */
  setLink(id: string, mode: FaultMode): Promise<void> {
    return this.proxies.setMode(id, mode);
  }

  /** Tear down; `log` hears how long each part took (a teardown that hangs must say where). */
  async stop(log: (line: string) => void = () => undefined): Promise<void> {
    const step = async (what: string, p: Promise<unknown> | undefined) => {
      const t0 = Date.now();
      await p?.catch((e: unknown) => log(`chaos teardown: ${what} failed: ${e instanceof Error ? e.message : String(e)}`));
      log(`chaos teardown: ${what} took ${Date.now() - t0} ms`);
    };
    for (const c of this.cluster?.conductors ?? []) c.resume();
    await step('stopping the conductors', this.cluster && Promise.all(this.cluster.conductors.map((c) => c.dispose())));
    await step('stopping the cluster (BMC simulator, Redis, Sentinel)', this.cluster?.stop());
    await step('closing the fault proxies', this.proxies.close());
  }
}

/** A block of TCP ports below the ephemeral range that is free on every given address right now. */
async function freePortBlockOnAll(count: number, hosts: string[]): Promise<{ start: number; stop: number }> {
  for (let attempt = 0; attempt < 300; attempt++) {
    // 12000-31999, avoiding 20000-20999 (the other suites' LocalCluster default)
    const start = 12000 + Math.floor(Math.random() * ((32000 - 12000 - count) / 10)) * 10;
    if (start < 21000 && start + count > 20000) continue;
    let ok = true;
    for (let p = start; p < start + count && ok; p++) for (const h of hosts) if (!(await canBind(p, h))) ok = false;
    if (ok) return { start, stop: start + count };
  }
  throw new Error(`no block of ${count} TCP ports free on ${hosts.join(', ')}`);
}
