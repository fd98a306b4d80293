import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FAULT_KINDS, type FaultKind } from '../test/chaos/faults.js';
import { formatReport, summarizeKinds } from '../test/chaos/report.js';
import { Rng } from '../test/chaos/rng.js';
import { runChaos, groupBy } from '../test/chaos/run.js';
import { table } from './stats.js';

/**
 * The chaos soak: the chaos suite's run (test/chaos) for a long time, with the timing targets
 * asserted (printed as met / NOT met) and resource figures over time. Defaults: 30 minutes,
 * 4 conductors, 300 console-enabled nodes on the fleet simulator, 16 console watchers.
 *
 *   node dist/bench/chaos.js [--minutes 30] [--faults N] [--conductors 4] [--nodes 300] [--native 0.33]
 *                            [--watchers 16] [--seed N] [--kinds kill9,pause,...] [--json FILE]
 *
 * The seed is printed first; SOLGATE_CHAOS_SEED (or --seed) replays the same schedule of faults.
 */
const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    faults: { type: 'string' },
    conductors: { type: 'string', default: '4' },
    nodes: { type: 'string', default: '300' },
    native: { type: 'string', default: '0.33' },
    watchers: { type: 'string', default: '16' },
    seed: { type: 'string' },
    kinds: { type: 'string' },
    json: { type: 'string' },
  },
});

const seed = Rng.seedFrom(values.seed ?? process.env.SOLGATE_CHAOS_SEED);
const kinds = values.kinds ? (values.kinds.split(',') as FaultKind[]) : FAULT_KINDS;
for (const k of kinds) if (!FAULT_KINDS.includes(k)) throw new Error(`unknown fault kind ${k} (known: ${FAULT_KINDS.join(', ')})`);
const logDir = mkdtempSync(join(tmpdir(), 'solgate-chaos-'));
const started = Date.now();
const log = (line: string) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(7)} s] ${line}\n`);

const report = await runChaos({
  seed,
  conductors: Number(values.conductors),
  nodes: Number(values.nodes),
  nativeShare: Number(values.native),
  watchers: Number(values.watchers),
  durationMs: Number(values.minutes) * 60_000,
  faults: values.faults !== undefined ? Number(values.faults) : undefined,
  kinds,
  logDir,
  log,
});

console.log(`\n${formatReport(report)}\n`);

// Targets (DESIGN.md): crash ≤ 2 s, graceful ≤ 1 s, silent/partitioned ≤ timeout + 2 s; a console
// handed back to a rejoining conductor ≤ 1 s (graceful handover).
console.log('targets:');
console.log(
  table(
    ['fault', 'n', 'worst recovery ms', 'bound ms', 'within bound', 'target'],
    summarizeKinds(report).map((k) => [k.kind, k.faults, Math.round(k.worstMs), k.worstBoundMs, `${k.within}/${k.faults}`, k.within === k.faults ? 'met' : 'NOT met']),
  ),
);

// Resources over time: per conductor id, every ~5 minutes (the sample nearest to each mark).
const rows: (string | number)[][] = [];
const t0 = Math.min(...report.resources.map((r) => r.t));
for (const [id, list] of groupBy(report.resources, (r) => r.id)) {
  let next = 0;
  for (const s of list) {
    const min = (s.t - t0) / 60_000;
    if (min + 1e-9 < next && s !== list[list.length - 1]) continue;
    rows.push([id, min.toFixed(1), s.pid, s.fds, (s.rssKb / 1024).toFixed(0), s.procs, s.redisConns]);
    next = Math.floor(min / 5) * 5 + 5;
  }
}
console.log('\nresources over time (per conductor, about every 5 minutes; a new pid is a restart):');
console.log(table(['conductor', 'minute', 'pid', 'fds', 'RSS MB', 'processes', 'Redis conns'], rows));
console.log(`\nviolations: ${report.violations.length}; logs: ${logDir}`);
if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 1));
process.exit(report.violations.length === 0 ? 0 : 1);
