import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LocalCluster } from '../../support/cluster.js';
import { ConsoleClient } from '../../support/console-client.js';
import { BOUNDS_MS } from '../../support/timing.js';
import { waitFor } from '../../support/wait.js';

/**
 * A self-fenced conductor must leave the BMC alone: its successor may hold the node's SOL payload
 * by now, and a Deactivate Payload from the old session ends the successor's (found by the chaos
 * seed 668079193: closing ipmitool's socket before killing it let ipmitool read EOF and deactivate).
 * Fleet simulator BMCs, because they record who ended each SOL activation.
 */
describe('cluster: a fenced conductor leaves its successor’s SOL session alone', () => {
  let cluster: LocalCluster;

  beforeAll(async () => {
    cluster = await LocalCluster.start({ name: 'fa', conductors: 2, fleetNodes: 6 });
    await cluster.enableAll();
    await cluster.waitAllServing();
  }, 120_000);

  afterAll(async () => {
    cluster?.conductor('c2').resume();
    await cluster?.stop();
  });

  it('keeps the new owner’s session through the old owner’s resume and fence (ipmitool-socat)', async () => {
    const onC2 = (await cluster.sample()).filter((x) => x.conductor === 'c2');
    expect(onC2.length).toBeGreaterThan(0);
    const target = onC2[0];
    const node = cluster.nodes.find((n) => n.uuid === target.uuid)!;
    const fleet = cluster.fleet!;

    // c2's ipmitool holds the payload for a connected client...
    const old = await ConsoleClient.connect(target.url!);
    await old.waitSession();
    const victim = cluster.conductor('c2');
    // ...while c2 stops running code; c1 takes the node over after the heartbeat timeout
    victim.pause();
    await waitFor(async () => (await cluster.sample([target.uuid], cluster.conductor('c1')))[0]?.conductor === 'c1', {
      timeoutMs: BOUNDS_MS.pausedTakeover,
      intervalMs: 50,
      what: 'c1 to serve the paused conductor’s console',
    });
    const url = (await cluster.conductor('c1').api('GET', `/v1/nodes/${target.uuid}/states/console`)).body.console_info.url;
    const good = await ConsoleClient.connect(url);
    await good.waitSession();
    const before = await fleet.detail(node.bmcIndex!);
    const current = before.solHistory.at(-1)!;
    expect(current.deactivatedAt).toBeNull();

    // SIGCONT: c2 fences itself and drops its stale consoles without a word to the BMC
    victim.resume();
    await waitFor(() => /self-fenced/.test(victim.logs), { timeoutMs: 10_000, what: 'c2 to fence itself' });
    await waitFor(() => /"reason":"fenced"[^\n]*"msg":"console stopped"/.test(victim.logs), { timeoutMs: 10_000, what: 'c2 to stop its stale consoles' });
    await new Promise((r) => setTimeout(r, 500)); // a late Deactivate Payload would land by now

    const after = await fleet.detail(node.bmcIndex!);
    const same = after.solHistory.find((h) => h.activatedAt === current.activatedAt && h.bmcSessionId === current.bmcSessionId)!;
    // Still active, or ended by its own session when c1 handed the node back to the rejoined c2
    // (graceful), but never taken over by another session.
    expect([null, 'deactivated']).toContain(same.endReason);
    expect(same.takenOverBy).toBeUndefined();
    await good.close();
    await old.close();
  });
});
