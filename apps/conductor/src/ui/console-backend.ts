import { EventEmitter } from 'node:events';
import type { ViewerInfo } from '#libs/console-protocol';

/**
 * What the web console needs from the conductor that runs a node's console: attach one client and
 * get a handle. The gateway (console-gateway.ts) speaks the WebSocket protocol over a handle and
 * knows nothing of how the console is held.
 */
export interface AttachRequest {
  uuid: string;
  /** Client address (the browser's or CLI's, also when a conductor relays for it). */
  address: string;
  via: 'web' | 'cli';
  /** What `who` and the broker's notices call the client (the CLI's user name); default: its address. */
  name?: string;
  readOnly: boolean;
  forceWrite: boolean;
}

/** Why a handle closed; the gateway turns it into a close code the client understands. */
export type DetachReason = 'moving' | 'disabled' | 'ended' | 'unavailable';

export interface LockChange {
  holder: string | null;
  holderLabel: string | null;
  forced: boolean;
  by: string | null;
}

/**
 * One attached client. Events: `data` (Buffer: history first, then live output), `notice`
 * (string, a one-line message for the user), `lock` (LockChange), `close` (DetachReason, once).
 */
export interface ConsoleHandle extends EventEmitter {
  readonly id: string;
  readonly writer: boolean;
  /** History bytes sent right after attaching, before live output. */
  readonly replayBytes: number;
  write(data: Buffer): void;
  takeWrite(force: boolean): void;
  releaseWrite(): void;
  sendBreak(): void;
  who(): ViewerInfo[];
  detach(): void;
}

/** The consoles this conductor runs. `undefined`: not running here (yet, or any more). */
export interface LocalConsoles {
  attach(req: AttachRequest): Promise<ConsoleHandle | undefined>;
}

/** Base for handles: `close` is emitted once. */
export abstract class BaseHandle extends EventEmitter implements ConsoleHandle {
  private closed = false;
  abstract readonly id: string;
  abstract readonly writer: boolean;
  abstract readonly replayBytes: number;
  abstract write(data: Buffer): void;
  abstract takeWrite(force: boolean): void;
  abstract releaseWrite(): void;
  abstract sendBreak(): void;
  abstract who(): ViewerInfo[];
  abstract detach(): void;

  protected closeOnce(reason: DetachReason): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close', reason);
  }
}
