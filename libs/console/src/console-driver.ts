import type { ConsoleInterface, NodeRecord } from '#libs/nodes';
import type { SocatPeer } from './argv.js';

/** Why a console stops on this conductor; the broker tells each viewer (broker/notices.ts). */
export type ConsoleStopReason = 'disabled' | 'handover' | 'deleted' | 'fenced' | 'shutdown' | 'restart' | 'failed';

/**
 * A console interface (Ironic's term): how socat's per-client command reaches the node's serial
 * line. socat, ports, supervision, claims and takeover are common to all of them
 * (console-supervisor.ts); a driver only prepares the per-client command and cleans up after it.
 */
export interface ConsoleDriver {
  readonly name: ConsoleInterface;
  /** Validate the node and set up what each client connection needs; returns where socat connects clients. */
  prepare(node: NodeRecord): Promise<SocatPeer>;
  /**
   * After socat is gone: tell the console's viewers why (`reason`) and let them go, end the BMC
   * session, remove files. `reason` is optional until every caller passes it (the broker then says
   * "console closed — reconnect").
   */
  cleanup(node: NodeRecord, opts: { sessionWasActive: boolean; reason?: ConsoleStopReason }): Promise<void>;
  /**
   * Set by the supervisor: a driver that runs client sessions itself (native-ipmi-socat) reports a
   * failed or lost session here (bad credentials, BMC unreachable, BMC ended SOL). The listener is
   * fine, so the console's state does not change; the message becomes the node's last_error.
   */
  onSessionError?: (uuid: string, message: string) => void;
}
