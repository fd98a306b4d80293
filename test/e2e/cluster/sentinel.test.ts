import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConductorProcess } from '../../support/conductor-process.js';
import { ConsoleClient } from '../../support/console-client.js';
import { enrol, setConsole, uniquePrefix, waitConsoleUrl } from '../../support/fixtures.js';
import { IpmiSimBmc } from '../../support/ipmi-sim.js';
import { listensNow } from '../../support/net.js';
import { SentinelSetup } from '../../support/sentinel.js';
import { waitFor } from '../../support/wait.js';

/** Conductors on a Sentinel-managed Redis follow a failover; consoles keep serving. */
describe('cluster: Redis Sentinel failover', () => {
  let sentinel: SentinelSetup;
  let bmcs: IpmiSimBmc[] = [];
  let conductors: ConductorProcess[] = [];
  const uuids: string[] = [];

  beforeAll(async () => {
    sentinel = await SentinelSetup.start();
    const prefix = uniquePrefix('sn');
    conductors = await Promise.all([1, 2].map((i) => ConductorProcess.start({ id: `c${i}`, address: `127.0.0.${i}`, redisUrl: sentinel.url, prefix })));
    bmcs = await Promise.all([1, 2, 3, 4].map((i) => IpmiSimBmc.start({ nodeName: `sn-${i}` })));
    for (const b of bmcs) uuids.push(await enrol(conductors[0], b));
    for (const u of uuids) await setConsole(conductors[0], u, true);
    for (const u of uuids) await waitConsoleUrl(conductors[0], u);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(conductors.map((c) => c.dispose()));
    await Promise.all(bmcs.map((b) => b.stop()));
    await sentinel?.stop();
  });

  it('follows the new master and keeps every console serving', async () => {
    const urls = await Promise.all(uuids.map((u) => waitConsoleUrl(conductors[0], u)));
    const oldMaster = await sentinel.masterPort();
    const t0 = performance.now();
    await sentinel.failover();
    const newMaster = await sentinel.masterPort();
    expect(newMaster).not.toBe(oldMaster);
    // every conductor heartbeats on the new master
    await waitFor(
      async () => {
        const c = newMaster === sentinel.replica.port ? sentinel.replica.client() : sentinel.master.client();
        try {
          const members = await c.zrange(`${conductors[0].opts.prefix}:members`, '0', '-1', 'WITHSCORES');
          const time = await c.time();
          const now = Number(time[0]) * 1000;
          return members.length === 4 && Number(members[1]) > now - 2000 && Number(members[3]) > now - 2000;
        } finally {
          await c.quit();
        }
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'both conductors to heartbeat on the new master' },
    );
    process.stdout.write(`conductors heartbeat on the new master ${Math.round(performance.now() - t0)} ms after the failover began\n`);
    for (const c of conductors) expect((await fetch(`${c.apiUrl}/readyz`)).status).toBe(200);
    // consoles never stopped: same URLs, still listening, still usable
    const after = await Promise.all(uuids.map((u) => waitConsoleUrl(conductors[1], u)));
    expect(after).toEqual(urls);
    for (const u of urls) expect(await listensNow(u)).toBe(true);
    const client = await ConsoleClient.connect(after[0]);
    await client.waitSession();
    await client.close();
    // writes go to the new master
    const r = await conductors[1].api('PATCH', `/v1/nodes/${uuids[0]}`, [{ op: 'add', path: '/extra/after_failover', value: true }]);
    expect(r.status).toBe(200);
  });
});
