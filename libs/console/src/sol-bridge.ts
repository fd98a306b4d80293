import type { Duplex } from 'node:stream';
import { errorMessage } from '#libs/common';
import { isIpmiError, type IpmiError, type IpmiSessionOptions } from '#libs/ipmi';

/**
 * The ports of the native SOL session (libs/ipmi's IpmiSession and SolConsole; fakes in tests) and
 * the words clients and last_error get when a session cannot start. The bridge that used to hold
 * one session per client is now the console broker (broker/): one session per node, many viewers.
 */

/** What the bridge needs of an active SOL payload (libs/ipmi's SolConsole; fakes in tests). */
export interface SolStream extends Duplex {
  closeReason: IpmiError | null;
  sendBreak(): void;
  close(): Promise<void>;
}

/** What the bridge needs of an IPMI session (libs/ipmi's IpmiSession; fakes in tests). */
export interface SolSession {
  activateSol(opts: { forceDeactivate: boolean }): Promise<SolStream>;
  /** Deactivates SOL (if active) and closes the session; never rejects. */
  close(): Promise<void>;
  /** Ends the session locally without a word to the BMC (a fenced conductor); never rejects. */
  drop(): Promise<void>;
}

export type SolSessionOpener = (target: IpmiSessionOptions) => Promise<SolSession>;

export const SOL_BANNER = '[SOL Session operational.  Use ~? for help]\r\n';
/** Same words as sol-session.sh, the ipmitool path's per-connection lease check. */
export const STALE_LISTENER_MESSAGE =
  'solgate: this console listener is stale (its conductor lost its lease); ask the API for the current console URL.\r\n';

/** The line a client sees when its session cannot start (ipmitool's wording, our detail and code). */
export function sessionFailureLine(stage: 'open' | 'activate', e: unknown): string {
  if (isIpmiError(e) && e.code === 'PAYLOAD_ALREADY_ACTIVE') return `Info: SOL payload already active on another session (${e.code})\r\n`;
  const what = stage === 'open' ? 'Unable to establish IPMI v2 / RMCP+ session' : 'Unable to activate SOL payload';
  return `Error: ${what}: ${errorMessage(e)}${isIpmiError(e) ? ` (${e.code})` : ''}\r\n`;
}

/** What goes into the node's last_error (and the log) for a failed or ended session. */
export function sessionErrorMessage(stage: 'open' | 'activate' | 'ended', e: unknown): string {
  const code = isIpmiError(e) ? ` (${e.code})` : '';
  const what = stage === 'open' ? 'SOL session failed: could not establish the IPMI session' : stage === 'activate' ? 'SOL session failed: could not activate SOL' : 'SOL session closed by BMC';
  return `${what}: ${errorMessage(e)}${code}`;
}
