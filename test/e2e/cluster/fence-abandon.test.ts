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
    // on-demand capture with a 3 s linger: a BMC session outlives its last viewer by 3 s
    cluster = await LocalCluster.start({ name: 'fa', conductors: 2, fleetNodes: 8, env: { SOLGATE_CONSOLE_CAPTURE: 'on-demand', SOLGATE_CONSOLE_LINGER: '3' } });
    await cluster.enableAll();
    await cluster.waitAllServing();
  }, 120_000);

  afterAll(async () => {
    for (const id of ['c1', 'c2']) cluster?.conductor(id).resume();
    await cluster?.stop();
  });

  /** A console and the conductor serving it (the ring decides who owns what: random uuids), and the other one. */
  async function pickVictim() {
    const sample = await cluster.sample();
    const victimId = sample.some((x) => x.conductor === 'c2') ? 'c2' : 'c1';
    const survivorId = victimId === 'c2' ? 'c1' : 'c2';
    const target = sample.find((x) => x.conductor === victimId)!;
    expect(target).toBeDefined();
    const node = cluster.nodes.find((n) => n.uuid === target.uuid)!;
    return { target, node, victim: cluster.conductor(victimId), survivor: cluster.conductor(survivorId), survivorId };
  }

  /** Pause the victim; once the survivor serves the node (after the heartbeat timeout), its console URL. */
  async function pauseUntilTakenOver(v: Awaited<ReturnType<typeof pickVictim>>): Promise<string> {
    v.victim.pause();
    await waitFor(async () => (await cluster.sample([v.target.uuid], v.survivor))[0]?.conductor === v.survivorId, {
      timeoutMs: BOUNDS_MS.pausedTakeover,
      intervalMs: 50,
      what: 'the survivor to serve the paused conductor’s console',
    });
    return (await v.survivor.api('GET', `/v1/nodes/${v.target.uuid}/states/console`)).body.console_info.url;
  }

  it('keeps the new owner’s session through the old owner’s resume and fence (ipmitool-socat)', async () => {
    const v = await pickVictim();
    const { target, node, victim } = v;
    const fleet = cluster.fleet!;

    // the victim's ipmitool holds the payload for a connected client...
    const old = await ConsoleClient.connect(target.url!);
    await old.waitSession();
    // ...while the victim stops running code; the survivor takes the node over after the heartbeat timeout
    const url = await pauseUntilTakenOver(v);
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

  it('keeps the new owner’s session when the old owner resumes after its linger ran out (the linger closes without a word)', async () => {
    // found by the chaos soak (seed 4242): the old owner paused while its session lingered; on resume
    // its linger timer fired before the fence, and its polite close deactivated the successor's session
    const v = await pickVictim();
    const { target, node, victim } = v;
    const fleet = cluster.fleet!;

    const old = await ConsoleClient.connect(target.url!);
    await old.waitSession();
    await old.close(); // the session lingers 3 s
    const detachedAt = Date.now();
    // paused just before the linger runs out, its timer is due before the next heartbeat's: on
    // resume it fires first, before the victim notices its lease lapsed (as in the soak)
    await new Promise((r) => setTimeout(r, 2950));
    const url = await pauseUntilTakenOver(v);
    const good = await ConsoleClient.connect(url);
    try {
      await good.waitSession();
      const current = (await fleet.detail(node.bmcIndex!)).solHistory.at(-1)!;
      expect(current.deactivatedAt).toBeNull();
      // resume only once the linger is long over: its timer fires the moment the victim runs again
      await new Promise((r) => setTimeout(r, Math.max(0, detachedAt + 4000 - Date.now())));
      const logged = victim.logs.length;
      victim.resume();
      await waitFor(() => /self-fenced/.test(victim.logs.slice(logged)), { timeoutMs: 10_000, what: 'the victim to fence itself' });
      await new Promise((r) => setTimeout(r, 1000)); // a late Deactivate Payload would land by now
      const same = (await fleet.detail(node.bmcIndex!)).solHistory.find((h) => h.activatedAt === current.activatedAt && h.bmcSessionId === current.bmcSessionId)!;
      expect([null, 'deactivated']).toContain(same.endReason);
      expect(same.takenOverBy).toBeUndefined();
    } finally {
      await good.close();
    }
  });
});
