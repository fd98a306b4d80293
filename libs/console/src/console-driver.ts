import type { ConsoleInterface, NodeRecord } from '#libs/nodes';
import type { SocatPeer } from './argv.js';

/**
 * Why a console stops, as a driver may tell its clients:
 *  - disabled: the user turned the console off (or its interface no longer has one)
 *  - handover: another conductor takes the node over (the ring moved, this one was drained or leaves)
 *  - deleted:  the node was deleted
 *  - fenced:   this conductor lost its lease or the node's claim: it must not serve any more
 *  - shutdown: this conductor stops (consoles handed over to the others)
 *  - restart:  the console restarts at once with new settings (driver_info, interface, a reset)
 *  - failed:   the console failed and is retried with backoff
 */
export const CONSOLE_STOP_REASONS = ['disabled', 'handover', 'deleted', 'fenced', 'shutdown', 'restart', 'failed'] as const;
export type ConsoleStopReason = (typeof CONSOLE_STOP_REASONS)[number];

/**
 * A console interface (Ironic's term): how socat's per-client command reaches the node's serial
 * line. socat, ports, supervision, claims and takeover are common to all of them
 * (reconciler/); a driver only prepares the per-client command and cleans up after it.
 */
export interface ConsoleDriver {
  readonly name: ConsoleInterface;
  /** Validate the node and set up what each client connection needs; returns where socat connects clients. */
  prepare(node: NodeRecord): Promise<SocatPeer>;
  /**
   * After socat is gone: tell the console's viewers why (`reason`) and let them go, end the BMC
   * session, remove files.
   */
  cleanup(node: NodeRecord, opts: { sessionWasActive: boolean; reason: ConsoleStopReason }): Promise<void>;
  /**
   * Set by the reconciler: a driver that runs client sessions itself (native-ipmi-socat) reports a
   * failed or lost session here (bad credentials, BMC unreachable, BMC ended SOL). The listener is
   * fine, so the console's state does not change; the message becomes the node's last_error.
   */
  onSessionError?: (uuid: string, message: string) => void;
}
