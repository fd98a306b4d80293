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
    cluster = await LocalCluster.start({ name: 'fa', conductors: 2, fleetNodes: 8 });
    await cluster.enableAll();
    await cluster.waitAllServing();
  }, 120_000);

  afterAll(async () => {
    for (const id of ['c1', 'c2']) cluster?.conductor(id).resume();
    await cluster?.stop();
  });

  it('keeps the new owner’s session through the old owner’s resume and fence (ipmitool-socat)', async () => {
    // the ring decides who owns what (random uuids): the victim is a conductor that serves something
    const sample = await cluster.sample();
    const victimId = sample.some((x) => x.conductor === 'c2') ? 'c2' : 'c1';
    const survivorId = victimId === 'c2' ? 'c1' : 'c2';
    const target = sample.find((x) => x.conductor === victimId)!;
    expect(target).toBeDefined();
    const node = cluster.nodes.find((n) => n.uuid === target.uuid)!;
    const fleet = cluster.fleet!;

    // the victim's ipmitool holds the payload for a connected client...
    const old = await ConsoleClient.connect(target.url!);
    await old.waitSession();
    const victim = cluster.conductor(victimId);
    const survivor = cluster.conductor(survivorId);
    // ...while the victim stops running code; the survivor takes the node over after the heartbeat timeout
    victim.pause();
    await waitFor(async () => (await cluster.sample([target.uuid], survivor))[0]?.conductor === survivorId, {
      timeoutMs: BOUNDS_MS.pausedTakeover,
      intervalMs: 50,
      what: 'the survivor to serve the paused conductor’s console',
    });
    const url = (await survivor.api('GET', `/v1/nodes/${target.uuid}/states/console`)).body.console_info.url;
    const good = await ConsoleClient.connect(url);
    await good.waitSession();
    const before = await fleet.detail(node.bmcIndex!);
    const current = before.solHistory.at(-1)!;
    expect(current.deactivatedAt).toBeNull();

    // SIGCONT: the victim fences itself and drops its stale consoles without a word to the BMC
    victim.resume();
    await waitFor(() => /self-fenced/.test(victim.logs), { timeoutMs: 10_000, what: 'the victim to fence itself' });
    await waitFor(() => /"reason":"fenced"[^\n]*"msg":"console stopped"/.test(victim.logs), { timeoutMs: 10_000, what: 'the victim to stop its stale consoles' });
    await new Promise((r) => setTimeout(r, 500)); // a late Deactivate Payload would land by now

    const after = await fleet.detail(node.bmcIndex!);
    const same = after.solHistory.find((h) => h.activatedAt === current.activatedAt && h.bmcSessionId === current.bmcSessionId)!;
    // Still active, or ended by its own session when the survivor handed the node back to the rejoined victim
    // (graceful), but never taken over by another session.
    expect([null, 'deactivated']).toContain(same.endReason);
    expect(same.takenOverBy).toBeUndefined();
    await good.close();
    await old.close();
  });
});
