import type { NodeRecord } from '#libs/nodes';
import type { ConsoleStopReason } from '../console-driver.js';
import type { ConsoleEntry, ConsoleFault } from './entry.js';

/** Why the reconciler stops a console (a restart or a failure is not a stop decided here). */
export type StopReason = Exclude<ConsoleStopReason, 'restart' | 'failed'>;

/** The one thing to do for a node in this pass. */
export type Action =
  | { type: 'none' }
  /** Take (or confirm) the claim, then start the console. */
  | { type: 'start'; node: NodeRecord }
  /** The spec changed in ways the running console does not care about: keep it, remember the spec. */
  | { type: 'adopt'; node: NodeRecord }
  /** The console's own settings changed (driver_info, interface, a disable→enable): stop it, start it again. */
  | { type: 'restart'; node: NodeRecord }
  /** It died or stopped listening: record the failure and back off (restart policy). */
  | { type: 'recover'; fault: ConsoleFault }
  /** Backing off after a failure: nothing before `untilMs`. */
  | { type: 'wait'; untilMs: number }
  /** Stop it. `redis`: write the final state and give the claim up (false when the claim is not ours to touch). */
  | { type: 'stop'; reason: StopReason; redis: boolean };

export interface DecideInput {
  /** The node as stored: null when deleted, undefined when it is not console-enabled (or unknown). */
  spec: NodeRecord | null | undefined;
  entry: Readonly<ConsoleEntry> | undefined;
  me: string;
  /** The ring owner of the node (undefined: no live conductor in its group). */
  owner: string | undefined;
  leaseValid: boolean;
  drained: boolean;
  closing: boolean;
  /** This conductor has a driver for the node's console_interface. */
  driverKnown: boolean;
  /** A takeover hold is running in Redis (after a Redis restart or failover): no claim changes hands. */
  takeoverHold: boolean;
  nowMs: number;
}

/** How soon a console kept through a takeover hold is looked at again. */
export const HOLD_RECHECK_MS = 250;

const NONE: Action = { type: 'none' };
const stop = (reason: StopReason, redis: boolean): Action => ({ type: 'stop', reason, redis });

/** What about the node's console matters to a running socat: a change here means a restart. */
export function consoleSpecKey(node: NodeRecord): string {
  return `${node.console_generation}|${node.console_interface}|${JSON.stringify(node.driver_info)}`;
}

/** Every change bumps rev or generation. */
export const specStamp = (node: NodeRecord) => `${node.rev}.${node.console_generation}`;

/**
 * The reconciler's decision for one node: pure (no I/O, no clock), so every transition is a row in a
 * table test. Stops come first, in order of urgency: shutdown, a lapsed lease or a lost claim (no
 * Redis writes then: the claim is not ours), deletion, disable, handover (deferred while a takeover
 * hold runs).
 */
export function decide(i: DecideInput): Action {
  const e = i.entry;
  if (i.closing) return e ? stop('shutdown', true) : NONE;
  if (!i.leaseValid) return e ? stop('fenced', false) : NONE;
  if (e?.claimLost) return stop('fenced', false);
  if (i.spec === null) return e ? stop('deleted', true) : NONE;
  if (!i.spec || !i.spec.console_enabled || !i.driverKnown) return e ? stop('disabled', true) : NONE;
  if (i.drained || i.owner !== i.me) {
    if (!e) return NONE;
    // the next owner cannot claim a released console while a takeover hold runs: keep serving until it ends
    if (i.takeoverHold && e.console) return { type: 'wait', untilMs: i.nowMs + HOLD_RECHECK_MS };
    return stop('handover', true);
  }
  const node = i.spec;
  if (!e) return { type: 'start', node };
  if (e.fault) return { type: 'recover', fault: e.fault };
  if (e.console) {
    if (specStamp(e.node) === specStamp(node)) return NONE;
    return consoleSpecKey(e.node) === consoleSpecKey(node) ? { type: 'adopt', node } : { type: 'restart', node };
  }
  // backing off; a new spec is tried at once (it may be the fix)
  if (e.retryAtMs !== undefined && e.retryAtMs > i.nowMs && consoleSpecKey(e.node) === consoleSpecKey(node)) return { type: 'wait', untilMs: e.retryAtMs };
  return { type: 'start', node };
}
