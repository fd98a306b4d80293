import { execa } from 'execa';
import type { Claim, ClusterView } from '#libs/cluster';
import type { ConsoleStatus, NodeRecord, RecordAudit } from '#libs/nodes';
import type { NodeFacts } from './node-view.js';

/**
 * `solgate doctor`'s checks, as pure functions over what was read (so they are unit-tested) plus the
 * one that runs local binaries. Each finding is one line: level, check, subject, message.
 */
export type Level = 'ok' | 'warn' | 'fail';

export interface Finding {
  level: Level;
  check: string;
  subject: string;
  message: string;
}

const f = (level: Level, check: string, subject: string, message: string): Finding => ({ level, check, subject, message });

export const MIN_REDIS_VERSION = '6.2.0';

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** `INFO` text → field map. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

export function checkRedis(info: Record<string, string>, where: string): Finding[] {
  const out: Finding[] = [];
  const version = info.redis_version ?? 'unknown';
  const mode = info.redis_mode ? `, ${info.redis_mode}` : '';
  const role = info.role ? `, ${info.role}` : '';
  if (compareVersions(version, MIN_REDIS_VERSION) < 0)
    out.push(f('fail', 'redis', where, `Redis ${version} is older than ${MIN_REDIS_VERSION}, the oldest solgate supports`));
  else out.push(f('ok', 'redis', where, `reachable, Redis ${version}${mode}${role}`));
  if (info.aof_enabled === '1') out.push(f('ok', 'persistence', where, 'append-only file on'));
  else
    out.push(
      f(
        'warn',
        'persistence',
        where,
        `append-only file off: a Redis restart loses the node records written since the last RDB save (use AOF, the chart's default, or Sentinel)`,
      ),
    );
  const maxmemory = Number(info.maxmemory ?? 0);
  const policy = info.maxmemory_policy;
  if (maxmemory > 0 && policy && policy !== 'noeviction')
    out.push(f('warn', 'memory', where, `maxmemory-policy ${policy}: Redis may evict node records and claims under memory pressure (use noeviction)`));
  const used = Number(info.used_memory ?? 0);
  // at maxmemory Redis refuses every write, heartbeats included: every conductor fences itself
  if (maxmemory > 0 && used >= 0.9 * maxmemory)
    out.push(
      f(
        used >= 0.98 * maxmemory ? 'fail' : 'warn',
        'memory',
        where,
        `${Math.round((100 * used) / maxmemory)}% of maxmemory used: at the limit Redis refuses writes, heartbeats included, and every conductor stops its consoles`,
      ),
    );
  return out;
}

export function checkConductors(view: ClusterView, drainedIds: string[], nowMs: number): Finding[] {
  const out: Finding[] = [];
  const members = view.members;
  if (members.length === 0) return [f('fail', 'conductors', '-', 'no conductor is registered: no console can run')];
  const age = (ms: number) => `${((nowMs - ms) / 1000).toFixed(1)}s`;
  for (const m of members) {
    const what = `${m.id}`;
    if (!m.alive) out.push(f('warn', 'conductor', what, `dead: no heartbeat for ${age(m.lastHeartbeatMs)} (its nodes belong to the others)`));
    else if (m.state === 'leaving') out.push(f('warn', 'conductor', what, 'leaving: handing its consoles over'));
    else if (m.drained) out.push(f('warn', 'conductor', what, 'drained: owns nothing until `solgate undrain`'));
    else out.push(f('ok', 'conductor', what, `alive, heartbeat ${age(m.lastHeartbeatMs)} ago, group '${m.group}', incarnation ${m.incarnation}`));
  }
  for (const id of drainedIds) if (!view.member(id)) out.push(f('warn', 'conductor', id, 'drained but not registered (undrain it if it is gone for good)'));
  if (!members.some((m) => m.alive)) out.push(f('fail', 'conductors', '-', 'no conductor is alive: no console can run'));
  return out;
}

/**
 * Records the conductors skip because they cannot read them (each is ignored, never runs, and is
 * named here with its key): fail; harmless leftovers (index entries without a record, stray keys): warn.
 */
export function checkRecords(audit: RecordAudit): Finding[] {
  const out: Finding[] = [];
  for (const p of audit.unreadable)
    out.push(f('fail', 'record', p.uuid ?? p.key, `${p.key}: ${p.problem}${p.uuid ? ` — skipped by every reader; delete it (solgate nodes delete ${p.uuid}) and enrol the node again` : ' — repair or delete this key'}`));
  for (const p of audit.leftovers) out.push(f('warn', 'record', p.uuid ?? p.key, `${p.key}: ${p.problem}`));
  if (audit.unreadable.length === 0) out.push(f('ok', 'records', '-', `${audit.nodesChecked} node records readable`));
  return out;
}

export interface ClaimEntry {
  uuid: string;
  claim: Claim;
  node: NodeRecord | undefined;
}

export function checkClaims(entries: ClaimEntry[], view: ClusterView, claimKey: (uuid: string) => string): Finding[] {
  const out: Finding[] = [];
  let stale = 0;
  for (const { uuid, claim, node } of entries) {
    if (view.isLive(claim.member, claim.incarnation)) {
      if (!node) {
        stale++;
        out.push(f('warn', 'claim', uuid, `claim on a node that does not exist (held by ${claim.member}); key ${claimKey(uuid)}`));
      }
      continue;
    }
    stale++;
    const holder = `${claim.member}/${claim.incarnation || '?'} (epoch ${claim.epoch})`;
    if (!node) out.push(f('warn', 'claim', uuid, `stale claim on a node that does not exist, held by ${holder}, not a live incarnation; delete key ${claimKey(uuid)}`));
    else if (node.console_enabled)
      out.push(f('fail', 'claim', node.name ?? uuid, `stale claim held by ${holder}, not a live incarnation: the ring owner has not taken it over`));
    else out.push(f('warn', 'claim', node.name ?? uuid, `stale claim held by ${holder}, not a live incarnation (harmless: taken over on the next enable)`));
  }
  if (view.snapshot.takeoverHold) out.push(f('warn', 'claims', '-', 'takeovers are on hold: Redis restarted or failed over moments ago'));
  if (stale === 0) out.push(f('ok', 'claims', '-', `${entries.length} claims, all held by live conductors`));
  return out;
}

/**
 * Intent against observed state. `graceMs`: how long a console may be starting, stopping or handed
 * over before it counts as stuck. Nodes whose group has no live conductor are reported once per group.
 */
export function checkConsoles(facts: NodeFacts[], nowMs: number, graceMs: number): Finding[] {
  const out: Finding[] = [];
  const orphanGroups = new Map<string, number>();
  let enabled = 0;
  let serving = 0;
  const since = (s: ConsoleStatus, n: NodeRecord) => nowMs - (s.updated_at ?? n.updated_at ?? n.created_at);
  const secs = (ms: number) => `${Math.round(ms / 1000)}s`;
  for (const x of facts) {
    const { node, console: v } = x;
    const s = v.status;
    const who = node.name ?? node.uuid;
    if (node.console_enabled) {
      enabled++;
      if (v.serving) {
        serving++;
        if (v.conductor && s.conductor !== v.conductor && since(s, node) > graceMs)
          out.push(f('warn', 'console', who, `served by ${s.conductor} but the ring owner is ${v.conductor}: handover pending for ${secs(since(s, node))}`));
        continue;
      }
      if (v.conductor === null) {
        orphanGroups.set(node.conductor_group, (orphanGroups.get(node.conductor_group) ?? 0) + 1);
        continue;
      }
      const age = since(s, node);
      if (s.state === 'error') out.push(f('fail', 'console', who, `enabled but in error on ${s.conductor}: ${s.last_error ?? 'no error recorded'} (restarts ${s.restarts})`));
      else if (age <= graceMs) continue; // starting, or handed over right now
      else if (s.state === 'starting' || s.state === 'restarting')
        out.push(f('fail', 'console', who, `enabled but ${s.state} for ${secs(age)} on ${s.conductor}${s.last_error ? `: ${s.last_error}` : ''}`));
      else if (s.state === 'running' && !x.runsOnLiveConductor) out.push(f('fail', 'console', who, `reported running by ${s.conductor}, which is not a live incarnation; owner ${v.conductor} has not taken it over`));
      else if (s.state === 'running') out.push(f('fail', 'console', who, `running an old generation for ${secs(age)}: owner ${v.conductor} has not restarted it`));
      else out.push(f('fail', 'console', who, `enabled but ${s.state} for ${secs(age)}: owner ${v.conductor} has not started it`));
    } else if (s.state !== 'stopped' && x.runsOnLiveConductor && since(s, node) > graceMs) {
      out.push(f('fail', 'console', who, `${s.state} on ${s.conductor} for ${secs(since(s, node))} although the intent is disabled`));
    }
  }
  for (const [group, n] of [...orphanGroups.entries()].sort()) out.push(f('fail', 'group', `'${group}'`, `${n} console-enabled node${n === 1 ? '' : 's'}, no live conductor in group '${group}'`));
  out.push(f(serving === enabled ? 'ok' : 'warn', 'consoles', '-', `${serving} of ${enabled} enabled consoles serving (${facts.length} nodes)`));
  return out;
}

/** The local binaries a conductor runs, with their versions. */
export const BINARIES: { name: string; args: string[]; pattern: RegExp }[] = [
  { name: 'socat', args: ['-V'], pattern: /socat version ([\w.]+)/ },
  { name: 'ipmitool', args: ['-V'], pattern: /ipmitool version ([\w.]+)/ },
  { name: 'perl', args: ['-v'], pattern: /\(v(\d+\.\d+\.\d+)\)/ },
];

export async function checkBinaries(): Promise<Finding[]> {
  return Promise.all(
    BINARIES.map(async (b) => {
      try {
        const r = await execa(b.name, b.args, { reject: false, timeout: 5000, stdin: 'ignore', all: true });
        if (r.failed && r.exitCode === undefined) return f('fail', 'binary', b.name, `not found in PATH (a conductor host needs it)`);
        const version = b.pattern.exec(r.all ?? '')?.[1];
        return version ? f('ok', 'binary', b.name, `${b.name} ${version}`) : f('warn', 'binary', b.name, `runs, but its version is unknown (exit ${r.exitCode})`);
      } catch (e) {
        return f('fail', 'binary', b.name, `not found in PATH (a conductor host needs it): ${(e as Error).message.split('\n')[0]}`);
      }
    }),
  );
}
