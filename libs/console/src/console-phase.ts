import type { ConsoleStatus, NodeRecord } from '#libs/nodes';

/**
 * What a node's console is doing, as every view tells it: the API (`GET …/states/console`, the node's
 * driver_internal_info.console_state), the CLI (console show, --wait, conductors, drain, doctor) and
 * metrics. One pure function, so the views cannot drift apart.
 */
export const CONSOLE_PHASES = ['running', 'starting', 'restarting', 'error', 'stopping', 'stopped', 'no conductor'] as const;
export type ConsolePhaseLabel = (typeof CONSOLE_PHASES)[number];

/** What the cluster says about the node's console right now. */
export interface PhaseCluster {
  /** The ring owner (null: no live conductor in the node's group). */
  owner: string | null;
  /** The conductor that wrote the status is alive with that very incarnation. */
  reporterLive: boolean;
}

export interface ConsolePhase {
  label: ConsolePhaseLabel;
  /**
   * Intent enabled, and the console runs right now for the node's current generation on a conductor
   * that is alive. A console being stopped (`stopping`), or whose conductor is known dead, is not serving.
   */
  serving: boolean;
  /** The URL to hand out: only while serving. */
  url: string | null;
  owner: string | null;
  /** The conductor that wrote the observed state, and whether it is alive. */
  reporter: string | null;
  reporterLive: boolean;
  /** The live conductor that has a console process for the node (running or being stopped), if any. */
  runningOn: string | null;
  /** The observed state matches `enabled` (serving, or stopped / nothing live runs it). */
  settled(enabled: boolean): boolean;
  /** A failure that waiting will not fix (error for the current generation, or the intent changed). */
  terminalReason(enabled: boolean): string | undefined;
  /** Why it has not settled yet. */
  pendingReason(enabled: boolean): string;
}

export function consolePhase(node: NodeRecord, status: ConsoleStatus, cluster: PhaseCluster): ConsolePhase {
  const live = cluster.reporterLive;
  const s = status.state;
  const serving = node.console_enabled && s === 'running' && !!status.url && status.generation === node.console_generation && live;
  let label: ConsolePhaseLabel;
  if (serving) label = 'running';
  else if (node.console_enabled) {
    if (cluster.owner === null) label = 'no conductor';
    else if (live && (s === 'error' || s === 'restarting')) label = s;
    else label = 'starting';
  } else label = live && s !== 'stopped' ? 'stopping' : 'stopped';
  const runningOn = live && (s === 'running' || s === 'stopping' || s === 'starting') ? status.conductor : null;
  return {
    label,
    serving,
    url: serving ? status.url : null,
    owner: cluster.owner,
    reporter: status.conductor,
    reporterLive: live,
    runningOn,
    settled: (enabled) => (enabled ? serving : !serving && (s === 'stopped' || !live)),
    terminalReason(enabled) {
      if (node.console_enabled !== enabled) return `console intent changed to ${node.console_enabled ? 'enabled' : 'disabled'} meanwhile`;
      if (enabled && s === 'error' && status.generation === node.console_generation && live) return status.last_error ?? 'console in error';
      return undefined;
    },
    pendingReason(enabled) {
      if (!enabled) return `still ${s} on conductor ${status.conductor}`;
      if (cluster.owner === null) return `no live conductor in group '${node.conductor_group}'`;
      if (s === 'error') return status.last_error ?? 'console in error';
      if (s === 'starting' || s === 'restarting') return `still starting${status.last_error ? ` (last error: ${status.last_error})` : ''}`;
      if (s === 'running') return `running on ${status.conductor}, waiting for ${cluster.owner}`;
      return `still starting: not started by ${cluster.owner} yet`;
    },
  };
}
