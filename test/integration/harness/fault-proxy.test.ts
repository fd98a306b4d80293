import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { packageRoot } from '#libs/common';
import { FaultProxy } from '../../support/fault-proxy.js';
import { FaultProxyHost } from '../../support/fault-proxy-host.js';
import { RedisServer } from '../../support/redis-server.js';
import { waitFor } from '../../support/wait.js';

const execFileP = promisify(execFile);

/** An echo server that also tells how many connections it has open right now. */
async function echoServer(): Promise<{ server: Server; port: number; open: () => number }> {
  const socks = new Set<Socket>();
  const server = createServer((s) => {
    socks.add(s);
    s.on('data', (d) => s.write(d));
    s.on('error', () => undefined);
    s.on('close', () => socks.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as { port: number }).port, open: () => socks.size };
}

class Client {
  received = '';
  error: string | undefined;
  closed = false;
  private constructor(readonly sock: Socket) {
    sock.on('data', (d) => (this.received += d.toString()));
    sock.on('error', (e: NodeJS.ErrnoException) => (this.error = e.code ?? e.message));
    sock.on('close', () => (this.closed = true));
  }
  static connect(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = createConnection({ port, host: '127.0.0.1' });
      s.once('connect', () => resolve(new Client(s)));
      s.once('error', reject);
    });
  }
  async roundTrip(text: string, timeoutMs = 2000): Promise<number> {
    const t0 = performance.now();
    const before = this.received.length;
    this.sock.write(text);
    await waitFor(() => this.received.slice(before).includes(text), { timeoutMs, intervalMs: 2, what: `echo of ${text}` });
    return performance.now() - t0;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('FaultProxy (test equipment for the chaos suite)', () => {
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let proxy: FaultProxy;
  const clients: Client[] = [];
  const connect = async () => {
    const c = await Client.connect(proxy.port);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    echo = await echoServer();
  });
  afterAll(async () => {
    await new Promise((r) => echo.server.close(r));
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.sock.destroy();
    await proxy?.close();
  });

  it('pass: forwards both ways and counts what it forwarded', async () => {
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: echo.port });
    const c = await connect();
    await c.roundTrip('hello');
    await waitFor(() => echo.open() === 1, { what: 'one upstream connection' });
    expect(proxy.stats()).toMatchObject({ accepted: 1, open: 1, bytesForwarded: 10, bytesDropped: 0 });
  });

  it('delay: each direction waits the given time and keeps the order of chunks', async () => {
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: echo.port });
    const c = await connect();
    expect(await c.roundTrip('warm')).toBeLessThan(150);
    proxy.setMode({ kind: 'delay', ms: 120 });
    expect(await c.roundTrip('slow')).toBeGreaterThanOrEqual(235);
    const parts = Array.from({ length: 50 }, (_, i) => `<${i}>`);
    for (const p of parts) c.sock.write(p);
    await waitFor(() => c.received.endsWith('<49>'), { what: 'every chunk' });
    expect(c.received).toContain(parts.join(''));
    proxy.setMode({ kind: 'pass' });
    expect(await c.roundTrip('fast')).toBeLessThan(150);
  });

  it('blackhole: keeps connections open but drops every byte; a connection that lost bytes is reset when it ends, an idle one carries on', async () => {
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: echo.port });
    const talker = await connect();
    const idle = await connect();
    await talker.roundTrip('a');
    await idle.roundTrip('b');
    await waitFor(() => echo.open() === 2, { what: 'two upstream connections' });
    proxy.setMode({ kind: 'blackhole' });
    talker.sock.write('lost');
    const late = await connect(); // accepted, but it never reaches the server
    late.sock.write('never');
    await sleep(300);
    expect(talker.received).toBe('a');
    expect(late.received).toBe('');
    expect(echo.open()).toBe(2); // the far end still sees the old connections: a *silent* partition
    expect([talker.closed, idle.closed, late.closed]).toEqual([false, false, false]);
    expect(proxy.stats().bytesDropped).toBe(9);

    proxy.setMode({ kind: 'pass' });
    await waitFor(() => talker.closed && late.closed, { what: 'broken connections to be reset' });
    expect(talker.error).toBe('ECONNRESET');
    expect(late.error).toBe('ECONNRESET');
    await idle.roundTrip('still-here');
    await (await connect()).roundTrip('new');
  });

  it('reset: resets every connection, and every new one as soon as it is accepted', async () => {
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: echo.port });
    const c = await connect();
    await c.roundTrip('x');
    proxy.setMode({ kind: 'reset' });
    await waitFor(() => c.closed, { what: 'the reset' });
    expect(c.error).toBe('ECONNRESET');
    await waitFor(() => echo.open() === 0, { what: 'the server side to close' });
    // the reset can come before or after the client sees its connect complete
    const again = await connect().then(
      async (x) => {
        await waitFor(() => x.closed, { what: 'the new connection to be reset' });
        return x.error;
      },
      (e: NodeJS.ErrnoException) => e.code,
    );
    expect(again).toBe('ECONNRESET');
    proxy.setMode({ kind: 'pass' });
    await (await connect()).roundTrip('back');
  });

  it('passes a reset of the target on to the client, and resets clients while the target refuses connections', async () => {
    const socks: Socket[] = [];
    const server = createServer((s) => {
      socks.push(s);
      s.on('data', (d) => s.write(d));
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: (server.address() as { port: number }).port });
    const c = await connect();
    await c.roundTrip('x');
    for (const s of socks) s.resetAndDestroy(); // the target dies abruptly
    await waitFor(() => c.closed, { what: 'the client to see the reset' });
    expect(c.error).toBe('ECONNRESET');
    await new Promise((r) => server.close(r));
    const refused = await connect(); // nothing listens behind the proxy any more
    await waitFor(() => refused.closed, { what: 'the client to be reset' });
    expect(refused.error).toBe('ECONNRESET');
  });
});

describe('FaultProxy in front of a real redis-server', () => {
  let redis: RedisServer;
  let proxy: FaultProxy;
  let direct: Redis;

  beforeAll(async () => {
    redis = await RedisServer.start();
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: redis.port });
    direct = redis.client();
  });
  afterAll(async () => {
    direct?.disconnect();
    await proxy?.close();
    await redis?.stop();
  });

  const names = async () => (await direct.client('LIST') as string).split('\n').map((l) => /name=(\S*)/.exec(l)?.[1]).filter(Boolean);

  it('under a blackhole a named connection stays in CLIENT LIST (a silent host), under reset it vanishes', async () => {
    const c = new Redis({ host: '127.0.0.1', port: proxy.port, connectionName: 'through-proxy', commandTimeout: 300, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    c.on('error', () => undefined);
    try {
      await c.set('k', 'v');
      expect(await names()).toContain('through-proxy');
      proxy.setMode({ kind: 'blackhole' });
      await expect(c.get('k')).rejects.toThrow(/timed out/i);
      expect(await names()).toContain('through-proxy');
      proxy.setMode({ kind: 'pass' });
      await waitFor(async () => (await c.get('k').catch(() => null)) === 'v', { what: 'the client to reconnect after the partition' });
      proxy.setMode({ kind: 'reset' });
      await waitFor(async () => !(await names()).includes('through-proxy'), { what: 'the connection to vanish from CLIENT LIST' });
      await expect(c.get('k')).rejects.toThrow();
      proxy.setMode({ kind: 'pass' });
      await waitFor(async () => (await c.get('k').catch(() => null)) === 'v', { what: 'the client to reconnect after the resets' });
    } finally {
      c.disconnect();
    }
  });
});

describe('FaultProxyHost (proxies in their own process) and the net-redirect preload', () => {
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let host: FaultProxyHost;

  beforeAll(async () => {
    echo = await echoServer();
    host = FaultProxyHost.start();
  });
  afterAll(async () => {
    await host?.close();
    await new Promise((r) => echo.server.close(r));
  });

  it('runs named proxies in groups and switches a whole group at once', async () => {
    const a = await host.add('a', 'g1', { host: '127.0.0.1', port: echo.port });
    const b = await host.add('b', 'g2', { host: '127.0.0.1', port: echo.port });
    const ca = await Client.connect(a.port);
    const cb = await Client.connect(b.port);
    try {
      await ca.roundTrip('1');
      await cb.roundTrip('2');
      await host.setMode('g1', { kind: 'blackhole' });
      ca.sock.write('lost');
      await cb.roundTrip('3');
      await sleep(200);
      expect(ca.received).toBe('1');
      expect((await host.stats('g1')).bytesDropped).toBe(4);
      expect((await host.stats('g2')).bytesDropped).toBe(0);
    } finally {
      ca.sock.destroy();
      cb.sock.destroy();
    }
  });

  it('the preload sends a child process’s connections for a mapped host:port through the proxy', async () => {
    const p = await host.add('redirect', 'g3', { host: '127.0.0.1', port: echo.port });
    await host.setMode('g3', { kind: 'delay', ms: 200 });
    const preload = join(packageRoot(), 'dist', 'test', 'support', 'net-redirect.preload.js');
    // The child believes it talks to port 1 (nothing listens there); the preload maps it to the proxy.
    const script = `
      const net = require('node:net');
      const t0 = Date.now();
      const s = net.createConnection({ host: '127.0.0.1', port: 1 }, () => s.write('ping'));
      s.on('data', (d) => { console.log(String(d) + ' ' + (Date.now() - t0)); s.destroy(); });
      s.on('error', (e) => { console.log('error ' + e.code); });
    `;
    const { stdout } = await execFileP(process.execPath, ['--import', preload, '-e', script], {
      env: { PATH: process.env.PATH, CHAOS_NET_REDIRECT: `127.0.0.1:1=127.0.0.1:${p.port}` },
      timeout: 10_000,
    });
    const [word, ms] = stdout.trim().split(' ');
    expect(word).toBe('ping');
    expect(Number(ms)).toBeGreaterThanOrEqual(390); // through the delaying proxy, both ways
    const plain = await execFileP(process.execPath, ['-e', script], { env: { PATH: process.env.PATH }, timeout: 10_000 });
    expect(plain.stdout.trim()).toBe('error ECONNREFUSED');
  });
});
