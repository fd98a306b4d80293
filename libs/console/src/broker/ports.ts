import type { EventEmitter } from 'node:events';
import type { ViewerInfo } from './broker-api.js';

/**
 * The broker's ports (as SolBridge had them): everything with a side effect sits behind one of
 * these small interfaces, so the broker itself is logic over them and its unit tests use fakes.
 */

/** How a BMC session ended: `error` null when we closed it ourselves. */
export interface SolLinkEnd {
  error: string | null;
}

export interface SolLinkEvents {
  /** Node output. */
  data: [chunk: Buffer];
  /** The session is over (emitted once). */
  end: [end: SolLinkEnd];
}

/** The broker's one BMC session: the in-process native SOL session or one ipmitool child. */
export interface SolLink extends EventEmitter<SolLinkEvents> {
  /** Keystrokes to the node. */
  write(data: Buffer): void;
  /** A serial break; ipmitool can only send one at the start of a line. */
  sendBreak(): 'sent' | 'not-at-line-start';
  /**
   * End the session on the BMC (deactivate SOL, close). Idempotent; never rejects. `abandon`: this
   * conductor may no longer act on the BMC (its lease lapsed, another conductor may hold the payload
   * by now): end the local side without a word to the BMC — a Deactivate Payload now would end the
   * new owner's session. The next owner's activation clears whatever is left.
   */
  close(opts?: { abandon?: boolean }): Promise<void>;
}

/** Why a session could not be opened: a line for clients and a message for the node's last_error. */
export class SolLinkOpenError extends Error {
  constructor(
    /** What a client sees (ipmitool's wording where there is one). */
    readonly clientLine: string,
    /** What goes into last_error and the log. */
    message: string,
    /** The conductor's lease is not valid: not a BMC problem. */
    readonly stale = false,
  ) {
    super(message);
    this.name = 'SolLinkOpenError';
  }
}

export type SolLinkOpener = () => Promise<SolLink>;

/** Node output on its way to the console log (Redis Stream) and files; batched by the sink. */
export interface OutputSink {
  /** `offset` is the absolute offset of data[0]. */
  write(offset: number, data: Buffer): void;
  /** Write what is pending and release resources. Idempotent. */
  close(): Promise<void>;
}

export type AuditEventType = 'attach' | 'detach' | 'lock' | 'break' | 'session-open' | 'session-close' | 'session-drop';

export interface AuditEvent {
  event: AuditEventType;
  node: string;
  /** Epoch ms. */
  at: number;
  /** Console offset when it happened. */
  offset: number;
  viewer?: Pick<ViewerInfo, 'id' | 'name' | 'address' | 'via'>;
  /** Free-form details: lock moves (from, to, forced), close reasons, errors. */
  detail?: Record<string, string | number | boolean | null>;
}

export interface AuditSink {
  record(e: AuditEvent): void;
}

/** Where the broker publishes who is attached (Redis: count for the node view, list for `console who`). */
export interface ViewerPublisher {
  publish(uuid: string, viewers: ViewerInfo[]): void;
}

/** Counters shared by the brokers of one console interface (Prometheus reads them). */
export class BrokerMetrics {
  viewers = 0;
  bytesOut = 0;
  bytesIn = 0;
  sessionDrops = 0;
  sessionsOpen = 0;
  sessionsOpened = 0;
}
