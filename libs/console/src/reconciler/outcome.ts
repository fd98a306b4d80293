import type { NodeRecord } from '#libs/nodes';
import type { StopReason } from './decide.js';
import type { RunningConsole } from './ports.js';

/** A failure, as the restart policy and last_error see it. */
export interface ConsoleFailure {
  /** start: it did not come up; exited / not-listening: it ran and then broke. */
  kind: 'start' | 'exited' | 'not-listening';
  message: string;
  uptimeMs?: number;
}

export interface StartedResult {
  event: 'started';
  console: RunningConsole;
  port: number;
  /** The spec changed and the console was restarted for it. */
  restart: boolean;
  /** The claim was taken from this (dead or departed) conductor. */
  takeoverFrom?: string;
  ms: { claim: number; queued: number; spawn: number; total: number };
}

export interface StoppedResult {
  event: 'stopped';
  reason: StopReason;
  /** Write the final state and give the claim up. */
  redis: boolean;
  hadConsole: boolean;
  cleanupError?: string;
  ms: { kill: number; total: number };
}

/**
 * The result of one action, in controller-runtime's terms: ok, requeue after a delay (nothing went
 * wrong, it is just not time yet: a claim still held, a lease being renewed), retry (it failed: the
 * restart policy sets the delay), terminal (retrying soon will not help). applyOutcome handles each.
 */
export type Outcome =
  | { kind: 'ok'; result: StartedResult | StoppedResult | { event: 'adopted'; node: NodeRecord } | { event: 'none' } }
  /** `drop`: nothing runs and nothing is held: forget the node until the next pass or nudge. */
  | { kind: 'requeueAfter'; ms: number; why: string; drop: boolean }
  | { kind: 'retry'; failure: ConsoleFailure }
  | { kind: 'terminal'; failure: ConsoleFailure };

export const OK_NONE: Outcome = { kind: 'ok', result: { event: 'none' } };
