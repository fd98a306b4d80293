import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { DEFAULT_BROKER_SETTINGS, NativeIpmiSocatConsole, PidDirectory, ProcessLauncher, SocatConsoleProcess, type SocatPeer } from '#libs/console';
import { BmcFleet, IpmiSession, IpmiTransport } from '#libs/ipmi';
import type { NodeRecord } from '#libs/nodes';
import { ConsoleClient } from '../test/support/console-client.js';
import { freeTcpPort as freePort } from '../test/support/ports.js';
import { summary, table } from './stats.js';

/**
 * Keystroke round trip (type one character, see the node's echo) on three paths to the same
 * fleet-simulator BMC (shell mode echoes what it receives), each with its own SOL session:
 *   direct   — an in-process SOL client (libs/ipmi), no socat: the floor;
 *   per-client bridge — socat TCP → UNIX-CONNECT → a per-connection SOL session in this process
 *              (how native-ipmi-socat worked before the broker: one session per client);
 *   broker   — socat TCP → console-relay.pl (EXEC nofork, hello line) → UNIX → the node's broker →
 *              its shared SOL session, with the escape parser and write lock on the way.
 * Also the cost of a client connecting (TCP connect → first byte of the banner) on the socat paths.
 * Usage: node dist/bench/broker-latency.js [keystrokes=400]
 */
const n = Number(process.argv[2] ?? 400);
const log = pino({ level: 'silent' });
const PASSWORD = 'bench-password';
const dir = mkdtempSync(join('/dev/shm', 'solgate-bench-lat-'));
const pidDir = new PidDirectory(dir);
pidDir.init();
// a lease far in the future (the relay checks it as sol-session.sh does)
const { writeFileSync, readFileSync } = await import('node:fs');
const uptimeCs = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]!.replace('.', ''));
writeFileSync(pidDir.leaseFile, `${uptimeCs + 360_000}\n`);

const fleet = await BmcFleet.start({ count: 3, password: PASSWORD, cipherSuites: [17] });
const target = (i: number) => ({ host: '127.0.0.1', port: fleet.bmc(i).port, username: 'admin', password: PASSWORD, cipherSuite: 17 });
const launcher = new ProcessLauncher();
const procs: SocatConsoleProcess[] = [];

async function socat(peer: SocatPeer): Promise<string> {
  const port = await freePort();
  const p = new SocatConsoleProcess({ address: '127.0.0.1', port, pidFile: join(dir, `bench-${port}.pid`), terminalTimeoutS: 0, peer }, launcher);
  await p.start(10_000);
  procs.push(p);
  return `tcp://127.0.0.1:${port}`;
}

/** RTT of `count` single keystrokes through `send`, watching `received` for the echo. */
async function rtts(send: (c: string) => void, received: () => string, count = n): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const ch = String.fromCharCode(97 + (i % 26));
    const before = received().length;
    const t0 = performance.now();
    send(ch);
    while (!received().slice(before).includes(ch)) await new Promise((r) => setImmediate(r));
    out.push(performance.now() - t0);
    if (i % 60 === 59) send('\r'); // keep lines short (the shell echoes a prompt on Enter)
    await new Promise((r) => setTimeout(r, 2));
  }
  return out;
}

const rows: (string | number)[][] = [];
const connectRows: (string | number)[][] = [];
/** Each path's keystroke function and echo reader; measured in interleaved rounds (the machine's load drifts). */
const paths: Array<{ name: string; send: (c: string) => void; received: () => string; samples: number[] }> = [];
const closers: Array<() => Promise<void>> = [];
try {
  // 1. direct: libs/ipmi in this process
  {
    const transport = await IpmiTransport.create();
    const s = await IpmiSession.open({ ...target(1), transport });
    const sol = await s.activateSol({ forceDeactivate: true });
    let got = '';
    sol.on('data', (d: Buffer) => (got += d.toString('latin1')));
    paths.push({ name: 'direct (in-process SOL client)', send: (c) => sol.write(c), received: () => got, samples: [] });
    closers.push(async () => {
      await s.close();
      await transport.close();
    });
  }

  // 2. the per-client bridge (before the broker)
  {
    const transport = await IpmiTransport.create();
    const sockPath = join(dir, 'bridge.sock');
    const server = createServer((sock: Socket) => {
      void (async () => {
        const s = await IpmiSession.open({ ...target(2), transport });
        const sol = await s.activateSol({ forceDeactivate: true });
        sock.write('[SOL Session operational.  Use ~? for help]\r\n');
        sol.on('data', (d: Buffer) => sock.write(d));
        sock.on('data', (d: Buffer) => sol.write(d));
        sock.on('close', () => void s.close());
      })();
    });
    await new Promise<void>((r) => server.listen(sockPath, () => r()));
    const url = await socat({ unixSocket: sockPath });
    const connects: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      const c = await ConsoleClient.connect(url);
      await c.waitSession();
      connects.push(performance.now() - t0);
      await c.close();
      await new Promise((r) => setTimeout(r, 30));
    }
    const c = await ConsoleClient.connect(url);
    await c.waitSession();
    paths.push({ name: 'per-client bridge (socat → UNIX, one SOL session per client)', send: (ch) => c.write(ch), received: () => c.received, samples: [] });
    const cs = summary(connects);
    connectRows.push(['per-client bridge (a new SOL session per client)', cs.p50, cs.p90]);
    closers.push(async () => {
      await c.close();
      server.close();
      await transport.close();
    });
  }

  // 3. the broker
  {
    const driver = new NativeIpmiSocatConsole({ pidDir, log, leaseValid: () => true, settings: { ...DEFAULT_BROKER_SETTINGS, capture: 'always' } });
    const node = {
      uuid: '00000000-0000-4000-8000-00000000be01',
      driver_info: { ipmi_address: '127.0.0.1', ipmi_port: fleet.bmc(3).port, ipmi_username: 'admin', ipmi_password: PASSWORD, ipmi_cipher_suite: 17 },
      console_interface: 'native-ipmi-socat',
    } as unknown as NodeRecord;
    const url = await socat(await driver.prepare(node));
    await new Promise((r) => setTimeout(r, 500)); // always: the session is up before anyone connects
    const connects: number[] = [];
    const keep = await ConsoleClient.connect(url); // one viewer stays (holds the lock)
    await keep.waitSession();
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      const c = await ConsoleClient.connect(url);
      await c.waitSession();
      connects.push(performance.now() - t0);
      await c.close();
      await new Promise((r) => setTimeout(r, 30));
    }
    paths.push({ name: 'broker (socat → relay → UNIX → broker, shared SOL session)', send: (ch) => keep.write(ch), received: () => keep.received, samples: [] });
    const cs = summary(connects);
    connectRows.push(['broker (relay + hello, joins the open session)', cs.p50, cs.p90]);
    closers.push(async () => {
      await keep.close();
      await driver.close();
    });
  }

  for (let done = 0; done < n; done += 20) for (const p of paths) p.samples.push(...(await rtts(p.send, p.received, 20)));
  for (const p of paths) {
    const r = summary(p.samples);
    rows.push([p.name, r.p50, r.p90, r.p99]);
  }
  for (const c of closers) await c();

  process.stdout.write(`\nKeystroke round trip, ${n} keystrokes each (ms)\n`);
  process.stdout.write(`${table(['path', 'p50', 'p90', 'p99'], rows)}\n`);
  process.stdout.write(`\nbroker − per-client bridge at p50: ${((rows[2]![1] as number) - (rows[1]![1] as number)).toFixed(2)} ms\n`);
  process.stdout.write(`\nClient connect → banner, 20 connects each (ms)\n${table(['path', 'p50', 'p90'], connectRows)}\n`);
} finally {
  for (const p of procs) await p.stop(500);
  await new Promise((r) => setTimeout(r, 300)); // the launcher's last lines
  launcher.close();
  await fleet.stop();
  rmSync(dir, { recursive: true, force: true });
}
