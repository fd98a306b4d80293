import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { childrenOf, ProcessLauncher, SocatConsoleProcess } from '#libs/console';

/**
 * The floor of a console start on this machine: N socat listeners started through launchers (as a
 * conductor starts them, same argv shape), `concurrency` in flight, and nothing else (no Redis, no
 * reconciler). bench/scale.ts measures it in the same run as a takeover, so a noisy machine shows in
 * both. Usage: node dist/bench/spawn-floor.js [consoles=300] [concurrency=16] [launchers=2]
 */
export interface SpawnFloor {
  wallMs: number;
  perSecond: number;
  /** CPU ms per console: this process (the conductor's side), the launchers, socat itself. */
  cpuMs: { caller: number; launcher: number; socat: number };
}

function cpuTicks(pid: number): { self: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { self: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
}

export async function spawnFloor(n: number, concurrency: number, launcherCount: number, address = '127.0.0.7', firstPort = 23000): Promise<SpawnFloor> {
  const launchers = Array.from({ length: launcherCount }, () => new ProcessLauncher());
  const procs: SocatConsoleProcess[] = [];
  const pidFile = (i: number) => `/dev/shm/solgate-spawnfloor-${process.pid}-${i}.pid`;
  let next = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < n; i = next++) {
        const p = new SocatConsoleProcess({ address, port: firstPort + i, pidFile: pidFile(i), terminalTimeoutS: 600, peer: { exec: ['/bin/true'] } }, launchers[i % launcherCount]);
        await p.start(60_000);
        procs.push(p);
      }
    }),
  );
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const pids = childrenOf(process.pid);
  const sum = () => pids.map(cpuTicks).reduce((a, b) => ({ self: a.self + b.self, children: a.children + b.children }), { self: 0, children: 0 });
  const before = sum();
  await Promise.all(procs.map((p) => p.stop(500)));
  await new Promise((r) => setTimeout(r, 200));
  const after = sum();
  for (const l of launchers) l.close();
  for (let i = 0; i < n; i++) rmSync(pidFile(i), { force: true });
  return {
    wallMs,
    perSecond: n / (wallMs / 1000),
    cpuMs: { caller: (cpu.user + cpu.system) / 1000 / n, launcher: (before.self * 10) / n, socat: (after.children * 10) / n },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [n, c, l] = [Number(process.argv[2] ?? 300), Number(process.argv[3] ?? 16), Number(process.argv[4] ?? 2)];
  const f = await spawnFloor(n, c, l);
  console.log(
    `${n} bare socat listeners via ${l} launcher(s), ${c} in flight: ${(f.wallMs / 1000).toFixed(2)} s (${f.perSecond.toFixed(0)}/s); CPU per console: ` +
      `caller ${f.cpuMs.caller.toFixed(2)} ms, launcher ${f.cpuMs.launcher.toFixed(2)} ms, socat ${f.cpuMs.socat.toFixed(2)} ms`,
  );
}
