import { readFileSync } from 'node:fs';
import { ProcessLauncher, SocatConsoleProcess, childrenOf } from '#libs/console';

/**
 * The floor of a console start on this machine: N socat listeners started through the launcher
 * (as the conductor starts them, with the same argv shape), `concurrency` in flight, nothing else
 * (no Redis, no conductor). Prints wall time and the CPU the launcher and the consoles used.
 * Usage: node dist/bench/spawn-floor.js [consoles=300] [concurrency=16] [launchers=1]
 */
const n = Number(process.argv[2] ?? 300);
const concurrency = Number(process.argv[3] ?? 16);
const launcherCount = Number(process.argv[4] ?? 1);
const ticks = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').slice(readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
  return { self: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
};
const launchers = Array.from({ length: launcherCount }, () => new ProcessLauncher());
const procs: SocatConsoleProcess[] = [];
let next = 0;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const p = new SocatConsoleProcess({ address: '127.0.0.7', port: 23000 + i, pidFile: `/dev/shm/spawnfloor-${i}.pid`, terminalTimeoutS: 600, peer: { exec: ['/bin/true'] } }, launchers[i % launcherCount]);
      await p.start(30_000);
      procs.push(p);
    }
  }),
);
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const launcherPids = childrenOf(process.pid);
const lt = launcherPids.map(ticks).reduce((a, b) => ({ self: a.self + b.self, children: a.children + b.children }), { self: 0, children: 0 });
await Promise.all(procs.map((p) => p.stop(500)));
const lt2 = launcherPids.map(ticks).reduce((a, b) => ({ self: a.self + b.self, children: a.children + b.children }), { self: 0, children: 0 });
for (const l of launchers) l.close();
for (let i = 0; i < n; i++) {
  try {
    (await import('node:fs')).rmSync(`/dev/shm/spawnfloor-${i}.pid`, { force: true });
  } catch {
    /* gone */
  }
}
console.log(
  `${n} socat listeners via ${launcherCount} launcher(s), ${concurrency} in flight: ${(wall / 1000).toFixed(2)} s (${(n / (wall / 1000)).toFixed(0)}/s); ` +
    `this process ${((cpu.user + cpu.system) / 1000 / n).toFixed(2)} ms CPU each, launcher ${((lt.self * 10) / n).toFixed(2)} ms each, consoles (reaped) ${((lt2.children * 10) / n).toFixed(2)} ms each`,
);
