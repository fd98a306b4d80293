/**
 * Memory per native IPMI SOL session: opens N sessions with active SOL against a fleet simulator
 * (a separate process, so its memory is not counted here), checks bytes flow both ways on every
 * console, and prints RSS and heap growth per session. Run after `npm run build`:
 *
 *   node dist/bench/ipmi-sessions.js [--sessions 1000] [--concurrency 100] [--suite 17] [--idle-seconds 16]
 *
 * It re-executes itself with --expose-gc so that heap figures are measured after a full GC.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '#libs/common';
import { IpmiSession, IpmiTransport, type SolConsole } from '#libs/ipmi';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  const r = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const N = arg('sessions', 1000);
const CONCURRENCY = arg('concurrency', 100);
const SUITE = arg('suite', 17);
const IDLE_SECONDS = arg('idle-seconds', 16);
const MiB = 1024 * 1024;

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 300));
}

async function measure() {
  for (let i = 0; i < 3; i++) {
    gc!();
    await settle();
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external + m.arrayBuffers };
}

async function main(): Promise<void> {
  // 1. The fleet, in its own process.
  const sim = spawn(process.execPath, [join(packageRoot(), 'bin/solgate-bmc-sim'), '--count', String(N), '--session-timeout-ms', '600000'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  sim.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const t0 = performance.now();
  while (!out.split('\n').includes('ready')) {
    if (sim.exitCode !== null) throw new Error('solgate-bmc-sim exited');
    await new Promise((r) => setTimeout(r, 20));
  }
  const ports = out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => (JSON.parse(l) as { port: number }).port);
  const simStartMs = performance.now() - t0;
  const simRssIdle = rssOf(sim.pid!);

  // 2. Baseline with the transport (one UDP socket) already open.
  const transport = await IpmiTransport.create();
  const before = await measure();

  // 3. N sessions with SOL active.
  const sessions: IpmiSession[] = new Array(N);
  const consoles: SolConsole[] = new Array(N);
  const seen: boolean[] = new Array(N).fill(false);
  const t1 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) {
        const i = next++;
        const s = await IpmiSession.open({ host: '127.0.0.1', port: ports[i]!, username: 'admin', password: 'password', cipherSuite: SUITE, transport, timeoutMs: 3000 });
        sessions[i] = s;
        const sol = await s.activateSol();
        consoles[i] = sol;
        sol.on('data', (d: Buffer) => {
          if (d.includes('login: ')) seen[i] = true;
        });
      }
    }),
  );
  const openMs = performance.now() - t1;

  // 4. Bytes both ways on every console: type Enter, the simulated getty answers with a prompt.
  const t2 = performance.now();
  consoles.forEach((c) => c.write('\r'));
  while (seen.some((v) => !v)) {
    if (performance.now() - t2 > 60_000) throw new Error(`only ${seen.filter(Boolean).length}/${N} consoles answered`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const roundTripAllMs = performance.now() - t2;

  const after = await measure();
  const simRssActive = rssOf(sim.pid!);

  // 5. Idle CPU with every console open: one keepalive round (Get Device ID per session) included.
  const cpu0 = process.cpuUsage();
  const idle0 = performance.now();
  await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
  const cpu = process.cpuUsage(cpu0);
  const idleCpuPercent = ((cpu.user + cpu.system) / 1000 / (performance.now() - idle0)) * 100;

  const perSession = (a: number, b: number) => (b - a) / N;
  const fmtKiB = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  const rows: Array<[string, string]> = [
    ['sessions with active SOL', String(N)],
    ['cipher suite', String(SUITE)],
    ['UDP sockets (client side)', '1'],
    ['open + activate, all (concurrency ' + CONCURRENCY + ')', `${openMs.toFixed(0)} ms (${((openMs / N) * CONCURRENCY).toFixed(1)} ms each, ${(N / (openMs / 1000)).toFixed(0)} sessions/s)`],
    ['keystroke -> echo on every console', `${roundTripAllMs.toFixed(0)} ms for all ${N}`],
    ['client RSS before / after', `${(before.rss / MiB).toFixed(1)} / ${(after.rss / MiB).toFixed(1)} MiB`],
    ['client RSS per session', fmtKiB(perSession(before.rss, after.rss))],
    ['client heapUsed per session', fmtKiB(perSession(before.heapUsed, after.heapUsed))],
    ['client external+arrayBuffers per session', fmtKiB(perSession(before.external, after.external))],
    [`client CPU while idle (${IDLE_SECONDS} s, keepalives included)`, `${idleCpuPercent.toFixed(2)} % of one core`],
    ['simulator start', `${simStartMs.toFixed(0)} ms for ${N} BMCs`],
    ['simulator RSS idle / with sessions', `${(simRssIdle / MiB).toFixed(1)} / ${(simRssActive / MiB).toFixed(1)} MiB (${fmtKiB(simRssActive / N)} per BMC)`],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  process.stdout.write(`\nnative IPMI SOL sessions (node ${process.version})\n`);
  for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(width)}  ${v}\n`);
  process.stdout.write(
    `${JSON.stringify({
      sessions: N,
      cipherSuite: SUITE,
      openMs: Math.round(openMs),
      echoAllMs: Math.round(roundTripAllMs),
      rssPerSessionBytes: Math.round(perSession(before.rss, after.rss)),
      heapPerSessionBytes: Math.round(perSession(before.heapUsed, after.heapUsed)),
      externalPerSessionBytes: Math.round(perSession(before.external, after.external)),
      idleCpuPercent: Number(idleCpuPercent.toFixed(3)),
      simulatorRssBytes: simRssActive,
    })}\n`,
  );

  // 6. Clean up: deactivate + close every session, stop the simulator.
  next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) await sessions[next++]!.close();
    }),
  );
  await transport.close();
  sim.kill('SIGTERM');
  await new Promise((r) => sim.once('exit', r));
}

main().catch((e: unknown) => {
  process.stderr.write(`ipmi-sessions: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
