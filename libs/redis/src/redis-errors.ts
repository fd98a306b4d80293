/**
 * What a failed Redis command means for the caller, from ioredis's error (a reply error's prefix is
 * Redis's own error code). Used by the API to answer 503 or 400 instead of a bare 500.
 *  - `oom`: Redis refused a write under its maxmemory limit (nothing was stored);
 *  - `unavailable`: Redis cannot be reached or cannot serve right now (down, loading, read-only
 *    replica during a failover, busy script, command timeout);
 *  - `out-of-range`: a number we passed was not acceptable to Redis (bad input that got through).
 */
export type RedisFailure = 'oom' | 'unavailable' | 'out-of-range';

const UNAVAILABLE_PREFIXES = ['LOADING', 'READONLY', 'MASTERDOWN', 'BUSY', 'TRYAGAIN', 'CLUSTERDOWN', 'NOREPLICAS', 'NOMASTERLINK'];
const CONNECTION_MESSAGES = [/^Connection is closed/, /^Stream isn't writeable/, /^Command timed out/, /max retries per request/i, /^connect E[A-Z]+/, /^read E[A-Z]+/, /^write E[A-Z]+/, /^All sentinels are unreachable/];

export function classifyRedisError(e: unknown): RedisFailure | undefined {
  if (!(e instanceof Error)) return undefined;
  // a script's error carries the command's message after "ERR Error running script ...:"
  const msg = e.message.replace(/^ERR Error running script[^:]*: (@\w+: )?(\w+: )?/, '');
  if (/^OOM /.test(msg) || /\bOOM command not allowed\b/.test(e.message)) return 'oom';
  if (UNAVAILABLE_PREFIXES.some((p) => msg.startsWith(`${p} `))) return 'unavailable';
  if (e.name === 'MaxRetriesPerRequestError' || CONNECTION_MESSAGES.some((re) => re.test(msg))) return 'unavailable';
  if (/^ERR (value is not an integer or out of range|.*is out of range|min or max is not a float)/.test(msg)) return 'out-of-range';
  return undefined;
}
