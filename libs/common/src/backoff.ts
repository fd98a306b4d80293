/**
 * Restart policy in the spirit of PM2: exponential delay between restarts, a minimum uptime after
 * which a process counts as healthy again, and a number of quick failures after which the console
 * is reported as `error` (it keeps retrying at the maximum delay: intent is never dropped).
 */
export interface BackoffPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  factor: number;
  /** A run shorter than this counts as a failure in a row. */
  minUptimeMs: number;
  /** Failures in a row before the state turns to `error`. */
  errorAfter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  initialDelayMs: 100,
  maxDelayMs: 30_000,
  factor: 2,
  minUptimeMs: 10_000,
  errorAfter: 5,
};

/** Delay before restart number `failures` (1-based count of failures in a row). */
export function backoffDelayMs(policy: BackoffPolicy, failures: number): number {
  if (failures <= 1) return policy.initialDelayMs;
  const delay = policy.initialDelayMs * policy.factor ** (failures - 1);
  return Math.min(policy.maxDelayMs, delay);
}
