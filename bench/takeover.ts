import { Redis } from 'ioredis';
import { ConsoleStatusRepository } from '#libs/nodes';
import { Keys } from '#libs/redis';
import { LocalCluster } from '../test/support/cluster.js';
import { listeningSockets, urlListens } from '../test/support/net.js';
import { summary, table } from './stats.js';

/**
 * Takeover figures with N nodes over M conductors (defaults 300 over 3): a crash (kill -9), a
 * graceful stop (SIGTERM), a silent failure (SIGSTOP, waits for the heartbeat timeout) and a
 * rejoin. "Serving again" = the node's observed console state is `running` on another conductor
 * and its URL listens (read from Redis and the kernel's socket table every 10 ms, no connection
 * made). Nodes are enrolled with a BMC address that is never contacted: a console's listener does
 * not talk to the BMC until a client connects, so this measures what takeover controls.
 * Usage: node dist/bench/takeover.js [nodes] [conductors]
 */
const nodes = Number(process.argv[2] ?? 300);
const conductors = Number(process.argv[3] ?? 3);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cluster = await LocalCluster.start({ name: 'bt', conductors, dummyNodes: nodes, env: { SOLGATE_LOG_LEVEL: 'warn' } });
const redis = new Redis(cluster.redis.url);
const statuses = new ConsoleStatusRepository(redis, new Keys(cluster.prefix));
const uuids = cluster.nodes.map((n) => n.uuid);
const rows: (string | number)[][] = [];

async function state(of: string[] = uuids) {
  const st = await statuses.getMany(of);
  const sockets = listeningSockets();
  return of.map((u, i) => ({ uuid: u, conductor: st[i].conductor, serving: st[i].state === 'running' && !!st[i].url && urlListens(st[i].url!, sockets) }));
}

async function allServing(timeoutMs = 60_000) {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if ((await state()).every((s) => s.serving)) return;
    await sleep(50);
  }
  throw new Error('not every console serves');
}

/** Per-node ms from t0 until served by someone other than `from`. */
async function measure(from: string, affected: string[], t0: number, timeoutMs: number): Promise<number[]> {
  const done = new Map<string, number>();
  const deadline = t0 + timeoutMs;
  while (done.size < affected.length && performance.now() < deadline) {
    const s = await state(affected.filter((u) => !done.has(u)));
    const now = performance.now();
    for (const x of s) if (x.serving && x.conductor !== from) done.set(x.uuid, now - t0);
    await sleep(20);
  }
  if (done.size < affected.length) throw new Error(`${affected.length - done.size} consoles not back within ${timeoutMs} ms`);
  return affected.map((u) => done.get(u)!);
}

async function metric(id: string, name: string): Promise<number> {
  const text = await (await fetch(`${cluster.conductor(id).apiUrl}/metrics`)).text();
  return Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1]);
}

function record(what: string, times: number[], target: string) {
  const s = summary(times);
  rows.push([what, s.n, Math.round(s.p50), Math.round(s.p90), Math.round(s.max), target, '']);
  rows[rows.length - 1][6] = s.max <= Number(target.replace(/[^\d.]/g, '')) * (target.includes('s') && !target.includes('ms') ? 1000 : 1) ? 'met' : 'NOT met';
}

try {
  const tStart = performance.now(); // PUT answers once the owner has acted: time the enables too
  await cluster.enableAll();
  await allServing(120_000);
  console.log(`${nodes} consoles serving on ${conductors} conductors after ${Math.round(performance.now() - tStart)} ms`);

  const ownedBy = async (id: string) => (await state()).filter((s) => s.conductor === id).map((s) => s.uuid);

  // crash
  let victim = cluster.conductor(`c${conductors}`);
  let affected = await ownedBy(victim.opts.id);
  for (const c of cluster.conductors) if (c !== victim) await metric(c.opts.id, 'solgate_registered'); // a scrape resets the event-loop histogram
  let t0 = performance.now();
  await victim.kill9();
  record(`crash (kill -9 ${victim.opts.id}, ${affected.length} consoles)`, await measure(victim.opts.id, affected, t0, 20_000), '≤ 2 s');
  const gaps = await Promise.all(cluster.conductors.filter((c) => c !== victim).map((c) => metric(c.opts.id, 'solgate_heartbeat_max_gap_seconds')));
  const lag = await Promise.all(cluster.conductors.filter((c) => c !== victim).map((c) => metric(c.opts.id, 'solgate_nodejs_eventloop_lag_max_seconds')));
  console.log(`survivors during the crash takeover: longest heartbeat gap ${Math.round(Math.max(...gaps) * 1000)} ms (interval 1000 ms), event-loop lag max ${Math.round(Math.max(...lag) * 1000)} ms`);

  // rejoin: the restarted conductor takes its ring share back (graceful handovers from the survivors)
  t0 = performance.now();
  await victim.start();
  await sleep(500);
  await allServing();
  const back = await ownedBy(victim.opts.id);
  console.log(`rejoin: ${victim.opts.id} serves ${back.length} consoles again ${Math.round(performance.now() - t0)} ms after its restart began`);

  // graceful
  victim = cluster.conductor('c2');
  affected = await ownedBy('c2');
  t0 = performance.now();
  const exited = victim.stop();
  record(`graceful (SIGTERM c2, ${affected.length} consoles)`, await measure('c2', affected, t0, 20_000), '≤ 1 s');
  await exited;
  await victim.start();
  await sleep(500);
  await allServing();

  // silent failure
  victim = cluster.conductor('c1');
  affected = await ownedBy('c1');
  t0 = performance.now();
  victim.pause();
  record(`silent (SIGSTOP c1, ${affected.length} consoles)`, await measure('c1', affected, t0, 30_000), '≤ 7 s');
  victim.resume();
  await sleep(1000);
  await allServing();
} finally {
  redis.disconnect();
  await cluster.stop();
}

console.log(`\ntakeover, ${nodes} nodes over ${conductors} conductors, heartbeat 1 s / timeout 5 s (ms from the event until each console serves again)\n`);
console.log(table(['event', 'consoles', 'p50', 'p90', 'p100', 'target', ''], rows));
