import { Redis } from 'ioredis';
import { newUuid } from '#libs/common';
import { ConsolePortRepository, nodeFieldDefaults, NodeRepository, type NodeRecord } from '#libs/nodes';
import { Keys } from '#libs/redis';
import { uniquePrefix } from '../test/support/fixtures.js';
import { RedisServer } from '../test/support/redis-server.js';
import { summary, table } from './stats.js';

/**
 * Sticky console ports at fleet size: N nodes (default 10,000) get their port one after another
 * (allocateConsolePort-4.lua: the node's own port, else the lowest freed one, else the cursor), then
 * 10 % are deleted and as many new nodes take the freed ports, then every node asks again (a restart
 * or takeover: the port it has). Per allocation: the client's round trip, and Redis's own time for
 * the script (INFO commandstats) — flat from the first thousand to the last shows O(1).
 * Usage: node dist/bench/port-allocation.js [nodes=10000]
 */
const n = Number(process.argv[2] ?? 10_000);
const range = { start: 10_000, stop: 10_000 + n + 1000 };
const server = await RedisServer.start();
const redis = new Redis(server.url);
const keys = new Keys(uniquePrefix('portbench'));
const nodes = new NodeRepository(redis, keys);
const ports = new ConsolePortRepository(redis, keys);
const rows: (string | number)[][] = [];

async function createNodes(count: number): Promise<NodeRecord[]> {
  const out: NodeRecord[] = [];
  for (let i = 0; i < count; i += 500)
    out.push(...(await Promise.all(Array.from({ length: Math.min(500, count - i) }, () => nodes.create({ uuid: newUuid(), name: null, driver: 'ipmi', console_interface: 'ipmitool-socat', driver_info: { ipmi_address: '10.0.0.1' }, conductor_group: '', description: null, extra: {}, properties: {}, ...nodeFieldDefaults() }, 'enroll')))));
  return out;
}

/** Redis-side µs per call of the scripts run since the last reset. */
async function serverUsPerCall(): Promise<number> {
  const info = (await redis.info('commandstats')) as string;
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(info);
  return m ? Number(m[2]) / Number(m[1]) : NaN;
}

async function measure(what: string, list: NodeRecord[], slices = 1): Promise<number[]> {
  const got: number[] = [];
  const size = Math.ceil(list.length / slices);
  for (let s = 0; s < slices; s++) {
    const part = list.slice(s * size, (s + 1) * size);
    await redis.config('RESETSTAT');
    const times: number[] = [];
    for (const node of part) {
      const t0 = performance.now();
      got.push(await ports.allocate(node, range));
      times.push((performance.now() - t0) * 1000);
    }
    const st = summary(times);
    rows.push([slices > 1 ? `${what}, nodes ${s * size + 1}–${s * size + part.length}` : what, part.length, Math.round(st.p50), Math.round(st.p99), (await serverUsPerCall()).toFixed(1)]);
  }
  return got;
}

try {
  const all = await createNodes(n);
  const first = await measure(`first allocation of ${n} nodes`, all, 5);
  if (new Set(first).size !== n) throw new Error('two nodes got one port');
  const gone = all.filter((_, i) => i % 10 === 3);
  for (const g of gone) await nodes.delete(g.uuid);
  const fresh = await createNodes(gone.length);
  const reused = await measure(`${gone.length} new nodes after ${gone.length} deletions (freed ports, lowest first)`, fresh);
  if (Math.max(...reused) >= range.start + n) throw new Error('a freed port was not reused');
  const kept = all.filter((_, i) => i % 10 !== 3);
  const again = await measure(`every node asks again (restart / takeover)`, (await nodes.getMany(kept.map((k) => k.uuid))).slice(0, 2000));
  if (again.some((p, i) => p !== first[all.indexOf(kept[i])])) throw new Error('a port moved');
  const holders = await ports.holders();
  if (holders.size !== n) throw new Error(`expected ${n} allocated ports, found ${holders.size}`);
} finally {
  redis.disconnect();
  await server.stop();
}

console.log(`\nsticky console port allocation, ${n} nodes, range ${range.start}:${range.stop} (one Lua call each, sequential)\n`);
console.log(table(['allocations', 'count', 'round trip p50 µs', 'p99 µs', 'Redis µs per call'], rows));
