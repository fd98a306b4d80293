import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LocalCluster } from '../../support/cluster.js';
import { waitFor } from '../../support/wait.js';

const socatPids = (c: LocalCluster) => new Map([...c.socatsByNode()].map(([u, p]) => [u, p.map((x) => x.pid).join(',')]));

async function metric(c: LocalCluster, id: string, name: string): Promise<number> {
  const text = await (await fetch(`${c.conductor(id).apiUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

/** Redis goes away: briefly (nothing restarts) and for longer than the timeout (self-fence, then back). */
describe('cluster: Redis restarts', () => {
  let cluster: LocalCluster;

  beforeAll(async () => {
    cluster = await LocalCluster.start({ name: 'rr', conductors: 2, bmcNodes: 6, appendonly: true });
    await cluster.enableAll();
    await cluster.waitAllServing();
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('restarts no console when Redis (AOF) is back within the heartbeat timeout', async () => {
    const before = socatPids(cluster);
    const starts = [await metric(cluster, 'c1', 'solgate_console_starts_total'), await metric(cluster, 'c2', 'solgate_console_starts_total')];
    const t0 = performance.now();
    await cluster.redis.kill();
    await new Promise((r) => setTimeout(r, 1500));
    await cluster.redis.start();
    process.stdout.write(`Redis was away for ${Math.round(performance.now() - t0)} ms\n`);
    for (const c of cluster.conductors) await waitFor(async () => (await fetch(`${c.apiUrl}/readyz`)).status === 200, { timeoutMs: 10_000, what: `${c.opts.id} ready` });
    await new Promise((r) => setTimeout(r, 2000)); // a few reconcile passes
    expect(socatPids(cluster)).toEqual(before);
    expect([await metric(cluster, 'c1', 'solgate_console_starts_total'), await metric(cluster, 'c2', 'solgate_console_starts_total')]).toEqual(starts);
    expect((await cluster.sample()).every((x) => x.serving && x.listening)).toBe(true);
    for (const c of cluster.conductors) expect(c.logs).not.toMatch(/self-fenced/);
  });

  it('stops every console when Redis stays away beyond the timeout, and brings them back when it returns', async () => {
    const nodesBefore = (await cluster.api.api('GET', '/v1/nodes')).body.nodes.length;
    await cluster.redis.kill();
    const t0 = performance.now();
    await waitFor(() => cluster.socatsByNode().size === 0, { timeoutMs: 8000, intervalMs: 50, what: 'every console to stop (self-fence)' });
    process.stdout.write(`self-fenced: every console stopped ${Math.round(performance.now() - t0)} ms after Redis died\n`);
    for (const c of cluster.conductors) expect((await fetch(`${c.apiUrl}/readyz`)).status).toBe(503);
    await new Promise((r) => setTimeout(r, 1000));
    await cluster.redis.start();
    const t1 = performance.now();
    await cluster.waitAllServing(20_000);
    process.stdout.write(`every console serving again ${Math.round(performance.now() - t1)} ms after Redis came back\n`);
    expect((await cluster.api.api('GET', '/v1/nodes')).body.nodes.length).toBe(nodesBefore);
    for (const c of cluster.conductors) expect(c.logs).toMatch(/self-fenced/);
  });
});
