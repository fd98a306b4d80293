import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { ConductorProcess } from '../../support/conductor-process.js';
import { consoleProcessesOf, enrol, setConsole, uniquePrefix, waitConsoleUrl } from '../../support/fixtures.js';
import { IpmiSimBmc } from '../../support/ipmi-sim.js';
import { RedisServer } from '../../support/redis-server.js';
import { makeTestCertificates, type TestCertificates } from '#libs/testing';
import { waitFor } from '../../support/wait.js';

/** What a console client saw: the bytes, and how the connection ended. */
interface Seen {
  received: string;
  closed: boolean;
  error?: string;
  authorized?: boolean;
}

/** A TLS console client (as nova-serialproxy behind a TLS hop, or `socat - OPENSSL:host:port`). */
function tlsClient(url: string, opts: { ca: string; cert?: string; key?: string }): { seen: Seen; socket: TLSSocket } {
  const [, host, port] = /^tcp:\/\/\[?([^\]]+?)\]?:(\d+)$/.exec(url)!;
  const seen: Seen = { received: '', closed: false };
  const socket = tlsConnect({
    host,
    port: Number(port),
    ca: readFileSync(opts.ca),
    cert: opts.cert ? readFileSync(opts.cert) : undefined,
    key: opts.key ? readFileSync(opts.key) : undefined,
  });
  socket.on('secureConnect', () => (seen.authorized = socket.authorized));
  socket.on('data', (d) => (seen.received += d.toString('latin1')));
  socket.on('error', (e: NodeJS.ErrnoException) => (seen.error ??= e.code ?? e.message));
  socket.on('close', () => (seen.closed = true));
  return { seen, socket };
}

/** A plain TCP client that types like a person would, then listens. */
function plainClient(url: string): { seen: Seen; close: () => void } {
  const [, host, port] = /^tcp:\/\/\[?([^\]]+?)\]?:(\d+)$/.exec(url)!;
  const seen: Seen = { received: '', closed: false };
  const socket = createConnection({ host, port: Number(port) });
  socket.on('connect', () => socket.write('\r\nroot\r\n'));
  socket.on('data', (d) => (seen.received += d.toString('latin1')));
  socket.on('error', (e: NodeJS.ErrnoException) => (seen.error ??= e.code ?? e.message));
  socket.on('close', () => (seen.closed = true));
  return { seen, close: () => socket.destroy() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Item 7 of the hardening issue: console ports are unauthenticated, as in Ironic. With
 * SOLGATE_CONSOLE_TLS_CERT/KEY they speak TLS (socat OPENSSL-LISTEN), and with SOLGATE_CONSOLE_TLS_CA
 * only clients with a certificate from that CA get the console. Real socat, ipmitool, ipmi_sim and
 * certificates made with the openssl CLI.
 */
describe('security: TLS on console ports', () => {
  let redis: RedisServer;
  let certs: TestCertificates;
  const conductors: ConductorProcess[] = [];
  const bmcs: IpmiSimBmc[] = [];

  beforeAll(async () => {
    certs = makeTestCertificates();
    redis = await RedisServer.start();
  }, 60_000);
  afterAll(async () => {
    for (const c of conductors) await c.dispose();
    for (const b of bmcs) await b.stop();
    await redis?.stop();
    certs?.remove();
  });

  async function conductorWithConsole(id: string, address: string, env: Record<string, string>): Promise<{ c: ConductorProcess; bmc: IpmiSimBmc; uuid: string; url: string }> {
    const bmc = await IpmiSimBmc.start({ nodeName: `${id}-node` });
    bmcs.push(bmc);
    const c = await ConductorProcess.start({ id, redisUrl: redis.url, prefix: uniquePrefix(id), address, env });
    conductors.push(c);
    const uuid = await enrol(c, bmc);
    await setConsole(c, uuid, true);
    const url = await waitConsoleUrl(c, uuid, 20_000);
    return { c, bmc, uuid, url };
  }

  it('serves the console over TLS to a TLS client, and nothing to a plain TCP client; the URL stays tcp://host:port', async () => {
    const { c, bmc, uuid, url } = await conductorWithConsole('c-tls', '127.0.0.1', {
      SOLGATE_CONSOLE_TLS_CERT: certs.serverCert,
      SOLGATE_CONSOLE_TLS_KEY: certs.serverKey,
    });
    expect(url).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/); // Nova's contract: console_info.url is unchanged
    expect(consoleProcessesOf(uuid).some((p) => p.argv.some((a) => a.startsWith('OPENSSL-LISTEN:') && a.includes('verify=0')))).toBe(true);
    expect(c.logs).toContain('console ports serve TLS');

    // a plain TCP client first: it gets no console bytes and is let go (the failed handshake)
    const plain = plainClient(url);
    await waitFor(() => plain.seen.closed, { timeoutMs: 10_000, what: 'the plain TCP client to be disconnected' });
    expect(plain.seen.received).not.toContain('SOL Session');
    expect(plain.seen.received).not.toMatch(/[\x20-\x7e]{4}/); // no readable console text, only a TLS alert if anything

    // then a TLS client that checks the conductor's certificate against the CA
    const t = tlsClient(url, { ca: certs.caCert });
    try {
      await waitFor(() => t.seen.received.includes('SOL Session operational') || t.seen.closed, { timeoutMs: 20_000, what: 'the SOL session over TLS' });
      expect(t.seen.authorized).toBe(true);
      expect(t.seen.received).toContain('SOL Session operational');
      await sleep(300);
      t.socket.write('z'); // ipmi_sim's first-packet quirk (see ConsoleClient.primeIpmiSim)
      await sleep(150);
      bmc.print('\r\nc-tls-node login: ');
      await waitFor(() => t.seen.received.includes('c-tls-node login: '), { timeoutMs: 10_000, what: `the node's output over TLS (got ${JSON.stringify(t.seen.received.slice(-200))})` });
    } finally {
      t.socket.destroy();
    }
  }, 90_000);

  it('with a client CA, refuses a client without a certificate or with a stranger’s, and serves one with a certificate from the CA', async () => {
    const { bmc, uuid, url } = await conductorWithConsole('c-mtls', '127.0.0.2', {
      SOLGATE_CONSOLE_TLS_CERT: certs.serverCert,
      SOLGATE_CONSOLE_TLS_KEY: certs.serverKey,
      SOLGATE_CONSOLE_TLS_CA: certs.caCert,
    });
    expect(consoleProcessesOf(uuid).some((p) => p.argv.some((a) => a.startsWith('OPENSSL-LISTEN:') && a.includes(`verify=1,cafile=${certs.caCert}`)))).toBe(true);

    for (const who of [{}, { cert: certs.strangerCert, key: certs.strangerKey }]) {
      const t = tlsClient(url, { ca: certs.caCert, ...who });
      t.socket.on('secureConnect', () => t.socket.write('\r\n')); // TLS 1.3: the server's verdict comes after the client's first flight
      await waitFor(() => t.seen.closed, { timeoutMs: 10_000, what: 'the client without an accepted certificate to be refused' });
      expect(t.seen.error).toMatch(/ALERT|ECONNRESET|EPIPE/);
      expect(t.seen.received).toBe('');
    }

    const t = tlsClient(url, { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey });
    try {
      await waitFor(() => t.seen.received.includes('SOL Session operational') || t.seen.closed, { timeoutMs: 20_000, what: 'the SOL session over mutual TLS' });
      expect(t.seen.received).toContain('SOL Session operational');
      await sleep(300);
      t.socket.write('z');
      await sleep(150);
      bmc.print('\r\nc-mtls-node login: ');
      await waitFor(() => t.seen.received.includes('c-mtls-node login: '), { timeoutMs: 10_000, what: 'the node’s output over mutual TLS' });
    } finally {
      t.socket.destroy();
    }
  }, 90_000);

  it('refuses to start with files socat could not use, saying which', async () => {
    const c = new ConductorProcess({
      id: 'c-badtls',
      redisUrl: redis.url,
      prefix: uniquePrefix('badtls'),
      address: '127.0.0.3',
      env: { SOLGATE_CONSOLE_TLS_CERT: certs.serverCert, SOLGATE_CONSOLE_TLS_KEY: certs.clientKey },
    });
    conductors.push(c);
    await expect(c.start()).rejects.toThrow(/refusing to start: SOLGATE_CONSOLE_TLS_KEY .*client\.key is not the key of the certificate/);
    expect(c.exitCode).toBe(1);
  }, 30_000);

  it('refuses a path that would reach socat’s command line, before anything starts', async () => {
    const c = new ConductorProcess({
      id: 'c-badpath',
      redisUrl: redis.url,
      prefix: uniquePrefix('badpath'),
      address: '127.0.0.3',
      env: { SOLGATE_CONSOLE_TLS_CERT: `${certs.serverCert},verify=0`, SOLGATE_CONSOLE_TLS_KEY: certs.serverKey, SOLGATE_CONSOLE_TLS_CA: certs.caCert },
    });
    conductors.push(c);
    await expect(c.start()).rejects.toThrow(/SOLGATE_CONSOLE_TLS_CERT=.*must be an absolute file path/);
  }, 30_000);
});
