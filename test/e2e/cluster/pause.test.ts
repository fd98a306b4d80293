import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LocalCluster } from '../../support/cluster.js';
import { ConsoleClient } from '../../support/console-client.js';
import { listensNow, readListeningSockets, urlListens } from '../../support/net.js';
import { listProcesses } from '../../support/procs.js';
import { BOUNDS_MS, reportMs } from '../../support/timing.js';
import { waitFor } from '../../support/wait.js';

/** ipmitool `sol activate` processes per node uuid (their -f argument names the node's password file). */
function solSessionsByNode(): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of listProcesses()) {
    if (!p.argv[0]?.endsWith('ipmitool') || !p.argv.includes('activate')) continue;
    const f = p.argv[p.argv.indexOf('-f') + 1] ?? '';
    const m = /([0-9a-f-]{36})\.pw$/.exec(f);
    if (m) out.set(m[1], (out.get(m[1]) ?? 0) + 1);
  }
  return out;
}

/**
 * A conductor that stops running code (SIGSTOP: a long GC, a frozen VM) while its socat children
 * keep listening: survivors take over after the heartbeat timeout, the stale listener refuses to
 * open SOL sessions (lease file), and on SIGCONT the conductor fences itself and rejoins.
 */
describe('cluster: a paused conductor', () => {
  let cluster: LocalCluster;
  let maxSessions = 0;
  let timer: NodeJS.Timeout;

  beforeAll(async () => {
    cluster = await LocalCluster.start({ name: 'ps', conductors: 2, bmcNodes: 8 });
    await cluster.enableAll();
    await cluster.waitAllServing();
    timer = setInterval(() => {
      for (const [, n] of solSessionsByNode()) maxSessions = Math.max(maxSessions, n);
    }, 50);
  }, 120_000);

  afterAll(async () => {
    clearInterval(timer);
    cluster?.conductor('c2').resume();
    await cluster?.stop();
  });

  it('is replaced after the heartbeat timeout (not before), its stale listeners open no SOL session, and it rejoins cleanly after SIGCONT', async () => {
    const before = await cluster.sample();
    const paused = before.filter((x) => x.conductor === 'c2');
    expect(paused.length).toBeGreaterThan(0);
    const victim = cluster.conductor('c2');

    const t0 = performance.now();
    victim.pause();
    await waitFor(async () => (await cluster.sample(paused.map((x) => x.uuid), cluster.conductor('c1'))).every((x) => x.serving && x.listening && x.conductor === 'c1'), {
      timeoutMs: BOUNDS_MS.pausedTakeover,
      intervalMs: 50,
      what: 'c1 to serve every console of the paused c2',
    });
    const takeoverMs = reportMs('paused conductor replaced after', performance.now() - t0, 'target ≤ heartbeat timeout 5 s + 2 s, bench/takeover.ts');
    // A paused conductor still holds its Redis connection and its API port still accepts: only the
    // heartbeat timeout (5 s after its last heartbeat, at most 1 s before the pause) may replace it.
    expect(takeoverMs).toBeGreaterThan(5000 - 1000 - 100);
    expect(takeoverMs).toBeLessThan(BOUNDS_MS.pausedTakeover);

    // The paused conductor's listener is still there...
    const stale = paused[0];
    expect(await listensNow(stale.url!)).toBe(true);
    const node = cluster.nodes.find((n) => n.uuid === stale.uuid)!;
    // ...a client on the new owner has a working session...
    const url = (await cluster.conductor('c1').api('GET', `/v1/nodes/${stale.uuid}/states/console`)).body.console_info.url;
    const good = await ConsoleClient.connect(url);
    await good.waitSession();
    await good.primeIpmiSim();
    // ...and a client that reaches the stale listener gets no SOL session.
    const received = node.bmc!.received.length;
    const bad = await ConsoleClient.connect(stale.url!);
    await bad.waitFor('listener is stale');
    bad.write('typed-into-a-stale-console\r');
    await waitFor(() => bad.closed, { timeoutMs: 10_000, what: 'the stale connection to close' });
    expect(bad.received).not.toContain('SOL Session operational');
    expect(node.bmc!.received.slice(received)).not.toContain('typed-into-a-stale-console');
    // the good session is unharmed
    good.write('still-mine\r');
    await node.bmc!.waitReceived('still-mine\r');
    node.bmc!.print('still-yours');
    await good.waitFor('still-yours');
    await good.close();

    // SIGCONT: c2 notices its lease lapsed, stops its stale consoles at once, then rejoins.
    const t1 = performance.now();
    victim.resume();
    const staleListening = async () => {
      const sockets = await readListeningSockets();
      return paused.some((x) => urlListens(x.url!, sockets));
    };
    await waitFor(async () => !(await staleListening()), { timeoutMs: 10_000, intervalMs: 20, what: 'c2 to stop its stale listeners' });
    reportMs('after SIGCONT the stale listeners were gone in', performance.now() - t1);
    await waitFor(async () => (await fetch(`${victim.apiUrl}/readyz`)).status === 200, { timeoutMs: 5000, what: 'c2 to be ready again' });
    expect(victim.logs).toMatch(/self-fenced/);
    // back in the ring: its share of nodes returns to it
    await waitFor(async () => {
      const s = await cluster.sample();
      return s.every((x) => x.serving && x.listening) && s.some((x) => x.conductor === 'c2');
    }, {
      timeoutMs: 10_000,
      what: 'c2 to serve its share again',
    });
    const members = await cluster.conductor('c1').api('GET', '/v1/conductors');
    expect(members.body.conductors.map((m: any) => [m.hostname, m.alive]).sort()).toEqual([['c1', true], ['c2', true]]);
  });

  it('never had two SOL sessions for one node', () => {
    expect(maxSessions).toBeLessThanOrEqual(1);
  });
});
