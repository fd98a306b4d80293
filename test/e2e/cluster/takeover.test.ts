import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DEFAULT_RING_VNODES } from '#libs/config';
import { Ring } from '#libs/ring';
import { LocalCluster, OwnershipSampler, type ConsoleSample } from '../../support/cluster.js';
import { ConsoleClient } from '../../support/console-client.js';
import { BOUNDS_MS, reportMs } from '../../support/timing.js';
import { waitFor } from '../../support/wait.js';

/**
 * Three conductors (127.0.0.1-3) and 60 console-enabled nodes on real ipmi_sim BMCs: placement by
 * the ring, a conductor joining, a graceful stop and a crash — with a sampler watching that no node
 * ever has two console listeners at once.
 */
describe('cluster: placement, join, graceful handover, crash takeover', () => {
  let cluster: LocalCluster;
  let sampler: OwnershipSampler;

  const byConductor = (s: ConsoleSample[]) => {
    const m: Record<string, number> = {};
    for (const x of s) m[x.conductor ?? 'none'] = (m[x.conductor ?? 'none'] ?? 0) + 1;
    return m;
  };

  /** Poll until every node in `uuids` serves from a conductor other than `from`; per-node time to that moment. */
  async function timeUntilServedElsewhere(uuids: string[], from: string, t0: number, timeoutMs: number): Promise<number[]> {
    const done = new Map<string, number>();
    await waitFor(
      async () => {
        const s = await cluster.sample(uuids.filter((u) => !done.has(u)));
        const now = performance.now();
        for (const x of s) if (x.serving && x.listening && x.conductor && x.conductor !== from) done.set(x.uuid, now - t0);
        return done.size === uuids.length;
      },
      { timeoutMs, intervalMs: 20, what: `every console of ${from} to serve elsewhere` },
    );
    return uuids.map((u) => done.get(u)!);
  }

  beforeAll(async () => {
    cluster = await LocalCluster.start({ name: 'tk', conductors: 3, bmcNodes: 60 });
    await cluster.enableAll();
    await cluster.waitAllServing(60_000);
    sampler = new OwnershipSampler(cluster).start();
  }, 180_000);

  afterAll(async () => {
    sampler?.stop();
    await cluster?.stop();
  });

  it('serves every node from exactly one conductor, the one the ring names', async () => {
    const s = await cluster.sample();
    const ring = new Ring(['c1', 'c2', 'c3'], DEFAULT_RING_VNODES);
    for (const x of s) {
      expect(x.serving && x.listening).toBe(true);
      expect(x.conductor).toBe(ring.owner(x.uuid));
    }
    const api = await cluster.api.api('GET', '/v1/nodes/detail');
    for (const n of api.body.nodes) expect(n.conductor).toBe(ring.owner(n.uuid));
    for (const [, count] of cluster.listenerCountByNode()) expect(count).toBe(1);
    expect(cluster.listenerCountByNode().size).toBe(60);
    process.stdout.write(`placement over 3 conductors: ${JSON.stringify(byConductor(s))}\n`);
    // and the consoles work: a client on one node of each conductor gets a session
    for (const c of ['c1', 'c2', 'c3']) {
      const x = s.find((y) => y.conductor === c)!;
      const client = await ConsoleClient.connect(x.url!);
      await client.waitSession();
      await client.close();
    }
  });

  it('moves only the nodes the ring gives to a conductor that joins, and restarts no other console', async () => {
    const before = cluster.socatsByNode();
    const ring3 = new Ring(['c1', 'c2', 'c3'], DEFAULT_RING_VNODES);
    const ring4 = new Ring(['c1', 'c2', 'c3', 'c4'], DEFAULT_RING_VNODES);
    const moving = cluster.nodes.filter((n) => ring4.owner(n.uuid) !== ring3.owner(n.uuid)).map((n) => n.uuid);
    expect(moving.length).toBeGreaterThan(0);
    await cluster.addConductor(4);
    await waitFor(async () => (await cluster.sample(moving)).every((x) => x.serving && x.listening && x.conductor === 'c4'), {
      timeoutMs: 30_000,
      what: 'the moved nodes to serve from c4',
    });
    const after = cluster.socatsByNode();
    for (const n of cluster.nodes) {
      if (moving.includes(n.uuid)) continue;
      expect(after.get(n.uuid)?.map((p) => p.pid)).toEqual(before.get(n.uuid)?.map((p) => p.pid));
    }
    const s = await cluster.sample();
    for (const x of s) expect(x.conductor).toBe(ring4.owner(x.uuid));
    process.stdout.write(`join: ${moving.length} of 60 nodes moved to c4 (ring predicts ${moving.length}); others untouched\n`);
  });

  it('hands every console of a conductor stopped with SIGTERM over to the survivors, leaving nothing of it', async () => {
    const victim = cluster.conductor('c2');
    const its = (await cluster.sample()).filter((x) => x.conductor === 'c2').map((x) => x.uuid);
    expect(its.length).toBeGreaterThan(0);
    const t0 = performance.now();
    const exited = victim.stop();
    const times = await timeUntilServedElsewhere(its, 'c2', t0, BOUNDS_MS.gracefulHandover);
    expect(await exited).toBe(0);
    reportMs(`graceful: ${its.length} consoles handed over, p50`, times.sort((a, b) => a - b)[Math.floor(times.length / 2)]);
    const max = reportMs('graceful: max', Math.max(...times), 'target ≤ 1 s, bench/takeover.ts');
    expect(max).toBeLessThan(BOUNDS_MS.gracefulHandover);
    for (const [, procs] of cluster.socatsByNode()) expect(procs.some((p) => p.pidDir === victim.pidDir)).toBe(false);
  });

  it('takes every console of a conductor killed with SIGKILL over, leaving nothing of it listening', async () => {
    const victim = cluster.conductor('c3');
    const its = (await cluster.sample()).filter((x) => x.conductor === 'c3').map((x) => x.uuid);
    expect(its.length).toBeGreaterThan(0);
    const t0 = performance.now();
    await victim.kill9();
    const times = await timeUntilServedElsewhere(its, 'c3', t0, BOUNDS_MS.crashTakeover);
    reportMs(`crash: ${its.length} consoles taken over, p50`, times.sort((a, b) => a - b)[Math.floor(times.length / 2)]);
    const max = reportMs('crash: max', Math.max(...times), 'target ≤ 2 s, bench/takeover.ts');
    expect(max).toBeLessThan(BOUNDS_MS.crashTakeover);
    for (const [, procs] of cluster.socatsByNode()) expect(procs.some((p) => p.pidDir === victim.pidDir)).toBe(false);
    // found by the crash fast path (Redis connection gone + API refusing), not by the heartbeat timeout
    expect(['c1', 'c4'].some((id) => /conductor crashed/.test(cluster.conductor(id).logs))).toBe(true);
  });

  it('never had two console listeners for one node at the same moment', () => {
    process.stdout.write(`listener sampler: ${sampler.samples} launcher samples (${sampler.samplesPerSecond.toFixed(0)}/s), ${sampler.fullScans} full scans\n`);
    // the watch was fine-grained: a sample every 40 ms on average at least (a count alone depends on
    // how long the tests ran: 349 in a quick run on a quiet machine, at ~140/s)
    expect(sampler.samples).toBeGreaterThan(100);
    expect(sampler.samplesPerSecond).toBeGreaterThan(25);
    // full socket-table scans are slow on a loaded box (3 were seen at load 7); the launcher samples carry the check
    expect(sampler.fullScans).toBeGreaterThan(0);
    expect({ max: sampler.maxListenersPerNode, node: sampler.offender }).toEqual({ max: 1, node: undefined });
  });
});
