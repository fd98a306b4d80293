import type { ConsoleState, NodeRecord } from '#libs/nodes';
import type { RunningConsole } from './ports.js';

/** Something went wrong with a console that ran: recorded by a callback, acted on by the next reconcile. */
export type ConsoleFault = { kind: 'exited'; message: string; uptimeMs: number } | { kind: 'not-listening'; message: string };

/** What this conductor knows about one console it runs, starts, or retries. */
export interface ConsoleEntry {
  readonly uuid: string;
  /** The spec the console runs (or will run). */
  node: NodeRecord;
  console?: RunningConsole;
  port?: number;
  /** Claim epoch held; 0 = none. */
  epoch: number;
  state: ConsoleState;
  /** Failures in a row (reset after a run longer than the policy's minimum uptime). */
  failures: number;
  restarts: number;
  lastError: string | null;
  /** Monotonic ms before which no new start is tried (backing off). */
  retryAtMs?: number;
  /** Wall ms the running console started. */
  startedAtWallMs: number | null;
  /** Consecutive listener checks that did not find the port listening. */
  missedChecks: number;
  fault?: ConsoleFault;
  /** Someone else holds the node's claim now: stop without touching Redis. */
  claimLost: boolean;
  /** `stopping` already written (a bulk stop marks every console first). */
  stoppingWritten: boolean;
  /** A client was connected when the process was killed ahead of its stop (self-fence). */
  sessionWasActive?: boolean;
  /** The self-fence already ended its BMC session and removed its files: the queued stop need not. */
  tidiedAtFence?: boolean;
}

export function newEntry(node: NodeRecord): ConsoleEntry {
  return {
    uuid: node.uuid,
    node,
    epoch: 0,
    state: 'stopped',
    failures: 0,
    restarts: 0,
    lastError: null,
    startedAtWallMs: null,
    missedChecks: 0,
    claimLost: false,
    stoppingWritten: false,
  };
}
