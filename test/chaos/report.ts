import type { ResourceSample } from './checker.js';
import { groupBy, REJOIN_BOUND_MS, type ChaosReport } from './run.js';

function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

const fmtMs = (ms: number) => (Number.isFinite(ms) ? String(Math.round(ms)) : 'never');
const mb = (kb: number) => (kb / 1024).toFixed(0);

export interface KindSummary {
  kind: string;
  faults: number;
  worstMs: number;
  worstBoundMs: number;
  /** Worst recovery as a share of its own bound (1.0 = exactly at the bound). */
  worstRatio: number;
  within: number;
  consolesDown: number;
  rejoinWorstMs: number;
}

export function summarizeKinds(r: ChaosReport): KindSummary[] {
  const out: KindSummary[] = [];
  for (const [kind, list] of groupBy(r.faults, (f) => f.plan.kind)) {
    const worst = list.reduce((a, b) => (b.recoveryMs / b.boundMs > a.recoveryMs / a.boundMs ? b : a));
    out.push({
      kind,
      faults: list.length,
      worstMs: Math.max(...list.map((f) => f.recoveryMs)),
      worstBoundMs: worst.boundMs,
      worstRatio: Math.max(...list.map((f) => f.recoveryMs / f.boundMs)),
      within: list.filter((f) => f.recoveryMs <= f.boundMs).length,
      consolesDown: list.reduce((s, f) => s + f.nodesDown, 0),
      rejoinWorstMs: Math.max(0, ...list.map((f) => f.rejoinWorstMs)),
    });
  }
  return out.sort((a, b) => a.kind.localeCompare(b.kind));
}

/** Per conductor process: first → last of each figure. */
export function resourceRows(samples: ResourceSample[]): (string | number)[][] {
  const rows: (string | number)[][] = [];
  for (const [key, list] of groupBy(samples, (s) => `${s.id} (pid ${s.pid})`)) {
    const a = list[0];
    const b = list[list.length - 1];
    const minutes = ((b.t - a.t) / 60_000).toFixed(1);
    rows.push([key, minutes, `${a.fds} → ${b.fds}`, `${mb(a.rssKb)} → ${mb(b.rssKb)}`, `${Math.max(...list.map((s) => s.rssKb)) >> 10}`, `${a.procs} → ${b.procs}`, `${a.redisConns} → ${b.redisConns}`]);
  }
  return rows;
}

export function formatReport(r: ChaosReport): string {
  const out: string[] = [];
  const kinds = summarizeKinds(r);
  const o = r.options;
  out.push(
    `chaos run, seed ${r.seed} (replay: SOLGATE_CHAOS_SEED=${r.seed}): ${o.conductors} conductors, ${o.nodes} console-enabled nodes on the fleet simulator ` +
      `(${Math.round(o.nativeShare * 100)}% native-ipmi-socat), ${o.watchers} console watchers; setup ${(r.setupMs / 1000).toFixed(0)} s, faults ${(r.runMs / 1000).toFixed(0)} s; the checker looked ${r.samples} times (${r.sampleMeanMs} ms per look), the API answered it ${r.apiSamples} times`,
  );
  out.push('');
  out.push(`faults injected: ${r.faults.length} (${kinds.map((k) => `${k.kind} ${k.faults}`).join(', ')})`);
  out.push(`invariant violations: ${r.violations.length}`);
  for (const v of r.violations) out.push(`  - ${v.kind} ×${v.count}${v.fault ? ` [during ${v.fault}]` : ''}: ${v.detail}`);
  out.push('');
  out.push('recovery: ms from the fault until every console that went down serves again from a healthy conductor (Redis faults: and the API answers)');
  out.push(
    table(
      ['fault', 'n', 'consoles down', 'worst ms', 'bound ms (worst case)', 'within bound', 'rejoin worst ms'],
      kinds.map((k) => [k.kind, k.faults, k.consolesDown, fmtMs(k.worstMs), k.worstBoundMs, `${k.within}/${k.faults}`, fmtMs(k.rejoinWorstMs)]),
    ),
  );
  out.push(`(rejoin: a console handed back to a conductor that came back; target ${REJOIN_BOUND_MS} ms)`);
  out.push('');
  out.push('every fault:');
  out.push(
    table(
      ['#', 'fault', 'consoles down', 'recovery ms', 'bound ms', 'API down ms', 'rejoin worst ms', 'notes'],
      r.faults.map((f) => [f.seq, f.description, f.nodesDown, fmtMs(f.recoveryMs), f.boundMs, f.apiDownMs, fmtMs(f.rejoinWorstMs), f.notes.join('; ')]),
    ),
  );
  out.push('');
  const w = r.watchers;
  const rec = groupBy(w.reconnects, (x) => x.kind);
  out.push(
    `console watchers: ${w.opened} SOL sessions opened, ${w.cleanCloses} closed by the client, ${w.broken} broken by faults, ${w.echoChecks} echo checks (${w.echoFailures} failed), ` +
      `${w.takenOverFromDeadOwner} sessions a dead or fenced owner left were taken over, ${w.reopenedByOwner} re-opened at the BMC by their own owner, ${w.failedOpens} consoles unusable for 30 s`,
  );
  if (rec.size) out.push(`  working session again after a break (worst ms): ${[...rec].map(([k, l]) => `${k} ${Math.max(...l.map((x) => x.ms))}`).join(', ')}`);
  const probes = groupBy(r.probes, (p) => p.result);
  out.push(`stale-listener probes: ${r.probes.length} (${[...probes].map(([k, l]) => `${k} ${l.length}`).join(', ') || 'none'})`);
  out.push(`BMCs (simulator's exact record): ${r.bmc.activations} SOL activations, ${r.bmc.refused} refused as already active, most sessions at once on one BMC: ${r.bmc.maxConcurrent}`);
  out.push(`socket table: most conductors listening for one node at once ${r.maxListenersPerNode} (stale listeners of paused/partitioned conductors included)`);
  if (r.unplanned.fences.length)
    out.push(
      `self-fences and Redis failovers nobody planned (starved machine, Sentinel on its own; not counted as violations): ${r.unplanned.fences.map((f) => `${f.conductor === 'Redis' ? f.reason : f.conductor}${f.during ? ` during ${f.during}` : ''}`).join(', ')}; ${r.unplanned.outages} console outages outside fault windows came with them`,
    );
  out.push(
    `Redis going back in time (failover/restart losing writes): ${r.redisLoss.claimsRewound} claims read older and were written back by their conductors` +
      (r.redisLoss.claimsRewound ? ` (slowest ${r.redisLoss.healedWorstMs} ms after it was seen)` : ''),
  );
  out.push(`node records: ${r.nodeRecords.before} before, ${r.nodeRecords.after} after, ${r.nodeRecords.changed} lost or changed`);
  out.push('');
  out.push('conductor processes, first → last sample (descriptors, RSS MB, processes in its tree, Redis connections):');
  out.push(table(['conductor', 'minutes', 'fds', 'RSS MB', 'max RSS MB', 'processes', 'Redis conns'], resourceRows(r.resources)));
  return out.join('\n');
}
