import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { BmcFleet } from '#libs/ipmi';
import { Keys } from '#libs/redis';
import { ConductorProcess } from '../test/support/conductor-process.js';
import { freeTcpPortBlock } from '../test/support/ports.js';
import { listProcesses } from '../test/support/procs.js';
import { RedisServer } from '../test/support/redis-server.js';
import { fmt, table } from './stats.js';

/**
 * N console-enabled native-ipmi-socat nodes with `always` capture on one conductor (every node's
 * BMC session held with nobody watching, every byte logged to Redis): memory per console, Redis
 * memory and write rate (and the same extrapolated to 10,000 nodes), heartbeats unaffected.
 *   1. idle baseline (heartbeats, memory) with the nodes enrolled but their consoles off;
 *   2. all consoles on, each BMC session up;
 *   3. steady output: every node prints a 64-byte line every second for `steadyS` seconds
 *      (a fleet of booting/logging machines) — Redis XADD rate, memory, heartbeat gaps;
 *   4. `fill` nodes print past their SOLGATE_CONSOLE_LOG_BYTES cap: Redis memory of a full tail.
 * Usage: node dist/bench/broker-scale.js [nodes=1000] [steadyS=30] [fill=20]
 *   BENCH_LOG_FILES=1 also writes every node's console log file; BENCH_CPU_PROF=<dir> profiles the conductor.
 */
const n = Number(process.argv[2] ?? 1000);
const steadyS = Number(process.argv[3] ?? 30);
const fillN = Number(process.argv[4] ?? 20);
const PASSWORD = 'scale-password';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const redisServer = await RedisServer.start();
const redis = new Redis(redisServer.url);
const fleet = await BmcFleet.start({ count: n, password: PASSWORD, cipherSuites: [17], serial: 'silent', sessionTimeoutMs: 600_000 });
const prefix = `scale${Date.now() % 100000}`;
const keys = new Keys(prefix);
const portRange = await freeTcpPortBlock(n + 100, '127.0.0.1', 12000, 30000);
// BENCH_LOG_FILES=1: also the full console logs as files (SOLGATE_CONSOLE_LOG_DIR), as the Helm chart configures it
const logDir = process.env.BENCH_LOG_FILES === '1' ? mkdtempSync(join(tmpdir(), 'solgate-scale-logs-')) : undefined;
const conductor = await ConductorProcess.start({
  id: 'bs1',
  redisUrl: redisServer.url,
  prefix,
  portRange,
  env: { SOLGATE_CONSOLE_CAPTURE: 'always', SOLGATE_LOG_LEVEL: 'warn', SOLGATE_START_CONCURRENCY: '16', ...(logDir ? { SOLGATE_CONSOLE_LOG_DIR: logDir } : {}) },
  // BENCH_CPU_PROF=<dir>: the conductor writes a V8 CPU profile there when it stops
  nodeArgs: process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [],
});

async function metrics(): Promise<Record<string, number>> {
  const text = await (await fetch(`${conductor.apiUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const l of text.split('\n')) if (l && !l.startsWith('#')) out[l.slice(0, l.lastIndexOf(' '))] = Number(l.slice(l.lastIndexOf(' ') + 1));
  return out;
}
function memoryOf(pid: number): { rssMb: number; privateMb: number; pssMb: number } {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(t)?.[1] ?? 0);
  return { rssMb: kb('Rss') / 1024, privateMb: (kb('Private_Clean') + kb('Private_Dirty')) / 1024, pssMb: kb('Pss') / 1024 };
}
async function redisInfo(): Promise<{ usedMb: number; xadd: number }> {
  const mem = await redis.info('memory');
  const stats = await redis.info('commandstats');
  const used = Number(/used_memory:(\d+)/.exec(mem)?.[1] ?? 0);
  const xadd = Number(/cmdstat_xadd:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  return { usedMb: used / 1024 / 1024, xadd };
}
/** Heartbeat gaps over a window: the max gap gauge is since start, so sample the latency and failures often. */
async function heartbeatWindow(ms: number): Promise<{ latencyMaxMs: number; failuresMax: number }> {
  let latencyMaxMs = 0;
  let failuresMax = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const m = await metrics();
    latencyMaxMs = Math.max(latencyMaxMs, (m.solgate_heartbeat_latency_seconds ?? 0) * 1000);
    failuresMax = Math.max(failuresMax, m.solgate_heartbeat_failures ?? 0);
    await sleep(500); // not more often: every scrape costs the conductor a few ms
  }
  return { latencyMaxMs, failuresMax };
}

/** BMC sessions the conductor holds (the simulator's own view keeps a session it never closed). */
async function sessionsUp(): Promise<number> {
  return (await metrics())['solgate_console_bmc_sessions{interface="native-ipmi-socat"}'] ?? 0;
}
/** UDP datagrams the kernel dropped because a socket's receive buffer was full (host-wide). */
function udpRcvbufErrors(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const [head, vals] = lines.map((l) => l.trim().split(/\s+/));
  return Number(vals?.[head?.indexOf('RcvbufErrors') ?? -1] ?? 0);
}
/** This process runs the simulated BMCs: how late its event loop ran (ms, max since the last reset). */
const simLoop = monitorEventLoopDelay({ resolution: 10 });
simLoop.enable();
const loopMaxMs = () => simLoop.max / 1e6;

/** The conductor's warnings about BMC sessions (lost, or failed to open), counted by message. */
function dropReasons(): Record<string, number> {
  const reasons: Record<string, number> = {};
  for (const l of conductor.logs.split('\n')) {
    if (!/BMC session lost|BMC session failed to open|SOL session failed/.test(l)) continue;
    try {
      const j = JSON.parse(l) as { msg?: string; err?: string; code?: string };
      const k = `${j.msg ?? ''}: ${(j.err ?? j.code ?? '').replace(/[0-9a-f-]{36}|\d+(\.\d+)?/g, '#')}`;
      reasons[k] = (reasons[k] ?? 0) + 1;
    } catch {
      /* not JSON */
    }
  }
  return reasons;
}

const rows: (string | number)[][] = [];
let printer: NodeJS.Timeout | undefined;
try {
  // enrol
  const uuids: string[] = [];
  for (let i = 0; i < n; i += 32) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(32, n - i) }, async (_, k) => {
        const b = fleet.bmc(i + k + 1);
        const r = await conductor.api('POST', '/v1/nodes', {
          name: `scale-${i + k + 1}`,
          driver: 'ipmi',
          console_interface: 'native-ipmi-socat',
          driver_info: { ipmi_address: '127.0.0.1', ipmi_port: b.port, ipmi_username: 'admin', ipmi_password: PASSWORD, ipmi_cipher_suite: 17 },
        });
        if (r.status !== 201) throw new Error(`enrol: ${r.status} ${r.text}`);
        return r.body.uuid as string;
      }),
    );
    uuids.push(...batch);
  }
  const pid = conductor.pid!;
  await sleep(2000);
  const mem0 = memoryOf(pid);
  const redis0 = await redisInfo();
  const hb0 = await heartbeatWindow(5000);

  // all consoles on
  const udp0 = udpRcvbufErrors();
  simLoop.reset();
  const t0 = performance.now();
  for (let i = 0; i < n; i += 64) await Promise.all(uuids.slice(i, i + 64).map((u) => conductor.api('PUT', `/v1/nodes/${u}/states/console`, { enabled: true })));
  let lastReport = t0;
  for (;;) {
    const up = await sessionsUp();
    if (up >= n) break;
    if (performance.now() - t0 > 600_000) throw new Error(`only ${up} of ${n} BMC sessions up after 10 min; drops by reason: ${JSON.stringify(dropReasons())}`);
    if (performance.now() - lastReport > 10_000) {
      lastReport = performance.now();
      const cm = await metrics();
      process.stderr.write(
        `${((lastReport - t0) / 1000).toFixed(0)} s: ${up}/${n} BMC sessions up; event-loop delay max: conductor ${fmt((cm.solgate_nodejs_eventloop_lag_max_seconds ?? 0) * 1000)} ms, simulator ${fmt(loopMaxMs())} ms; UDP receive-buffer drops ${udpRcvbufErrors() - udp0}; failures so far: ${JSON.stringify(dropReasons())}\n`,
      );
      simLoop.reset();
    }
    await sleep(250);
  }
  const upS = (performance.now() - t0) / 1000;
  await sleep(3000);
  const mem1 = memoryOf(pid);
  const socats = listProcesses().filter((p) => p.argv[0]?.endsWith('socat') && p.argv.join(' ').includes(conductor.pidDir));
  const socatPss = socats.reduce((s, p) => {
    try {
      return s + memoryOf(p.pid).pssMb;
    } catch {
      return s;
    }
  }, 0);

  // quiet: every session up, nobody printing (keepalives, heartbeats, reconciler): the floor the output adds to
  const cpuQuiet0 = (await metrics()).solgate_process_cpu_seconds_total ?? 0;
  const quietS = 10;
  await heartbeatWindow(quietS * 1000);
  const cpuQuiet = (((await metrics()).solgate_process_cpu_seconds_total ?? 0) - cpuQuiet0) / quietS;

  // steady output
  let line = 0;
  printer = setInterval(() => {
    line++;
    for (const b of fleet.bmcs) b.print(`[${String(line).padStart(6, '0')}] ${b.name} systemd[1]: Started a unit of work.\r\n`.slice(0, 64));
  }, 1000);
  const redis1 = await redisInfo();
  const udp1 = udpRcvbufErrors();
  const drops1 = (await metrics())['solgate_console_bmc_session_drops_total{interface="native-ipmi-socat"}'] ?? 0;
  simLoop.reset();
  const cpu1 = { bench: process.cpuUsage(), conductor: (await metrics()).solgate_process_cpu_seconds_total ?? 0 };
  // monotonic µs, the clock of the conductor's --cpu-prof samples: to cut the steady phase out of the profile
  const steadyFromUs = process.hrtime.bigint() / 1000n;
  const hb1 = await heartbeatWindow(steadyS * 1000);
  if (process.env.BENCH_CPU_PROF) process.stderr.write(`steady phase, monotonic µs: ${steadyFromUs} ${process.hrtime.bigint() / 1000n}\n`);
  const cpuSteady = {
    bench: (process.cpuUsage(cpu1.bench).user + process.cpuUsage(cpu1.bench).system) / 1e6 / steadyS,
    conductor: (((await metrics()).solgate_process_cpu_seconds_total ?? 0) - cpu1.conductor) / steadyS,
  };
  const simLoopSteadyMs = loopMaxMs();
  const udpSteady = udpRcvbufErrors() - udp1;
  const redis2 = await redisInfo();
  clearInterval(printer);
  printer = undefined;
  const upEnd = await sessionsUp();
  const m = await metrics();
  await sleep(500);
  const steadyRedis = await redisInfo();

  // fill `fillN` tails past the cap
  const cap = 131072;
  const fill = fleet.bmcs.slice(0, fillN);
  const chunk = `${'0123456789abcdef'.repeat(15)}\r\n`;
  await Promise.all(fill.map((b) => b.serial.printPaced(chunk.repeat(Math.ceil((cap * 1.3) / chunk.length)), 40_000)));
  await sleep(3000);
  const fullBytes: number[] = [];
  for (const u of uuids.slice(0, fillN)) fullBytes.push(Number(await redis.call('MEMORY', 'USAGE', keys.consoleLog(u), 'SAMPLES', '0')));
  const fullAvg = fullBytes.reduce((a, b) => a + b, 0) / fullBytes.length;
  const steadyPerNode = ((steadyRedis.usedMb - redis0.usedMb) * 1024 * 1024) / n;

  const perConsoleMb = (mem1.privateMb - mem0.privateMb) / n;
  const xaddRate = (redis2.xadd - redis1.xadd) / steadyS;
  rows.push(['consoles (always capture, BMC session each)', n, '']);
  rows.push(['time until every BMC session was up', `${fmt(upS)} s`, '']);
  rows.push(['conductor private memory per console', `${(perConsoleMb * 1024).toFixed(0)} KiB`, `RSS ${fmt(mem0.rssMb)} → ${fmt(mem1.rssMb)} MiB`]);
  rows.push(['socat listeners (PSS, all)', `${fmt(socatPss)} MiB`, `${socats.length} processes`]);
  rows.push(['Redis XADD rate, steady (one 64-byte line per node per s)', `${fmt(xaddRate)} /s`, `→ ${fmt((xaddRate * 10000) / n)} /s at 10,000 nodes`]);
  rows.push(['Redis memory per node after the steady phase', `${(steadyPerNode / 1024).toFixed(1)} KiB`, `${fmt(steadyRedis.usedMb - redis0.usedMb)} MiB for ${n}`]);
  rows.push([`Redis memory of a full console log (cap ${cap / 1024} KiB, ${fillN} nodes)`, `${(fullAvg / 1024).toFixed(1)} KiB`, `→ ${((fullAvg * 10000) / 1024 / 1024 / 1024).toFixed(2)} GiB at 10,000 nodes`]);
  rows.push(['heartbeat latency max: idle / steady output', `${fmt(hb0.latencyMaxMs)} / ${fmt(hb1.latencyMaxMs)} ms`, `failures in a row max ${hb0.failuresMax} / ${hb1.failuresMax}`]);
  rows.push(['heartbeat max gap since start', `${fmt((m.solgate_heartbeat_max_gap_seconds ?? 0) * 1000)} ms`, '']);
  const dropsTotal = m['solgate_console_bmc_session_drops_total{interface="native-ipmi-socat"}'] ?? 0;
  rows.push(['BMC session drops: while opening / in the steady phase', `${drops1} / ${dropsTotal - drops1}`, 're-established with backoff']);
  rows.push(['BMC sessions up at the end of the steady phase', `${upEnd} / ${n}`, '']);
  rows.push(['simulator process event-loop delay max, steady', `${fmt(simLoopSteadyMs)} ms`, 'the 1,000 simulated BMCs run in the bench process']);
  rows.push(['UDP datagrams dropped (receive buffer full), steady', udpSteady, 'host-wide /proc/net/snmp']);
  rows.push(['CPU in the steady phase: conductor / simulator (bench process)', `${fmt(cpuSteady.conductor * 100)} % / ${fmt(cpuSteady.bench * 100)} %`, 'of one core']);
  rows.push(['conductor CPU with every session up and no output', `${fmt(cpuQuiet * 100)} %`, `${quietS} s: keepalives, heartbeats, reconciler, these scrapes`]);
  rows.push(['conductor CPU per line of output (steady − quiet)', `${fmt(((cpuSteady.conductor - cpuQuiet) * 1e6) / n)} µs`, 'one SOL packet in, its ack out, history, XADD']);
  const reasons = dropReasons();
  if (Object.keys(reasons).length) process.stdout.write(`BMC session drops and failed opens by reason: ${JSON.stringify(reasons)}\n`);
  process.stdout.write(`\nConsole broker at scale: ${n} native consoles, always capture, one conductor${logDir ? ', console log files on' : ''}\n${table(['what', 'figure', 'note'], rows)}\n`);
} finally {
  if (printer) clearInterval(printer);
  await conductor.dispose();
  await fleet.stop();
  redis.disconnect();
  await redisServer.stop();
  if (logDir) rmSync(logDir, { recursive: true, force: true });
}
