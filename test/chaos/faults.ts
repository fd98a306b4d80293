import type { Rng } from './rng.js';

/**
 * The faults a chaos run injects. Every parameter is drawn when the fault is planned, from the
 * schedule's own random stream, so a seed replays the same faults on the same victims with the same
 * durations.
 */
export const FAULT_KINDS = [
  'kill9', // SIGKILL a conductor, restart it later
  'sigterm', // graceful stop, restart it later
  'pause', // SIGSTOP for a while, then SIGCONT
  'partition-blackhole', // its Redis links go silent (connections stay open, bytes vanish)
  'partition-reset', // its Redis links are reset and refused
  'latency', // its Redis links slow down
  'redis-restart', // the Redis master is killed (-9) and restarted on the same data
  'sentinel-failover', // Sentinel promotes the replica
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface PlannedFault {
  kind: FaultKind;
  victim?: string;
  /** pause / partition / latency: how long the fault lasts; redis-restart: how long Redis is away. */
  durationMs?: number;
  /** kill9 / sigterm: pause between recovery and the restart. */
  restartAfterMs?: number;
  /** latency: added delay per direction. */
  delayMs?: number;
  /** Quiet time after the fault settled, before the next one. */
  gapMs: number;
}

export interface Timing {
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
}

export function planFault(kind: FaultKind, rng: Rng, conductorIds: string[]): PlannedFault {
  const gapMs = rng.int(300, 2000);
  switch (kind) {
    case 'kill9':
    case 'sigterm':
      return { kind, victim: rng.pick(conductorIds), restartAfterMs: rng.int(300, 3000), gapMs };
    case 'pause':
      return { kind, victim: rng.pick(conductorIds), durationMs: rng.int(1500, 10_000), gapMs };
    case 'partition-blackhole':
    case 'partition-reset':
      return { kind, victim: rng.pick(conductorIds), durationMs: rng.int(2500, 12_000), gapMs };
    case 'latency':
      return { kind, victim: rng.pick(conductorIds), delayMs: rng.int(50, 300), durationMs: rng.int(3000, 8000), gapMs };
    case 'redis-restart':
      return { kind, durationMs: rng.int(300, 4000), gapMs };
    case 'sentinel-failover':
      return { kind, gapMs };
  }
}

/** How many faults of each kind a soak draws (weights), conductor faults being the common case. */
export const SOAK_WEIGHTS: readonly (readonly [FaultKind, number])[] = [
  ['kill9', 3],
  ['sigterm', 2],
  ['pause', 2],
  ['partition-blackhole', 2],
  ['partition-reset', 1],
  ['latency', 1],
  ['redis-restart', 1],
  ['sentinel-failover', 1],
];

/**
 * The schedule: first every kind once in a shuffled order (so even a short run covers them all; its
 * blackhole partition long enough for a takeover), then weighted random draws.
 */
export function* schedule(rng: Rng, conductorIds: string[], kinds: readonly FaultKind[] = FAULT_KINDS): Generator<PlannedFault> {
  for (const kind of rng.shuffle(kinds)) {
    const f = planFault(kind, rng, conductorIds);
    // the first blackhole outlasts the heartbeat timeout by far: the others take the victim's consoles
    // over while its console ports stay reachable, and clients poke its stale listeners
    if (kind === 'partition-blackhole') f.durationMs = rng.int(9000, 12_000);
    yield f;
  }
  const weights = SOAK_WEIGHTS.filter(([k]) => kinds.includes(k));
  for (;;) yield planFault(rng.weighted(weights), rng, conductorIds);
}

/**
 * The recovery bound of a fault: from the fault until every console serves again (DESIGN targets:
 * crash ≤ 2 s, graceful ≤ 1 s, silent or partitioned ≤ heartbeat timeout + 2 s).
 *  - pause / partition: the others take over once the victim's last heartbeat is a timeout old; the
 *    victim fences itself a little earlier (its lease: timeout − interval). One shorter than that
 *    stops nothing (its consoles keep serving), but even a short one may outlast the lease, which
 *    counts from the last heartbeat *before* the fault. So: timeout + 2 s, whatever the duration.
 *  - Redis restart: while Redis is away no API answers; back within the lease nothing restarts,
 *    else every conductor fenced itself and, seeing a new Redis instance, holds takeovers for one
 *    timeout: away + timeout + 2 s.
 *  - Sentinel failover, latency: no console should stop; if one does, timeout + 2 s.
 */
export function recoveryBoundMs(f: PlannedFault, t: Timing): number {
  const T = t.heartbeatTimeoutMs;
  switch (f.kind) {
    case 'kill9':
      return 2000;
    case 'sigterm':
      return 1000;
    case 'pause':
    case 'partition-blackhole':
    case 'partition-reset':
    case 'latency':
    case 'sentinel-failover':
      return T + 2000;
    case 'redis-restart':
      return f.durationMs! + T + 2000;
  }
}

/** A console handed back to a conductor that rejoined (restart, SIGCONT, healed link): graceful handover target. */
export const REJOIN_BOUND_MS = 1000;

export function describeFault(f: PlannedFault): string {
  const parts: string[] = [f.kind];
  if (f.victim) parts.push(f.victim);
  if (f.kind === 'latency') parts.push(`+${f.delayMs} ms for ${f.durationMs} ms`);
  else if (f.durationMs !== undefined) parts.push(`${f.durationMs} ms`);
  if (f.restartAfterMs !== undefined) parts.push(`restart after ${f.restartAfterMs} ms`);
  return parts.join(' ');
}
