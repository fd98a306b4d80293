/**
 * When the page tries again after losing its console: at once after a clean handover (the server
 * said the console moved), else exponential backoff from 0.5 s doubling to a cap, with jitter so a
 * fleet of open pages does not reconnect in lockstep after a conductor dies. Pure.
 */
export interface ReconnectPolicy {
  initialMs: number;
  maxMs: number;
  /** 0..1: the delay is drawn from [d·(1−jitter), d]. */
  jitter: number;
}

export const DEFAULT_RECONNECT: ReconnectPolicy = { initialMs: 500, maxMs: 10_000, jitter: 0.2 };

/** Delay before attempt `attempt` (1 = the first retry). `moved`: the server asked us to reconnect. */
export function reconnectDelayMs(attempt: number, moved: boolean, policy = DEFAULT_RECONNECT, random = Math.random): number {
  if (moved && attempt <= 1) return 0;
  const exp = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp * (1 - policy.jitter * random()));
}
