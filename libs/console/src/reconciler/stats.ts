import { CONSOLE_STATES, STOPPED_STATUS, type ConsoleState } from '#libs/nodes';
import { CONSOLE_PHASES, consolePhase, type ConsolePhaseLabel } from '../console-phase.js';
import { consoleUrl, type ReconcilerCounters } from './apply-outcome.js';
import type { ConsoleEntry } from './entry.js';

export interface ReconcilerStats extends ReconcilerCounters {
  byState: Record<ConsoleState, number>;
  /** The same consoles as every view labels them (consolePhase). */
  byPhase: Record<ConsolePhaseLabel, number>;
  owned: number;
  lastPassMs: number;
}

/** What /metrics shows of the consoles this conductor runs or retries. */
export function reconcilerStats(entries: Iterable<ConsoleEntry>, counters: ReconcilerCounters, me: string, address: string, lastPassMs: number): ReconcilerStats {
  const byState = Object.fromEntries(CONSOLE_STATES.map((s) => [s, 0])) as Record<ConsoleState, number>;
  const byPhase = Object.fromEntries(CONSOLE_PHASES.map((s) => [s, 0])) as Record<ConsolePhaseLabel, number>;
  let owned = 0;
  for (const e of entries) {
    owned++;
    byState[e.state]++;
    const url = e.console && e.port !== undefined ? consoleUrl(address, e.port) : null;
    const status = { ...STOPPED_STATUS, state: e.state, url, conductor: me, generation: e.node.console_generation };
    byPhase[consolePhase(e.node, status, { owner: me, reporterLive: true }).label]++;
  }
  return { byState, byPhase, owned, ...counters, lastPassMs };
}
