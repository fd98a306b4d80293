import {
  attachQuery,
  CLOSE,
  consoleWsPath,
  parseServerMessage,
  PROTOCOL,
  shouldReconnect,
  tokenProtocol,
  type AttachOptions,
  type ClientMessage,
  type ServerMessage,
} from '#libs/console-protocol';
import { reconnectDelayMs } from './backoff.js';

export type ConnectionState =
  | { kind: 'connecting'; attempt: number }
  | { kind: 'waiting'; message: string }
  | { kind: 'attached'; owner: string; via: string }
  | { kind: 'retrying'; inMs: number; reason: string }
  | { kind: 'closed'; reason: string };

export interface ConnectionEvents {
  state(s: ConnectionState): void;
  data(bytes: Uint8Array): void;
  message(m: ServerMessage): void;
  /** A line for the terminal (reconnects, moves): the page writes it dimmed on its own line. */
  notice(text: string): void;
}

const CLOSE_REASONS: Record<number, string> = {
  [CLOSE.DETACHED]: 'detached',
  [CLOSE.MOVING]: 'the console moved to another conductor',
  [CLOSE.DISABLED]: 'the console was disabled',
  [CLOSE.NOT_FOUND]: 'no such node, or it has no console',
  [CLOSE.BAD_REQUEST]: 'the request was refused',
  [CLOSE.UNAVAILABLE]: 'the console is not available',
  1001: 'the conductor is stopping',
  1006: 'the connection was lost',
};

/**
 * One node's console over the conductor's WebSocket, reconnecting by itself: at once when the
 * server says the console moved (a handover), with capped exponential backoff after a drop (the
 * conductor we talked to died), and not at all after a detach, a disable or an unknown node. Each
 * (re)attach starts with the server's `hello` and the replayed history.
 */
export class ConsoleConnection {
  private ws: WebSocket | undefined;
  private attempt = 0;
  private timer: number | undefined;
  private stopped = false;
  private attachedOnce = false;

  constructor(
    private readonly ident: string,
    private readonly options: () => AttachOptions,
    private readonly token: () => string | undefined,
    private readonly on: ConnectionEvents,
  ) {}

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  connect(): void {
    this.stopped = false;
    clearTimeout(this.timer);
    this.attempt++;
    this.on.state({ kind: 'connecting', attempt: this.attempt });
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${consoleWsPath(this.ident)}${attachQuery(this.options())}`;
    const token = this.token();
    const ws = new WebSocket(url, token ? [PROTOCOL, tokenProtocol(token)] : [PROTOCOL]);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      if (typeof ev.data !== 'string') return this.on.data(new Uint8Array(ev.data as ArrayBuffer));
      const m = parseServerMessage(ev.data);
      if (!m) return;
      if (m.type === 'hello') {
        this.attempt = 0;
        if (this.attachedOnce) this.on.notice(`reconnected: console on ${m.owner}${m.via !== m.owner ? ` via ${m.via}` : ''}${m.replayBytes ? ', history follows' : ''}`);
        this.attachedOnce = true;
        this.on.state({ kind: 'attached', owner: m.owner, via: m.via });
      } else if (m.type === 'state' && m.phase === 'waiting') {
        this.on.state({ kind: 'waiting', message: m.message });
      }
      this.on.message(m);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      const reason = ev.reason || CLOSE_REASONS[ev.code] || `closed (${ev.code})`;
      if (this.stopped) return;
      if (!shouldReconnect(ev.code)) {
        this.on.notice(`disconnected: ${reason}`);
        this.on.state({ kind: 'closed', reason });
        return;
      }
      const inMs = reconnectDelayMs(Math.max(1, this.attempt), ev.code === CLOSE.MOVING || ev.code === 1001);
      this.on.notice(`${reason} — reconnecting${inMs ? ` in ${(inMs / 1000).toFixed(1)} s` : ''}`);
      this.on.state({ kind: 'retrying', inMs, reason });
      this.timer = window.setTimeout(() => this.connect(), inMs);
    };
  }

  send(m: ClientMessage): void {
    if (this.open) this.ws!.send(JSON.stringify(m));
  }

  sendBytes(data: Uint8Array<ArrayBuffer>): void {
    if (this.open) this.ws!.send(data);
  }

  /** Reconnect now (the "Reconnect" button), whatever the backoff said. */
  reconnectNow(): void {
    this.ws?.close(1000);
    this.ws = undefined;
    this.attempt = 0;
    this.connect();
  }

  close(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.close(CLOSE.DETACHED, 'detached');
    this.ws = undefined;
  }
}
