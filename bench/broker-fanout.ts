import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { DEFAULT_BROKER_SETTINGS, NativeIpmiSocatConsole, PidDirectory, ProcessLauncher, SocatConsoleProcess } from '#libs/console';
import { BmcFleet } from '#libs/ipmi';
import type { NodeRecord } from '#libs/nodes';
import { createConnection, type Socket } from 'node:net';
import { freeTcpPort } from '../test/support/ports.js';
import { listProcesses } from '../test/support/procs.js';
import { summary, table } from './stats.js';

/**
 * Fan-out of one node to many TCP viewers: the fleet simulator's node prints at a 115200-baud pace
 * (11,520 bytes/s) for `seconds`; every viewer (socat → relay → broker) must receive every byte in
 * order. Reports bytes delivered per viewer, loss (must be 0), how far behind the node the slowest
 * viewer was at the end, and the CPU the broker's process and the relays spent.
 * Usage: node dist/bench/broker-fanout.js [viewers=100] [seconds=10]
 */
const viewers = Number(process.argv[2] ?? 100);
const seconds = Number(process.argv[3] ?? 10);
const BPS = 11_520;
const PASSWORD = 'bench-password';
const log = pino({ level: 'silent' });
const dir = mkdtempSync(join('/dev/shm', 'solgate-bench-fan-'));
const pidDir = new PidDirectory(dir);
pidDir.init();
const uptimeCs = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]!.replace('.', ''));
writeFileSync(pidDir.leaseFile, `${uptimeCs + 360_000}\n`);
const fleet = await BmcFleet.start({ count: 1, password: PASSWORD, cipherSuites: [17], serial: 'silent' });
const launcher = new ProcessLauncher();
const driver = new NativeIpmiSocatConsole({ pidDir, log, leaseValid: () => true, settings: { ...DEFAULT_BROKER_SETTINGS, capture: 'always', maxViewers: Math.max(128, viewers) } });
const node = {
  uuid: '00000000-0000-4000-8000-00000000fa01',
  driver_info: { ipmi_address: '127.0.0.1', ipmi_port: fleet.bmc(1).port, ipmi_username: 'admin', ipmi_password: PASSWORD, ipmi_cipher_suite: 17 },
  console_interface: 'native-ipmi-socat',
} as unknown as NodeRecord;
const port = await freeTcpPort();
const proc = new SocatConsoleProcess({ address: '127.0.0.1', port, pidFile: join(dir, 'fan.pid'), terminalTimeoutS: 0, peer: await driver.prepare(node) }, launcher);
try {
  await proc.start(10_000);
  const url = `tcp://127.0.0.1:${port}`;
  await new Promise((r) => setTimeout(r, 500));
  /** A light client (the bench's own cost must not hide the broker's): chunks kept, bytes counted. */
  class Viewer {
    chunks: Buffer[] = [];
    bytes = 0;
    private goal = Infinity;
    private onGoal: (() => void) | null = null;
    sessionUp: Promise<void>;
    constructor(readonly sock: Socket) {
      let up!: () => void;
      this.sessionUp = new Promise((r) => (up = r));
      let head = '';
      sock.on('data', (d: Buffer) => {
        if (head !== null && !head.includes('SOL Session operational')) {
          head += d.toString('latin1');
          if (head.includes('SOL Session operational')) up();
          return;
        }
        this.chunks.push(d);
        this.bytes += d.length;
        if (this.bytes >= this.goal && this.onGoal) this.onGoal();
      });
    }
    until(bytes: number): Promise<void> {
      this.goal = bytes;
      return this.bytes >= bytes ? Promise.resolve() : new Promise((r) => (this.onGoal = r));
    }
  }
  const connectOne = () => new Promise<Viewer>((resolve, reject) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => resolve(new Viewer(s)));
    s.once('error', reject);
  });
  const t0c = performance.now();
  const clients = await Promise.all(Array.from({ length: viewers }, connectOne));
  await Promise.all(clients.map((c) => c.sessionUp));
  const connectAllMs = performance.now() - t0c;
  await new Promise((r) => setTimeout(r, 300)); // notices (read-only, …) have arrived
  for (const c of clients) {
    c.chunks = [];
    c.bytes = 0;
  }
  // printable, numbered text so loss or reordering is visible
  let text = '';
  for (let i = 0; text.length < BPS * seconds; i++) text += `line ${String(i).padStart(7, '0')} ${'x'.repeat(50)}\r\n`;
  text = text.slice(0, BPS * seconds);
  const relays = () => listProcesses().filter((p) => p.argv.join(' ').includes('console-relay.pl') && p.argv.join(' ').includes(node.uuid));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fleet.bmc(1).serial.printPaced(text, BPS);
  const printedMs = performance.now() - t0;
  const lags: number[] = [];
  // when the last byte reached the broker over SOL (the BMC paces SOL with acks: that is not fan-out)
  const broker = driver.get(node.uuid)!;
  const out0 = broker.status().bytesOut - 0;
  let brokerGotAllMs = NaN;
  const watchBroker = (async () => {
    while (broker.status().bytesOut < out0 + 0 || broker.status().bytesOut < text.length) await new Promise((r) => setTimeout(r, 2));
    brokerGotAllMs = performance.now() - t0 - printedMs;
  })();
  await Promise.all(
    clients.map(async (c) => {
      await c.until(text.length);
      lags.push(performance.now() - t0 - printedMs);
    }),
  );
  await watchBroker;
  const cpu = process.cpuUsage(cpu0);
  const relayCpuS = relays().reduce((s, p) => {
    try {
      const f = readFileSync(`/proc/${p.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return s + (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      return s;
    }
  }, 0);
  let lost = 0;
  for (const c of clients) if (Buffer.concat(c.chunks).toString('latin1') !== text) lost++;
  const lag = summary(lags);
  process.stdout.write(`\nFan-out: 1 node → ${viewers} TCP viewers, ${text.length} bytes at ${BPS} B/s (115200 baud) for ${(printedMs / 1000).toFixed(1)} s\n`);
  process.stdout.write(
    `${table(
      ['viewers', 'bytes each', 'viewers with loss or reordering', 'SOL end lag (ms)', 'viewer end lag p50 (ms)', 'viewer end lag max (ms)', 'broker process CPU', `${viewers} relays CPU`, 'connect all (ms)'],
      [[viewers, text.length, lost, brokerGotAllMs, lag.p50, lag.max, `${(((cpu.user + cpu.system) / 1e6 / (printedMs / 1000)) * 100).toFixed(1)} %`, `${((relayCpuS / (printedMs / 1000)) * 100).toFixed(1)} %`, connectAllMs]],
    )}\n`,
  );
  process.stdout.write(`(SOL end lag: how long after the node printed its last byte the broker had it — the BMC's SOL pacing, not fan-out; viewer end lag: when each viewer had every byte. The broker process CPU includes the fleet simulator, which runs in the same process.)\n`);
  for (const c of clients) c.sock.destroy();
} finally {
  await proc.stop(500);
  await driver.close();
  await new Promise((r) => setTimeout(r, 300));
  launcher.close();
  await fleet.stop();
  rmSync(dir, { recursive: true, force: true });
}
