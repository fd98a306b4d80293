import type { Clock } from '#libs/common';
import type { Logger } from '#libs/logging';
import type { ConsoleStatus } from '#libs/nodes';
import type { ConsoleEntry } from './entry.js';
import type { ConsoleFailure, Outcome, StartedResult, StoppedResult } from './outcome.js';
import type { ConsoleStatuses, RunningConsole } from './ports.js';
import type { RestartPolicy } from './restart-policy.js';

export interface ReconcilerCounters {
  takeovers: number;
  restarts: number;
  startFailures: number;
  starts: number;
}

export interface OutcomeContext {
  statuses: ConsoleStatuses;
  policy: RestartPolicy;
  log: Logger;
  clock: Clock;
  counters: ReconcilerCounters;
  /** Look at the node again in `ms` (0: at once, after the current action). */
  requeue(uuid: string, ms: number): void;
  /** The node no longer has an entry here (stopped, or nothing runs nor is held). */
  forget(e: ConsoleEntry): void;
  closing(): boolean;
  /** A console that started must go at once (it could not report itself). */
  kill(e: ConsoleEntry): Promise<void>;
  /**
   * A console stopped without Redis (lease lapsed) whose claim may still be ours: released once the
   * lease is valid again, if it still is ours (see ClaimUpkeep.releaseLeft in claim-upkeep.ts).
   */
  claimLeft(uuid: string, epoch: number): void;
}

export function consoleUrl(address: string, port: number, scheme = 'tcp'): string {
  return `${scheme}://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/** The observed state of a running console, as its owner writes it (after a start, or again after Redis lost it). */
export function runningStatus(e: ConsoleEntry, c: RunningConsole, port: number, address: string): Partial<ConsoleStatus> {
  return {
    state: 'running',
    url: consoleUrl(address, port, c.scheme),
    port,
    pid: c.pid ?? null,
    generation: e.node.console_generation,
    rev: e.node.rev,
    last_error: e.lastError,
    restarts: e.restarts,
    started_at: e.startedAtWallMs,
  };
}

/**
 * The one place that turns an Outcome into state: the entry's state, the observed status in Redis,
 * the restart policy's delay, the requeue, the counters and the single log line. Never throws.
 */
export async function applyOutcome(e: ConsoleEntry, outcome: Outcome, address: string, ctx: OutcomeContext): Promise<void> {
  switch (outcome.kind) {
    case 'ok': {
      const r = outcome.result;
      if (r.event === 'started') return started(e, r, address, ctx);
      if (r.event === 'stopped') return stopped(e, r, ctx);
      if (r.event === 'adopted') {
        e.node = r.node;
        ctx.log.debug({ node: e.uuid, rev: r.node.rev }, 'console keeps running with the new node record');
      }
      return;
    }
    case 'requeueAfter':
      if (outcome.drop && !e.console && e.epoch === 0) ctx.forget(e);
      ctx.log.debug({ node: e.uuid, inMs: outcome.ms, why: outcome.why }, 'console looked at again later');
      if (!ctx.closing() || outcome.ms === 0) ctx.requeue(e.uuid, outcome.ms);
      return;
    case 'retry':
    case 'terminal':
      return failed(e, outcome.failure, outcome.kind === 'terminal', ctx);
  }
}

async function started(e: ConsoleEntry, r: StartedResult, address: string, ctx: OutcomeContext): Promise<void> {
  e.console = r.console;
  e.port = r.port;
  e.tidiedAtFence = false;
  e.state = 'running';
  e.startedAtWallMs = ctx.clock.wallMs();
  e.retryAtMs = e.fault = undefined;
  e.missedChecks = 0;
  e.stoppingWritten = false;
  ctx.counters.starts++;
  const url = consoleUrl(address, r.port, r.console.scheme);
  const written = await ctx.statuses
    .write(e.uuid, e.epoch, runningStatus(e, r.console, r.port, address))
    .then(
      (ok) => (ok ? 'ok' : 'fenced'),
      () => 'error' as const,
    );
  if (written === 'fenced') {
    e.claimLost = true;
    ctx.log.warn({ node: e.uuid, epoch: e.epoch }, 'claim lost while starting: stopping the console');
    return ctx.requeue(e.uuid, 0);
  }
  if (written === 'error') {
    // we do not run a console whose state we could not report
    await ctx.kill(e);
    e.console = undefined;
    return failed(e, { kind: 'start', message: 'console started but its state could not be written to Redis' }, false, ctx);
  }
  if (r.takeoverFrom) ctx.counters.takeovers++;
  ctx.log.info(
    { node: e.uuid, pid: r.console.pid, url, epoch: e.epoch, ...(r.takeoverFrom ? { takeoverFrom: r.takeoverFrom } : {}), ms: r.ms },
    r.restart ? 'console restarted' : r.takeoverFrom ? 'took over console' : 'console started',
  );
}

async function stopped(e: ConsoleEntry, r: StoppedResult, ctx: OutcomeContext): Promise<void> {
  if (r.redis && e.epoch > 0)
    await ctx.statuses.write(e.uuid, e.epoch, { state: 'stopped', url: null, pid: null, port: null, last_error: e.lastError }, { releaseClaim: true }).catch(() => false);
  else if (!r.redis && e.epoch > 0 && !e.claimLost) ctx.claimLeft(e.uuid, e.epoch);
  e.state = 'stopped';
  ctx.forget(e);
  if (r.hadConsole || r.cleanupError)
    ctx.log.info({ node: e.uuid, reason: r.reason, ms: r.ms, ...(r.cleanupError ? { cleanupError: r.cleanupError } : {}) }, 'console stopped');
}

async function failed(e: ConsoleEntry, f: ConsoleFailure, terminal: boolean, ctx: OutcomeContext): Promise<void> {
  const d = ctx.policy.next({ failures: e.failures, uptimeMs: f.uptimeMs, terminal, closing: ctx.closing() });
  e.failures = d.failures;
  e.state = d.state;
  e.lastError = f.message;
  e.fault = undefined;
  e.missedChecks = 0;
  if (f.kind === 'start') ctx.counters.startFailures++;
  else {
    e.restarts++;
    ctx.counters.restarts++;
  }
  ctx.log.warn({ node: e.uuid, state: d.state, failures: d.failures, retryInMs: d.delayMs, err: f.message }, 'console failed');
  if (e.epoch > 0) await ctx.statuses.write(e.uuid, e.epoch, { state: d.state, last_error: f.message, restarts: e.restarts, url: null, pid: null }).catch(() => false);
  if (d.delayMs === null) return;
  e.retryAtMs = ctx.clock.monotonicMs() + d.delayMs;
  ctx.requeue(e.uuid, d.delayMs);
}
