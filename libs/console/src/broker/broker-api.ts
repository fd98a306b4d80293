import type { EventEmitter } from 'node:events';

/**
 * The console broker's public, in-process API: what a viewer that is not a TCP client (the web
 * console, `solgate console attach`, tests) uses to join a node's console on the conductor that
 * owns it. TCP clients (Nova, an operator with socat) reach the same API through the node's socat
 * port and the per-node UNIX socket (tcp-front.ts). Kept stable: a change here is documented in the
 * commit message that makes it.
 *
 *   const broker = registry.get(uuid);                  // undefined: not served by this conductor
 *   const v = broker.attach({ name: 'alice', address: '10.0.0.7', via: 'web' });
 *   v.on('data', (bytes) => term.write(bytes));         // replay first, then live, no gap/duplicate
 *   v.on('notice', (line) => term.writeln(line));       // one line, no CR/LF, e.g. "[solgate: …]"
 *   v.on('lock', (change) => …);  v.on('close', (reason) => …);
 *   v.write('ls\r');  v.takeWrite(true);  v.sendBreak();  v.detach();
 *
 * Events are delivered from the next tick on (never during attach()), so listeners added right
 * after attach() see everything, the replay included.
 */

/** How a viewer reaches the broker (shown in `~#`, `solgate console who`, audit). */
export type ViewerVia = 'tcp' | 'web' | 'cli';

export interface AttachOptions {
  /** What `~#`, notices and audit call this viewer (a user name, "nova-serialproxy"); default: address. */
  name?: string;
  /** The client's address: the TCP peer `ip:port` for socat clients, the remote address for web/CLI. */
  address: string;
  via: ViewerVia;
  /** Never hold the write lock (not given one when free; takeWrite() refuses). */
  readOnly?: boolean;
  /** Take the write lock at attach even from its holder (who is told). */
  forceWrite?: boolean;
  /** History replayed before live output; default SOLGATE_CONSOLE_REPLAY_BYTES, 0 = none. Cut at a line start. */
  replayBytes?: number;
}

export interface ViewerInfo {
  /** Unique per broker (e.g. "v7"). */
  id: string;
  name: string;
  address: string;
  via: ViewerVia;
  /** Epoch ms. */
  attachedAt: number;
  writer: boolean;
  readOnly: boolean;
}

/** Why a viewer was closed. The first seven are the console's stop reasons (ConsoleStopReason). */
export type ViewerCloseReason =
  | 'disabled'
  | 'handover'
  | 'deleted'
  | 'fenced'
  | 'shutdown'
  | 'restart'
  | 'failed'
  /** the viewer detached (detach(), `~.`, the TCP client hung up) */
  | 'detached'
  /** the BMC session could not be established for this viewer (the reason was sent as a notice) */
  | 'session-failed'
  /** the conductor's lease is not valid: this listener is stale */
  | 'stale'
  /** too many viewers on this node (SOLGATE_CONSOLE_MAX_VIEWERS) */
  | 'full'
  /** a TCP viewer idle for SOLGATE_TERMINAL_TIMEOUT */
  | 'idle'
  /** a viewer that could not keep up with the node's output */
  | 'slow';

export interface LockChange {
  /** Who holds the write lock now (null: nobody). */
  writer: ViewerInfo | null;
  previous: ViewerInfo | null;
  /** Taken from a holder with force (`~W`, takeWrite(true), forceWrite). */
  forced: boolean;
  /** Why it moved. */
  cause: 'attach' | 'take' | 'force' | 'release' | 'detach';
}

/** State of the broker's one BMC session. */
export type BmcSessionState = 'idle' | 'connecting' | 'up' | 'retrying' | 'closed';

export interface ViewerEvents {
  /** Node output (replay first, then live). */
  data: [chunk: Buffer];
  /** A one-line message for this viewer (no line terminator), to be shown on its own line. */
  notice: [line: string];
  /** The write lock moved (sent to every viewer). */
  lock: [change: LockChange];
  /** The BMC session changed state (sent to every viewer). */
  session: [state: BmcSessionState];
  /** The viewer is closed; nothing follows. */
  close: [reason: ViewerCloseReason];
}

export type SendBreakResult = 'sent' | 'not-writer' | 'no-session' | 'not-at-line-start';

/** One attached viewer (the handle attach() returns). */
export interface ConsoleViewer extends EventEmitter<ViewerEvents> {
  readonly info: ViewerInfo;
  readonly closed: boolean;
  /** Keystrokes to the node; only the write-lock holder's reach it (returns false otherwise). */
  write(data: Buffer | string): boolean;
  /** Take the write lock: when free, or always with `force` (the holder is told). False if refused. */
  takeWrite(force?: boolean): boolean;
  /** Give the write lock up (it passes to the longest-attached other viewer that may write). */
  releaseWrite(): void;
  /** A serial break to the node (write-lock holder only). */
  sendBreak(): SendBreakResult;
  /** Everyone attached, longest-attached first. */
  who(): ViewerInfo[];
  /** Leave; idempotent. Emits 'close' with 'detached'. */
  detach(): void;
}

export interface ConsoleBrokerStatus {
  uuid: string;
  session: BmcSessionState;
  capture: CaptureMode;
  viewers: number;
  /** Bytes of node output seen since this broker started / keystrokes sent to the node. */
  bytesOut: number;
  bytesIn: number;
  /** Absolute offset of the next node byte (continues a predecessor's offsets after takeover). */
  offset: number;
  /** BMC sessions that dropped (not closed by us). */
  drops: number;
}

export type CaptureMode = 'on-demand' | 'always';

/** A node's broker on this conductor. */
export interface ConsoleBrokerHandle {
  readonly uuid: string;
  attach(opts: AttachOptions): ConsoleViewer;
  who(): ViewerInfo[];
  status(): ConsoleBrokerStatus;
  /** The last `bytes` of history (cut at a line start), as a late joiner's replay would be. */
  replay(bytes?: number): Buffer;
}

/** Finds a node's broker on this conductor (only while this conductor serves the node's console). */
export interface ConsoleBrokerRegistry {
  get(uuid: string): ConsoleBrokerHandle | undefined;
  list(): ConsoleBrokerHandle[];
}
