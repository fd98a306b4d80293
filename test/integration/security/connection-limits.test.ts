import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { ConsoleStatusRepository } from '#libs/nodes';
import { Keys } from '#libs/redis';
import { ConductorProcess } from '../../support/conductor-process.js';
import { ConsoleClient } from '../../support/console-client.js';
import { enrol, setConsole, uniquePrefix, waitConsoleUrl } from '../../support/fixtures.js';
import { IpmiSimBmc } from '../../support/ipmi-sim.js';
import { RedisServer } from '../../support/redis-server.js';
import { waitFor } from '../../support/wait.js';
import { cliFor } from '../cli/cli-harness.js';

const SLOW_CLIENTS = 1000;
const HEADERS_TIMEOUT_S = 4;

/** A client that starts a request and never finishes its headers. */
function slowClient(port: number, host: string): Promise<{ socket: Socket; closedAt: () => number | undefined }> {
  return new Promise((resolve) => {
    let closedAt: number | undefined;
    const socket = createConnection({ port, host });
    socket.on('error', () => undefined);
    socket.resume(); // read (the 408), so the server's FIN is seen
    socket.on('end', () => (closedAt ??= Date.now()));
    socket.on('close', () => (closedAt ??= Date.now()));
    socket.once('connect', () => socket.write('GET /v1/nodes HTTP/1.1\r\nHost: x\r\nX-Slow: '));
    // resolve at once: connecting may be refused (dropped at the cap), which is part of the test
    resolve({ socket, closedAt: () => closedAt });
  });
}

const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const limitOf = (pid: number) => /Max open files\s+(\d+)\s+(\d+)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))!.slice(1).map(Number);

/**
 * Finding 4 of the hardening issue: 1,000 slow connections exhausted the conductor's descriptors,
 * its heartbeat (the lease file) failed with EMFILE and it dropped out. Now API connections are
 * capped from the open-files limit with descriptors kept in reserve, slow clients are cut off after
 * the header timeout, and heartbeats and console starts go on meanwhile.
 */
describe('security: API connection limits', () => {
  let redis: RedisServer;
  let client: Redis;
  let c: ConductorProcess;
  let bmc: IpmiSimBmc;
  const prefix = uniquePrefix('conns');
  const keys = new Keys(prefix);

  beforeAll(async () => {
    redis = await RedisServer.start();
    client = new Redis(redis.url);
    bmc = await IpmiSimBmc.start({ nodeName: 'under-load' });
    c = await ConductorProcess.start({
      id: 'c-conns',
      redisUrl: redis.url,
      prefix,
      launchPrefix: ['prlimit', '--nofile=1024:1024'],
      env: { SOLGATE_API_HEADERS_TIMEOUT: String(HEADERS_TIMEOUT_S), SOLGATE_API_REQUEST_TIMEOUT: '10' },
    });
  }, 60_000);
  afterAll(async () => {
    await c?.dispose();
    await bmc?.stop();
    client?.disconnect();
    await redis?.stop();
  });

  it('runs with its soft open-files limit raised to the hard one, and sizes the API cap from it', async () => {
    const r = await ConductorProcess.start({ id: 'c-nofile', redisUrl: redis.url, prefix: uniquePrefix('nofile'), address: '127.0.0.2', launchPrefix: ['prlimit', '--nofile=1024:4096'] });
    try {
      expect(limitOf(r.pid!)).toEqual([4096, 4096]);
      expect(r.logs).toMatch(/"maxConnections":3072/);
    } finally {
      await r.dispose();
    }
  }, 60_000);

  it('keeps heartbeating and starting consoles under 1,000 slow connections, then cuts them off', async () => {
    expect(limitOf(c.pid!)).toEqual([1024, 1024]);
    expect(c.logs).toMatch(/"maxConnections":512/);
    const node = await enrol(c, bmc);

    const t0 = Date.now();
    const clients = await Promise.all(Array.from({ length: SLOW_CLIENTS }, () => slowClient(c.apiPort, c.address)));
    const scoreBefore = Number(await client.zscore(keys.members(), 'c-conns'));
    const leaseBefore = readFileSync(`${c.pidDir}/lease`, 'utf8');
    let maxFds = 0;
    const sampler = setInterval(() => (maxFds = Math.max(maxFds, openFds(c.pid!))), 50);
    try {
      // a console asked for through Redis (the CLI): the API is saturated on purpose
      const cli = cliFor(redis.url, prefix);
      expect((await cli(['console', 'enable', node])).code).toBe(0);
      const statuses = new ConsoleStatusRepository(client, keys);
      const st = await waitFor(async () => {
        const s = await statuses.get(node);
        return s.state === 'running' && s.port ? s : undefined;
      }, { timeoutMs: 15_000, what: 'the console to start while the API is flooded' });
      // ... and serves: a console client gets the node's serial output through socat and ipmitool
      const console = await ConsoleClient.connect(`tcp://${c.address}:${st.port}`);
      try {
        await console.waitSession(15_000);
        bmc.print('\r\nunder-load login: ');
        await console.waitFor('under-load login: ');
      } finally {
        await console.close();
      }
      await new Promise((r) => setTimeout(r, 2000)); // two more heartbeats under load
      expect(Number(await client.zscore(keys.members(), 'c-conns'))).toBeGreaterThan(scoreBefore);
      expect(readFileSync(`${c.pidDir}/lease`, 'utf8')).not.toBe(leaseBefore);

      // the slow clients are cut off after the header timeout (plus the check interval), every one
      await waitFor(() => clients.every((x) => x.closedAt() !== undefined), {
        timeoutMs: (HEADERS_TIMEOUT_S + 15) * 1000,
        what: 'every slow client to be cut off',
      }).catch((e) => {
        const open = clients.filter((x) => x.closedAt() === undefined);
        throw new Error(`${e.message}: ${open.length} open, ${open.filter((x) => x.socket.connecting).length} still connecting, fds ${openFds(c.pid!)}`);
      });
      const last = Math.max(...clients.map((x) => x.closedAt()!));
      expect(last - t0).toBeLessThan((HEADERS_TIMEOUT_S + 10) * 1000);
    } finally {
      clearInterval(sampler);
      for (const x of clients) x.socket.destroy();
    }
    expect(maxFds).toBeLessThan(1024 - 256); // the reserve was never touched
    expect((await c.api('GET', '/v1')).status).toBe(200); // and the API serves again
    const metrics = await (await fetch(`${c.apiUrl}/metrics`)).text();
    expect(Number(/^solgate_api_connections_dropped_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(Number(/^solgate_api_max_connections (\d+)/m.exec(metrics)?.[1])).toBe(512);
    expect(c.logs).toContain('API connection limit reached');
    expect(c.logs).not.toMatch(/EMFILE|heartbeat failed|self-fenced/);
  }, 90_000);

  it('caps console clients over TCP conductor-wide, so a flood on console ports cannot take the heartbeat’s descriptors either', async () => {
    const CLIENTS = 260;
    const bmc2 = await IpmiSimBmc.start({ nodeName: 'viewers' });
    const v = await ConductorProcess.start({
      id: 'c-viewers',
      redisUrl: redis.url,
      prefix,
      address: '127.0.0.3',
      launchPrefix: ['prlimit', '--nofile=256:256'],
      // one node may have more viewers than the conductor can hold: the conductor-wide cap decides
      // its own conductor group, so the node below is this conductor's whatever the ring says
      env: { SOLGATE_CONSOLE_MAX_VIEWERS: '400', SOLGATE_CONDUCTOR_GROUP: 'viewers' },
    });
    const sockets: Socket[] = [];
    let sampler: NodeJS.Timeout | undefined;
    try {
      expect(v.logs).toMatch(/"maxConsoleClients":64/);
      const uuid = await enrol(v, bmc2, { conductor_group: 'viewers' });
      await setConsole(v, uuid, true);
      const url = await waitConsoleUrl(v, uuid, 20_000);
      const [, host, port] = /^tcp:\/\/([^:]+):(\d+)$/.exec(url)!;
      const scoreBefore = Number(await client.zscore(keys.members(), 'c-viewers'));
      let maxFds = 0;
      sampler = setInterval(() => (maxFds = Math.max(maxFds, openFds(v.pid!))), 50);
      const received: string[] = [];
      for (let i = 0; i < CLIENTS; i++) {
        const s = createConnection({ host, port: Number(port) });
        const k = sockets.push(s) - 1;
        received[k] = '';
        s.on('error', () => undefined);
        s.on('data', (d) => (received[k] += d.toString('latin1')));
        if (i % 20 === 19) await new Promise((r) => setTimeout(r, 100)); // socat forks a relay per client
      }
      const refused = () => received.filter((r) => r.includes('this conductor serves as many console clients as it can')).length;
      await waitFor(() => refused() >= CLIENTS - 64 - 5, { timeoutMs: 30_000, what: 'the clients over the cap to be told' }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 2000)); // heartbeats under the flood
      // without the cap the conductor reached its 256 descriptors (EMFILE) and its heartbeats failed
      expect(maxFds).toBeLessThan(256 - 32); // the reserve for heartbeats, Redis and files was never touched
      expect(Number(await client.zscore(keys.members(), 'c-viewers'))).toBeGreaterThan(scoreBefore);
      expect(v.logs).not.toMatch(/EMFILE|heartbeat failed|self-fenced/);
      // (with a sample of what the first clients received, should it fail)
      expect({ refused: refused() >= CLIENTS - 64 - 5, sample: refused() >= CLIENTS - 64 - 5 ? [] : [...new Set(received.map((r) => r.slice(0, 160)))].slice(0, 4) }).toEqual({ refused: true, sample: [] });
      const metrics = await (await fetch(`${v.apiUrl}/metrics`)).text();
      expect(Number(/^solgate_console_tcp_clients (\d+)/m.exec(metrics)?.[1])).toBe(64);
      expect(Number(/^solgate_console_tcp_clients_refused_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(CLIENTS - 64 - 5);
      expect(v.logs).toContain('console client limit of this conductor reached');

      // once the flood is gone, a client is served again
      for (const s of sockets) s.destroy();
      await waitFor(async () => /^solgate_console_tcp_clients 0$/m.test(await (await fetch(`${v.apiUrl}/metrics`)).text()), { timeoutMs: 20_000, what: 'the slots to be released' });
      const fresh = await ConsoleClient.connect(url);
      try {
        await new Promise((r) => setTimeout(r, 1000));
        expect(fresh.closed).toBe(false);
        expect(fresh.received).not.toContain('serves as many console clients');
      } finally {
        await fresh.close();
      }
    } finally {
      clearInterval(sampler);
      for (const s of sockets) s.destroy();
      await v.dispose();
      await bmc2.stop();
    }
  }, 150_000);
});
