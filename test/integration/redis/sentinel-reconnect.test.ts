import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '#libs/common';
import { FaultProxyHost } from '../../support/fault-proxy-host.js';
import { SentinelSetup } from '../../support/sentinel.js';
import { waitFor } from '../../support/wait.js';

/**
 * A conductor's Redis client (libs/redis createRedisClient, Sentinel mode) must come back after the
 * master crashes and Sentinel fails over, however the failover notice (+switch-master) falls
 * against its reconnect attempts. ioredis 6 ends a Sentinel client for good ("Connection is
 * closed.") when the notice interrupts an attempt that is asking Sentinel for the master; found by
 * the chaos suite: after a master crash every conductor's command connection was dead while its
 * heartbeat went on, so no console served and nothing took over.
 *
 * The client runs in its own process, its links to Sentinel and to both Redis servers through fault
 * proxies (as in the chaos suite): a dead server behind a proxy accepts the connection and resets
 * it, so every reconnect attempt gets that far, which makes the race likely rather than rare.
 */
describe('Redis client (Sentinel): comes back after the master crashes and fails over', () => {
  let sentinel: SentinelSetup;
  let proxies: FaultProxyHost;
  let child: ChildProcess;
  const lines: { t: number; ok: boolean; status: string; err?: string }[] = [];

  beforeAll(async () => {
    sentinel = await SentinelSetup.start({ downAfterMs: 1000, failoverTimeoutMs: 2000 });
    proxies = FaultProxyHost.start();
    const pairs: string[] = [];
    for (const port of [sentinel.sentinelPort, sentinel.master.port, sentinel.replica.port]) {
      const p = await proxies.add(`client->${port}`, port === sentinel.sentinelPort ? 'sentinel-link' : 'redis-links', { host: '127.0.0.1', port });
      pairs.push(`127.0.0.1:${port}=127.0.0.1:${p.port}`);
    }
    const lib = join(packageRoot(), 'dist', 'libs', 'redis', 'src', 'index.js');
    const script = `
      const { createRedisClient } = await import(${JSON.stringify(lib)});
      const c = createRedisClient(${JSON.stringify(sentinel.url)}, { name: 'probe', commandTimeoutMs: 500 });
      c.on('error', () => {});
      setInterval(async () => {
        const t = Date.now();
        try { await c.ping(); console.log(JSON.stringify({ t, ok: true, status: c.status })); }
        catch (e) { console.log(JSON.stringify({ t, ok: false, status: c.status, err: e.message })); }
      }, 100);
    `;
    const preload = join(packageRoot(), 'dist', 'test', 'support', 'net-redirect.preload.js');
    child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', process.execPath, '--import', preload, '--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH ?? '', CHAOS_NET_REDIRECT: pairs.join(',') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const p of parts) if (p.startsWith('{')) lines.push(JSON.parse(p));
    });
    await waitFor(() => lines.some((l) => l.ok), { timeoutMs: 15_000, what: 'the client to answer' });
  }, 60_000);

  afterAll(async () => {
    child?.kill('SIGKILL');
    await proxies?.close();
    await sentinel?.stop();
  });

  it('answers again after each of several master crashes with a failover', async () => {
    // A slow link to Sentinel (a loaded or distant Sentinel): each reconnect attempt spends most of its
    // time asking Sentinel for the master, which is when a failover notice used to end the client.
    await proxies.setMode('sentinel-link', { kind: 'delay', ms: 150 });
    for (let round = 1; round <= 4; round++) {
      const master = await sentinel.currentMaster();
      const before = master.port;
      const t0 = Date.now();
      await master.kill();
      await waitFor(async () => (await sentinel.masterPort()) !== before, { timeoutMs: 20_000, intervalMs: 100, what: `Sentinel to fail over (round ${round})` });
      const switched = Date.now();
      await master.start([]); // back as a replica of the new master (Sentinel reconfigures it)
      await waitFor(() => lines.some((l) => l.t > switched && l.ok), { timeoutMs: 20_000, intervalMs: 100, what: `the client to answer after failover ${round} (last: ${JSON.stringify(lines[lines.length - 1])})` });
      const back = lines.find((l) => l.t > switched && l.ok)!;
      process.stdout.write(`round ${round}: master crashed, failover after ${switched - t0} ms, client answering ${back.t - switched} ms later\n`);
      expect(lines.filter((l) => l.t > t0).some((l) => l.status === 'end' && l.t > back.t)).toBe(false);
    }
  }, 180_000);
});
