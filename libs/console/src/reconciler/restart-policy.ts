import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from '#libs/common';

/** What went wrong, as far as the policy cares: `terminal` failures wait for a fix (a new spec). */
export interface FailureFacts {
  /** Failures in a row before this one. */
  failures: number;
  /** How long the console ran before it failed (undefined: it never started). */
  uptimeMs?: number;
  /** Retrying soon will not help (invalid driver_info, a port another node holds). */
  terminal: boolean;
  /** The conductor is shutting down. */
  closing: boolean;
}

export interface RestartDecision {
  /** Failures in a row, this one included. */
  failures: number;
  state: 'restarting' | 'error';
  /** When to try again; null: not at all (shutting down). */
  delayMs: number | null;
}

/**
 * PM2's restart policy, as a pure function: a run longer than `minUptimeMs` counts as healthy (the
 * count of failures in a row starts over), the delay doubles from `initialDelayMs` to `maxDelayMs`,
 * and after `errorAfter` failures in a row the state reads `error`. Unlike PM2 it never gives up:
 * retries continue at the maximum delay, because the user's intent is never dropped (a BMC that
 * comes back gets its console back). A terminal failure goes straight to `error` and waits the
 * maximum delay (or a new spec). No restarts while shutting down.
 */
export class RestartPolicy {
  constructor(readonly backoff: BackoffPolicy = DEFAULT_BACKOFF) {}

  next(f: FailureFacts): RestartDecision {
    const before = f.uptimeMs !== undefined && f.uptimeMs >= this.backoff.minUptimeMs ? 0 : f.failures;
    const failures = before + 1;
    const state = f.terminal || failures >= this.backoff.errorAfter ? 'error' : 'restarting';
    if (f.closing) return { failures, state, delayMs: null };
    return { failures, state, delayMs: f.terminal ? this.backoff.maxDelayMs : backoffDelayMs(this.backoff, failures) };
  }
}
