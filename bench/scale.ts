import { readFileSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { CONFIG_VARIABLES } from '#libs/config';
import { ConsoleStatusRepository } from '#libs/nodes';
import { Keys } from '#libs/redis';
import { LocalCluster } from '../test/support/cluster.js';
import { listeningSockets, urlListens } from '../test/support/net.js';
import { listProcesses } from '../test/support/procs.js';
import { spawnFloor } from './spawn-floor.js';
import { table } from './stats.js';

/**
 * 1,000 consoles on one conductor, then 1,000 console starts in one takeover burst: does the
 * survivor keep heartbeating and its event loop responsive? c1 runs every console; c2 is a member
 * but drained (owns nothing). Then c1 is killed and c2 undrained at once, so c2 takes all of them
 * over. Figures read from c2's /metrics (reset by a scrape just before) and the process table.
 * Nodes use a BMC address that is never contacted (no client connects). Then, in the same run, the
 * floor: as many bare socat listeners started through launchers with the same concurrency and no
 * conductor at all (bench/spawn-floor.ts), so a noisy machine shows in both figures.
 * Usage: node dist/bench/scale.js [consoles=1000]
 * (BENCH_CONCURRENCY overrides SOLGATE_START_CONCURRENCY, BENCH_LOGS=<file> keeps c2's log,
 * BENCH_PROFILE=<dir> profiles c2.)
 */
const n = Number(process.argv[2] ?? 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const concurrency = Number(process.env.BENCH_CONCURRENCY ?? CONFIG_VARIABLES.SOLGATE_START_CONCURRENCY);
const cluster = await LocalCluster.start({ name: 'sc', conductors: 1, dummyNodes: n, env: { SOLGATE_LOG_LEVEL: process.env.BENCH_LOGS ? 'info' : 'warn', SOLGATE_PORT_RANGE: '20000:22000', SOLGATE_START_CONCURRENCY: String(concurrency), ...(process.env.BENCH_PUT_WAIT ? { SOLGATE_CONSOLE_PUT_WAIT: process.env.BENCH_PUT_WAIT } : {}) } });
const redis = new Redis(cluster.redis.url);
const keys = new Keys(cluster.prefix);
const statuses = new ConsoleStatusRepository(redis, keys);
const uuids = cluster.nodes.map((x) => x.uuid);
const rows: (string | number)[][] = [];

async function serving(by?: string): Promise<number> {
  const st = await statuses.getMany(uuids);
  const sockets = listeningSockets();
  return st.filter((s) => s.state === 'running' && s.url && urlListens(s.url, sockets) && (!by || s.conductor === by)).length;
}

async function until(check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error('timed out');
    await sleep(50);
  }
}

async function metrics(id: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${cluster.conductor(id).apiUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const l of text.split('\n')) if (l && !l.startsWith('#')) out[l.split(' ')[0]] = Number(l.split(' ')[1]);
  return out;
}

function memoryOf(pid: number): { rssMb: number; privateMb: number } {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(t)?.[1] ?? 0);
  return { rssMb: kb('Rss') / 1024, privateMb: (kb('Private_Clean') + kb('Private_Dirty')) / 1024 };
}

try {
  const c1 = cluster.conductor('c1');
  const rss0 = memoryOf(c1.pid!);
  let t0 = performance.now(); // PUT answers once the owner has acted: time the enables too
  await cluster.enableAll();
  await until(async () => (await serving()) === n, 120_000);
  const startMs = performance.now() - t0;
  await sleep(1500);
  const m1 = await metrics('c1');
  const rss1 = memoryOf(c1.pid!);
  const procs = listProcesses();
  const socats = procs.filter((p) => p.argv[0]?.endsWith('socat') && p.argv.some((a) => a.startsWith(`-L${c1.pidDir}`)));
  const socatMem = socats.slice(0, 50).map((p) => memoryOf(p.pid));
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  rows.push([`${n} consoles started on c1`, `${(startMs / 1000).toFixed(1)} s`, `${Math.round(m1.solgate_heartbeat_max_gap_seconds * 1000)} ms`, `${Math.round(m1.solgate_nodejs_eventloop_lag_max_seconds * 1000)} ms`]);
  console.log(`conductor c1 with ${n} consoles: RSS ${rss0.rssMb.toFixed(0)} → ${rss1.rssMb.toFixed(0)} MB (private ${rss0.privateMb.toFixed(0)} → ${rss1.privateMb.toFixed(0)} MB), i.e. ${(((rss1.privateMb - rss0.privateMb) * 1024) / n).toFixed(1)} KiB private per console in the conductor`);
  console.log(`per idle console outside the conductor: socat listener RSS ${avg(socatMem.map((m) => m.rssMb)).toFixed(2)} MB, private ${avg(socatMem.map((m) => m.privateMb)).toFixed(2)} MB`);

  // the takeover burst
  await redis.sadd(keys.drained(), 'c2'); // c2 joins as a member that owns nothing
  const c2 = await cluster.addConductor(2, {}, process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : undefined);
  await sleep(2500);
  await metrics('c2'); // resets the event-loop histogram
  const before = await metrics('c2');
  t0 = performance.now();
  await Promise.all([c1.kill9(), redis.srem(keys.drained(), 'c2').then(() => redis.publish(keys.events(), 'member:c2:undrained'))]);
  await until(async () => (await serving('c2')) === n, 120_000);
  const takeoverMs = performance.now() - t0;
  await sleep(500);
  const m2 = await metrics('c2');
  rows.push([`${n} consoles taken over by c2 (kill -9 c1)`, `${(takeoverMs / 1000).toFixed(1)} s`, `${Math.round(m2.solgate_heartbeat_max_gap_seconds * 1000)} ms`, `${Math.round(m2.solgate_nodejs_eventloop_lag_max_seconds * 1000)} ms`]);
  console.log(`c2 heartbeat failures during the burst: ${m2.solgate_heartbeat_failures}; takeovers counted: ${m2.solgate_takeovers_total - (before.solgate_takeovers_total ?? 0)}; still registered: ${m2.solgate_registered === 1}`);
  if (process.env.BENCH_LOGS) writeFileSync(process.env.BENCH_LOGS, c2.logs);
} finally {
  redis.disconnect();
  await cluster.stop();
}

const floor = await spawnFloor(n, concurrency, 2);
const takeover = rows[1] ? Number(String(rows[1][1]).replace(' s', '')) * 1000 : NaN;
rows.push([`floor: ${n} bare socat listeners, ${concurrency} in flight, 2 launchers`, `${(floor.wallMs / 1000).toFixed(1)} s`, '', '']);
console.log(
  `floor CPU per console: launcher ${floor.cpuMs.launcher.toFixed(2)} ms, socat ${floor.cpuMs.socat.toFixed(2)} ms; takeover / floor = ${(takeover / floor.wallMs).toFixed(2)}`,
);

console.log(`\n${n} consoles on one conductor (heartbeat interval 1 s, timeout 5 s; lease 4 s)\n`);
console.log(table(['event', 'until all serve', 'longest heartbeat gap', 'event-loop delay max'], rows));
