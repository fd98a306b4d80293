import { socketKey } from '../socket-table.js';
import type { ConsoleEntry } from './entry.js';

/** Checks in a row a running console may be found not listening before it is restarted. */
export const MISSED_LISTEN_CHECKS = 2;

/**
 * The second supervision channel: exit events say when socat dies; the kernel's socket table says
 * when a live socat no longer listens (read, never by connecting: a connection would start a SOL
 * session). Pure: counts misses on the entries and returns those that missed too often.
 */
export function silentListeners(entries: Iterable<ConsoleEntry>, listening: Set<string>, address: string): ConsoleEntry[] {
  const out: ConsoleEntry[] = [];
  for (const e of entries) {
    if (e.state !== 'running' || !e.console || e.port === undefined || e.fault) continue;
    if (listening.has(socketKey(address, e.port))) {
      e.missedChecks = 0;
      continue;
    }
    if (++e.missedChecks < MISSED_LISTEN_CHECKS) continue;
    e.missedChecks = 0;
    out.push(e);
  }
  return out;
}
