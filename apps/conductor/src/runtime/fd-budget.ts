import { readFileSync } from 'node:fs';

/**
 * RLIMIT_NOFILE of this process. Node raises the soft limit to the hard one when it starts, as
 * servers should; what is left to decide is how much of it the API may use (connectionBudget).
 */
export interface NofileLimit {
  soft: number;
  hard: number;
}

/** From /proc/self/limits ("unlimited" read as a large number). */
export function readNofileLimit(pid: number | 'self' = 'self'): NofileLimit {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const [soft, hard] = (line ?? '').replace('Max open files', '').trim().split(/\s+/);
  const n = (v: string | undefined) => (v === 'unlimited' ? 1 << 30 : Number(v) || 1024);
  return { soft: n(soft), hard: n(hard) };
}

/** What the API may use of the descriptors, and what stays for heartbeats, Redis, consoles and files. */
export interface ConnectionBudget {
  maxConnections: number;
  reserved: number;
  /** Of the reserve: console clients that reach this conductor over TCP (each holds the relay's socket here). */
  consoleClients: number;
  /** The configured cap was lowered to keep the reserve. */
  clamped: boolean;
}

/** Descriptors never handed to API connections: Redis connections, the launcher, native console sockets, pid-dir files, sol deactivate pipes. */
export const MIN_RESERVED_FDS = 512;

/**
 * The API connection cap: a quarter of the descriptors (at least MIN_RESERVED_FDS) stay in reserve
 * for everything that keeps the conductor in the cluster and its consoles running; the API gets
 * the rest, at most 8192 unless configured otherwise (and never more than the rest). Console
 * clients over TCP may take half the reserve (never more than a quarter of the limit, at least 16):
 * the other half stays for heartbeats, Redis, the launchers, BMC sessions and files.
 */
export function connectionBudget(soft: number, configured?: number): ConnectionBudget {
  const reserved = Math.max(MIN_RESERVED_FDS, Math.floor(soft / 4));
  const available = Math.max(16, soft - reserved);
  const consoleClients = Math.max(16, Math.min(Math.floor(reserved / 2), Math.floor(soft / 4)));
  if (configured === undefined) return { maxConnections: Math.min(available, 8192), reserved, consoleClients, clamped: false };
  return { maxConnections: Math.min(configured, available), reserved, consoleClients, clamped: configured > available };
}
