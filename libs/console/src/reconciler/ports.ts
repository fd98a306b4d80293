import type { ClaimResult } from '#libs/cluster';
import type { Clock } from '#libs/common';
import type { Logger } from '#libs/logging';
import type { ConsoleInterface, ConsoleStatus, NodeRecord } from '#libs/nodes';
import type { ConsoleStopReason } from '../console-driver.js';

/**
 * The reconciler's side effects, each behind a small port (faked in the unit tests, implemented over
 * socat, Redis and the kernel in adapters.ts and socat-console-processes.ts).
 */

/** One console process that runs (socat listening on the node's port). */
export interface RunningConsole {
  /** socat's pid (also its process group). */
  readonly pid: number | undefined;
  /** Monotonic ms: spawn requested, and socat reported it listens. */
  readonly startedAtMs: number;
  readonly readyAtMs: number;
  /** The console URL's scheme (tcp unless the driver serves http/https, as shellinabox does). */
  readonly scheme?: string;
  /** A client is connected (socat forked a per-connection child). */
  hasSession(): boolean;
  /** Kill it (SIGTERM, SIGKILL after killTimeoutMs); resolves when socat is gone. Idempotent. */
  stop(killTimeoutMs: number): Promise<void>;
  /** Called once if it dies without being stopped. */
  onUnexpectedExit(listener: (description: string) => void): void;
}

/** Console processes: prepare the driver and start socat; clean up after one stopped. */
export interface ConsoleProcesses {
  /** Throws SocatStartError, or a SolgateError INVALID_INPUT for a spec the driver refuses. */
  start(node: NodeRecord, port: number, opts: { restart: boolean }): Promise<RunningConsole>;
  cleanup(node: NodeRecord, opts: { sessionWasActive: boolean; reason: ConsoleStopReason }): Promise<void>;
}

/** Sticky console ports, decided cluster-wide (throws ConsolePortError). */
export interface ConsolePortAllocator {
  allocate(node: NodeRecord): Promise<number>;
}

/**
 * 'held': ours with that epoch; 'reasserted': Redis had lost it and it was written back; 'lost';
 * 'unknown': Redis does not list this conductor as a member right now (an older copy, until the next
 * heartbeat registers it again): the lease, not the claim check, decides whether it may go on.
 */
export type ClaimCheck = 'held' | 'reasserted' | 'lost' | 'unknown';

/** The node's claim: acquire (or confirm) before every start; read many to verify what we hold. */
export interface ConsoleClaims {
  acquire(uuid: string): Promise<ClaimResult>;
  /**
   * For each console running under a claim: whether the claim is still ours with that epoch. A
   * claim that Redis lost by going back in time (it reads free or older) is written back first.
   */
  confirmHeld(held: { uuid: string; epoch: number }[]): Promise<ClaimCheck[]>;
}

/** Observed state, written under the node's claim (false: the claim is no longer ours with that epoch). */
export interface ConsoleStatuses {
  write(uuid: string, epoch: number, patch: Partial<ConsoleStatus>, opts?: { releaseClaim?: boolean }): Promise<boolean>;
}

/** What the reconciler reads of membership (MembershipService). */
export interface ClusterMembership {
  readonly memberId: string;
  readonly isDrained: boolean;
  readonly identityChecked: boolean;
  leaseValid(): boolean;
  ownerOf(uuid: string, group: string): string | undefined;
  /** A takeover hold runs in Redis (as of the last view). */
  takeoverHold(): boolean;
  refreshView(): Promise<unknown>;
}

/** Node specs (spec-cache.ts over NodeRepository). */
export interface NodeSpecs {
  /** uuids whose console is enabled (re-read only when something changed). */
  enabled(): Promise<string[]>;
  /** Cached spec of a console-enabled node, without I/O. */
  peek(uuid: string): NodeRecord | undefined;
  /** The node as stored now (null: deleted). */
  read(uuid: string): Promise<NodeRecord | null>;
  invalidate(uuid: string): void;
  clear(): void;
}

/** The kernel's table of listening TCP sockets ("addr:port" keys, see socket-table.ts). */
export type ListeningSockets = () => Promise<Set<string>>;

/** Everything the reconciler acts through. */
export interface ReconcilerPorts {
  specs: NodeSpecs;
  processes: ConsoleProcesses & { close(): void };
  ports: ConsolePortAllocator;
  claims: ConsoleClaims;
  statuses: ConsoleStatuses;
  membership: ClusterMembership;
  listening: ListeningSockets;
  /** Console interfaces this conductor has a driver for. */
  drivers: ReadonlySet<ConsoleInterface>;
  clock: Clock;
  log: Logger;
}

export type { Clock };
