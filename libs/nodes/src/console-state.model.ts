/**
 * Observed state of a node's console, written only by the conductor that runs (or last ran) it.
 * `stopping` is written before a console is killed on purpose (disable, handover, shutdown), so no
 * reader is handed its URL while it goes away.
 */
export const CONSOLE_STATES = ['stopped', 'starting', 'running', 'restarting', 'error', 'stopping'] as const;
export type ConsoleState = (typeof CONSOLE_STATES)[number];

export interface ConsoleStatus {
  state: ConsoleState;
  /** Member id of the conductor that wrote this. */
  conductor: string | null;
  incarnation: string | null;
  /** Claim epoch under which the console runs. */
  epoch: number;
  /** tcp://host:port while running. */
  url: string | null;
  port: number | null;
  pid: number | null;
  /** The node's console_generation the running console belongs to. */
  generation: number;
  /** Node rev the running console was built from. */
  rev: number;
  last_error: string | null;
  restarts: number;
  started_at: number | null;
  updated_at: number | null;
  /** Viewers attached to the console's broker (counted by the incarnation that reports the state), null if unknown. */
  viewers: number | null;
}

export const STOPPED_STATUS: ConsoleStatus = {
  state: 'stopped',
  conductor: null,
  incarnation: null,
  epoch: 0,
  url: null,
  port: null,
  pid: null,
  generation: 0,
  rev: 0,
  last_error: null,
  restarts: 0,
  started_at: null,
  updated_at: null,
  viewers: null,
};
