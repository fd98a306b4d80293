import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ClaimRepository } from '#libs/cluster';
import { Keys } from '#libs/redis';
import { LocalCluster } from '../../support/cluster.js';
import { waitFor } from '../../support/wait.js';

/**
 * Redis goes back in time: it comes back from a copy taken before the latest claims were written, as
 * after a Sentinel failover onto a replica that had not received them. Here: SAVE (the older copy),
 * kill -9 c2 so that c1 takes its consoles over under new epochs, then kill Redis and start it from
 * that copy. The claims c1's running consoles hold now read as c2's older ones (or free), and the
 * epoch counter is below the epochs in use. c1 must keep every console running, write its claims
 * back with the same epochs, report its own URLs again, and no epoch may be handed out twice.
 */
describe('cluster: Redis comes back from an older copy', () => {
  let cluster: LocalCluster;

  beforeAll(async () => {
    cluster = await LocalCluster.start({ name: 'rw', conductors: 2, bmcNodes: 2, dummyNodes: 14 }); // 16 nodes: both conductors own some (6 left one with none in ~3 % of runs)
    await cluster.enableAll();
    await cluster.waitAllServing();
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('keeps the consoles running, writes their claims back with the same epochs, and never reuses an epoch', async () => {
    const keys = new Keys(cluster.prefix);
    const redis = cluster.redis.client();
    const claims = new ClaimRepository(redis, keys);
    const uuids = cluster.nodes.map((n) => n.uuid);
    try {
      const before = await cluster.sample();
      expect(new Set(before.map((s) => s.conductor))).toEqual(new Set(['c1', 'c2'])); // both own some
      await redis.save(); // the older copy
      const counterAtCopy = Number(await redis.get(keys.claimEpoch()));

      await cluster.conductor('c2').kill9();
      const afterTakeover = await waitFor(
        async () => {
          const s = await cluster.sample();
          return s.every((x) => x.serving && x.listening && x.conductor === 'c1') ? s : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 50, what: 'c1 to serve every console' },
      );
      const held = await claims.getMany(uuids);
      const maxEpoch = Math.max(...held.map((c) => c!.epoch));
      expect(maxEpoch).toBeGreaterThan(counterAtCopy);
      const pids = cluster.socatsByNode();

      // Redis restarts from the copy: c2's claims and the old counter are back
      redis.disconnect();
      await cluster.redis.kill();
      await cluster.redis.start();
      const r2 = cluster.redis.client();
      const claims2 = new ClaimRepository(r2, keys);
      try {
        expect(Number(await r2.get(keys.claimEpoch()))).toBe(counterAtCopy);
        const t0 = performance.now();
        await waitFor(
          async () => {
            const now = await claims2.getMany(uuids);
            return now.every((c, i) => c?.member === 'c1' && c.epoch === held[i]!.epoch);
          },
          { timeoutMs: 15_000, intervalMs: 50, what: 'c1 to write its claims back' },
        ).catch(async (e: unknown) => {
          process.stdout.write(`claims: ${JSON.stringify(await claims2.getMany(uuids))}\nwanted: ${JSON.stringify(held)}\nc1 logs: ${cluster.conductor('c1').logs.slice(-4000)}\n`);
          throw e;
        });
        process.stdout.write(`claims written back ${Math.round(performance.now() - t0)} ms after Redis came back from the older copy\n`);
        expect(Number(await r2.get(keys.claimEpoch()))).toBeGreaterThanOrEqual(maxEpoch);
        // the same processes serve, and the API names c1's URLs again (the copy named c2's)
        await waitFor(async () => (await cluster.sample()).every((x, i) => x.serving && x.listening && x.url === afterTakeover[i].url), {
          timeoutMs: 10_000,
          intervalMs: 50,
          what: 'the API to report c1’s URLs again',
        });
        expect(new Map([...cluster.socatsByNode()].map(([u, p]) => [u, p.map((x) => x.pid)]))).toEqual(new Map([...pids].map(([u, p]) => [u, p.map((x) => x.pid)])));
        expect(cluster.conductor('c1').logs).toMatch(/went back in time/);
        expect(cluster.conductor('c1').logs).not.toMatch(/self-fenced|lost the claim/);

        // c2 comes back and takes its share over: every epoch handed out now is above every one in use before
        await cluster.conductor('c2').start();
        const moved = await waitFor(
          async () => {
            const s = await cluster.sample();
            return s.every((x) => x.serving && x.listening) && s.some((x) => x.conductor === 'c2') ? s : undefined;
          },
          { timeoutMs: 30_000, intervalMs: 100, what: 'c2 to take its share back' },
        );
        const now = await claims2.getMany(uuids);
        moved.forEach((s, i) => {
          if (s.conductor === 'c2') expect(now[i]!.epoch).toBeGreaterThan(maxEpoch);
        });
      } finally {
        r2.disconnect();
      }
    } finally {
      redis.disconnect();
    }
  }, 120_000);
});
