import { readFileSync } from 'node:fs';
import { BmcFleet, type SimBmc } from '#libs/ipmi';
import { ConductorProcess } from '../test/support/conductor-process.js';
import { ConsoleClient } from '../test/support/console-client.js';
import { uniquePrefix, waitConsoleUrl } from '../test/support/fixtures.js';
import { listProcesses } from '../test/support/procs.js';
import { RedisServer } from '../test/support/redis-server.js';
import { table } from './stats.js';

/**
 * Memory per console, ipmitool-socat and native-ipmi-socat side by side in one run (same machine
 * state). For each interface: a fresh conductor, N nodes on fleet-simulator BMCs (cipher suite 3),
 * memory measured (1) before any console, (2) with N consoles enabled but idle, (3) with N *active*
 * consoles (a client connected, SOL session up). Per console = (growth of the conductor itself +
 * every process it added below it: socat listeners, socat's per-connection
 * children, sol-session.sh/ipmitool, the launcher) / N. Figures from /proc/<pid>/smaps_rollup:
 * RSS (counts shared library pages in every process), private (Private_Clean + Private_Dirty: what
 * the console alone costs) and PSS (shared pages split among their users).
 *
 * Usage: node dist/bench/console-memory.js [consoles per interface, default 50]
 */
const N = Number(process.argv[2] ?? 50);
const INTERFACES = ['ipmitool-socat', 'native-ipmi-socat'] as const;
type Iface = (typeof INTERFACES)[number];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Mem {
  rss: number;
  priv: number;
  pss: number;
}
interface Proc extends Mem {
  pid: number;
  kind: string;
}

const ZERO: Mem = { rss: 0, priv: 0, pss: 0 };
const add = (a: Mem, b: Mem): Mem => ({ rss: a.rss + b.rss, priv: a.priv + b.priv, pss: a.pss + b.pss });
const sub = (a: Mem, b: Mem): Mem => ({ rss: a.rss - b.rss, priv: a.priv - b.priv, pss: a.pss - b.pss });
const div = (a: Mem, n: number): Mem => ({ rss: a.rss / n, priv: a.priv / n, pss: a.pss / n });
const mib = (kib: number) => (kib / 1024).toFixed(2);

/** kB figures of one process (undefined if it is gone). */
function memOf(pid: number): Mem | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    return { rss: field('Rss'), priv: field('Private_Clean') + field('Private_Dirty'), pss: field('Pss') };
  } catch {
    return undefined;
  }
}

/** Every live descendant of `root`, classified by what it is. */
function descendants(root: number): Proc[] {
  const info = new Map(listProcesses().map((p) => [p.pid, p]));
  const children = new Map<number, number[]>();
  for (const [pid, p] of info) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  const out: Proc[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length) {
    const pid = queue.shift()!;
    queue.push(...(children.get(pid) ?? []));
    const p = info.get(pid)!;
    const m = memOf(pid);
    if (!m) continue;
    const line = p.argv.join(' ');
    const parentIsSocat = info.get(p.ppid)?.argv[0]?.endsWith('socat') ?? false;
    const kind = p.argv[0]?.endsWith('socat')
      ? parentIsSocat
        ? 'socat per-connection child'
        : 'socat listener'
      : /launcher\.pl/.test(line)
        ? 'launcher (one per conductor)'
        : /ipmitool/.test(line)
          ? 'ipmitool sol activate'
          : /sol-session/.test(line)
            ? 'sol-session.sh'
            : `other: ${p.argv[0] ?? pid}`;
    out.push({ pid, kind, ...m });
  }
  return out;
}

interface Snapshot {
  conductor: Mem;
  children: Proc[];
}

/** Median of a few samples of the conductor (its heap moves with GC) plus its descendants. */
async function snapshot(c: ConductorProcess): Promise<Snapshot> {
  const samples: Mem[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(memOf(c.pid!)!);
    await sleep(300);
  }
  const median = (k: keyof Mem) => samples.map((s) => s[k]).sort((a, b) => a - b)[2];
  return { conductor: { rss: median('rss'), priv: median('priv'), pss: median('pss') }, children: descendants(c.pid!) };
}

const sum = (ps: Proc[]) => ps.reduce<Mem>((a, p) => add(a, p), ZERO);

interface Result {
  iface: Iface;
  idle: Mem;
  active: Mem;
  conductorIdle: Mem;
  conductorActive: Mem;
  childrenActive: Mem;
  processesPerConsole: number;
  byKind: Map<string, { count: number; total: Mem }>;
}

async function measure(iface: Iface, redis: RedisServer, bmcs: SimBmc[]): Promise<Result> {
  const c = await ConductorProcess.start({ id: `c-mem-${iface}`, redisUrl: redis.url, prefix: uniquePrefix('mem'), env: { SOLGATE_LOG_LEVEL: 'warn' } });
  const clients: ConsoleClient[] = [];
  try {
    const uuids: string[] = [];
    for (const [i, bmc] of bmcs.entries()) {
      const r = await c.api('POST', '/v1/nodes', {
        name: `mem-${iface}-${i + 1}`,
        driver: 'ipmi',
        console_interface: iface,
        driver_info: { ipmi_address: '127.0.0.1', ipmi_port: bmc.port, ipmi_username: 'admin', ipmi_password: 'password', ipmi_cipher_suite: 3 },
      });
      if (r.status !== 201) throw new Error(r.text);
      uuids.push(r.body.uuid);
    }
    await sleep(1500);
    const before = await snapshot(c);

    await Promise.all(uuids.map((u) => c.api('PUT', `/v1/nodes/${u}/states/console`, { enabled: true })));
    const urls = await Promise.all(uuids.map((u) => waitConsoleUrl(c, u, 60_000)));
    await sleep(1500);
    const idle = await snapshot(c);

    for (let i = 0; i < urls.length; i += 8) {
      const batch = await Promise.all(urls.slice(i, i + 8).map((u) => ConsoleClient.connect(u)));
      clients.push(...batch);
      await Promise.all(batch.map((cl) => cl.waitSession(30_000)));
    }
    const owners = bmcs.filter((b) => b.solOwner !== null).length;
    if (owners !== N) throw new Error(`${iface}: ${owners} of ${N} BMCs have an active SOL session`);
    await sleep(2000);
    const active = await snapshot(c);

    const byKind = new Map<string, { count: number; total: Mem }>();
    for (const p of active.children) {
      const k = byKind.get(p.kind) ?? { count: 0, total: ZERO };
      byKind.set(p.kind, { count: k.count + 1, total: add(k.total, p) });
    }
    const grow = (s: Snapshot) => add(sub(s.conductor, before.conductor), sub(sum(s.children), sum(before.children)));
    return {
      iface,
      idle: div(grow(idle), N),
      active: div(grow(active), N),
      conductorIdle: div(sub(idle.conductor, before.conductor), N),
      conductorActive: div(sub(active.conductor, before.conductor), N),
      childrenActive: div(sub(sum(active.children), sum(before.children)), N),
      processesPerConsole: active.children.filter((p) => !p.kind.startsWith('launcher')).length / N,
      byKind,
    };
  } finally {
    await Promise.all(clients.map((cl) => cl.close()));
    await c.dispose();
  }
}

const redis = await RedisServer.start();
const fleet = await BmcFleet.start({ count: N * INTERFACES.length, cipherSuites: [3, 17], sessionTimeoutMs: 120_000 });
const results: Result[] = [];
try {
  for (const [i, iface] of INTERFACES.entries()) results.push(await measure(iface, redis, fleet.bmcs.slice(i * N, (i + 1) * N)));
} finally {
  await fleet.stop();
  await redis.stop();
}

console.log(`console memory: ${N} consoles per interface, 1 conductor each, fleet-simulator BMCs (MiB per console)\n`);
console.log(
  table(
    ['interface', 'state', 'processes / console', 'RSS', 'private', 'PSS', 'of which conductor RSS', 'conductor private'],
    results.flatMap((r) => [
      [r.iface, 'enabled, idle', '', mib(r.idle.rss), mib(r.idle.priv), mib(r.idle.pss), mib(r.conductorIdle.rss), mib(r.conductorIdle.priv)],
      [r.iface, 'active (client + SOL)', r.processesPerConsole.toFixed(1), mib(r.active.rss), mib(r.active.priv), mib(r.active.pss), mib(r.conductorActive.rss), mib(r.conductorActive.priv)],
    ]),
  ),
);
console.log(`\nprocesses below the conductor with ${N} active consoles (MiB each, averaged)\n`);
console.log(
  table(
    ['interface', 'process', 'count', 'RSS', 'private', 'PSS'],
    results.flatMap((r) =>
      [...r.byKind.entries()].sort().map(([kind, k]) => [r.iface, kind, k.count, mib(k.total.rss / k.count), mib(k.total.priv / k.count), mib(k.total.pss / k.count)]),
    ),
  ),
);
const [ipmitool, native] = results;
console.log(
  `\nactive console, private memory: native-ipmi-socat ${mib(native.active.priv)} MiB vs ipmitool-socat ${mib(ipmitool.active.priv)} MiB ` +
    `(${(ipmitool.active.priv / native.active.priv).toFixed(1)}× less); target native ≤ 3 MB: ${native.active.priv / 1024 <= 3 * 0.9537 ? 'met' : 'NOT met'}`,
);
