import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { errorMessage, isSolgateError, sleep } from '#libs/common';
import type { ClusterView } from '#libs/cluster';
import {
  CLOSE,
  CONSOLE_WS_PATH_RE,
  parseAttachQuery,
  parseClientMessage,
  parseServerMessage,
  PROTOCOL,
  type AttachOptions,
  type ServerMessage,
} from '#libs/console-protocol';
import type { ConsoleControl } from '#libs/console';
import type { Logger } from '#libs/logging';
import type { NodeRecord, NodeRepository } from '#libs/nodes';
import type { ConsoleHandle, DetachReason, LocalConsoles } from './console-backend.js';
import { RELAY_HEADER, type RelayClaims, type RelayCredentials } from './relay-credential.js';
import type { UiAuth } from './ui-auth.js';

export interface GatewayOptions {
  memberId: string;
  /** How long a client waits for a console that is starting or moving before it is told to retry. */
  waitMs: number;
  /** Keepalive: ping every client this often; one that misses two pongs is dropped. */
  pingIntervalMs: number;
  /** A client that lets this much output pile up unread is disconnected (it reconnects and replays). */
  maxBufferedBytes: number;
}

export const DEFAULT_GATEWAY_OPTIONS = { waitMs: 30_000, pingIntervalMs: 25_000, maxBufferedBytes: 4 * 1024 * 1024 };

const CLOSE_FOR: Record<DetachReason, [number, string]> = {
  moving: [CLOSE.MOVING, 'the console moved to another conductor'],
  disabled: [CLOSE.DISABLED, 'the console was disabled'],
  ended: [CLOSE.MOVING, 'the console session ended'],
  unavailable: [CLOSE.UNAVAILABLE, 'the console is not available'],
};

/**
 * The console WebSocket, `/ui/nodes/{ident}/console/ws`, on every conductor's API port.
 *
 * Relay design: the conductor that receives the WebSocket finds the node's owner in Redis (the
 * conductor whose live incarnation reports the console running). If that is itself, it attaches
 * the client in-process (LocalConsoles). Otherwise it opens the same WebSocket on the owner's API
 * URL with a relay credential (relay-credential.ts) and pipes frames both ways; the owner attaches
 * in-process. So the typed protocol (lock, who, break, notices) reaches the client unchanged from
 * any conductor, a browser behind a load balancer needs no sticky routing, the client's own
 * address reaches the owner's audit log, and the console ports need not be reachable from where
 * the browser is. While a console starts or moves (handover, crash of its owner) the receiving
 * conductor keeps the client waiting and looks again every 250 ms; when the owner goes away under
 * an attached client, the client is told to reconnect (close code MOVING) and its page does.
 */
export class ConsoleGateway {
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: () => PROTOCOL, maxPayload: 1024 * 1024 });
  private readonly clients = new Set<WebSocket>();
  private server: Server | undefined;
  private pinger: NodeJS.Timeout | undefined;
  private closing = false;
  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.upgrade(req, socket, head);

  constructor(
    private readonly opts: GatewayOptions,
    private readonly auth: UiAuth,
    private readonly relays: RelayCredentials,
    private readonly nodes: NodeRepository,
    private readonly consoles: ConsoleControl,
    private readonly view: () => ClusterView,
    private readonly local: LocalConsoles,
    private readonly log: Logger,
  ) {}

  listen(server: Server): void {
    this.server = server;
    server.on('upgrade', this.onUpgrade);
    const alive = new WeakSet<WebSocket>();
    this.pinger = setInterval(() => {
      for (const ws of this.clients) {
        if (!alive.has(ws) && (ws as WebSocket & { pinged?: boolean }).pinged) {
          ws.terminate();
          continue;
        }
        alive.delete(ws);
        (ws as WebSocket & { pinged?: boolean }).pinged = true;
        ws.once('pong', () => alive.add(ws));
        ws.ping();
      }
    }, this.opts.pingIntervalMs);
    this.pinger.unref();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Conductor stopping: refuse new clients, tell every client to reconnect elsewhere. Idempotent. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.server?.off('upgrade', this.onUpgrade);
    clearInterval(this.pinger);
    for (const ws of this.clients) closeWith(ws, 1001, 'the conductor is stopping');
    this.wss.close();
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://gateway');
    const m = CONSOLE_WS_PATH_RE.exec(url.pathname);
    if (!m || this.closing) return refuse(socket, m ? 503 : 404);
    // Cross-site WebSocket hijacking: a browser always sends Origin; it must be this very host.
    const origin = req.headers.origin;
    if (origin !== undefined && !sameOrigin(origin, req.headers.host)) return refuse(socket, 403);
    let relay: RelayClaims | undefined;
    if (req.headers[RELAY_HEADER] !== undefined) {
      relay = await this.relays.verify(String(req.headers[RELAY_HEADER]), url.pathname);
      if (!relay) return refuse(socket, 401);
    } else if (!this.auth.acceptsUpgrade(req)) {
      return refuse(socket, 401);
    }
    let ident: string;
    try {
      ident = decodeURIComponent(m[1]);
    } catch {
      return refuse(socket, 400);
    }
    const options = parseAttachQuery(url.searchParams);
    const via = url.searchParams.get('client') === 'cli' ? 'cli' : 'web';
    const name = /^[A-Za-z0-9_.@-]{1,64}$/.test(url.searchParams.get('name') ?? '') ? url.searchParams.get('name')! : undefined;
    const address = relay?.clientAddress ?? req.socket.remoteAddress ?? 'unknown';
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.clients.add(ws);
      ws.on('close', () => this.clients.delete(ws));
      ws.on('error', () => undefined);
      void this.serve(ws, { ident, options, via, name, address, relay, search: url.search }).catch((e) => {
        this.log.warn({ err: errorMessage(e) }, 'console WebSocket failed');
        closeWith(ws, 1011, 'internal error');
      });
    });
  }

  /** Find the console, wait while it starts or moves, then attach here or relay to its owner. */
  private async serve(ws: WebSocket, c: { ident: string; options: AttachOptions; via: 'web' | 'cli'; name?: string; address: string; relay?: RelayClaims; search: string }): Promise<void> {
    const deadline = Date.now() + this.opts.waitMs;
    let told = '';
    const wait = (message: string) => {
      if (message !== told) send(ws, { type: 'state', phase: 'waiting', message });
      told = message;
    };
    while (ws.readyState === WebSocket.OPEN && !this.closing) {
      let node: NodeRecord;
      try {
        node = await this.nodes.getByIdent(c.ident, { allowName: true });
      } catch (e) {
        if (isSolgateError(e) && e.code === 'NODE_NOT_FOUND') return closeWith(ws, CLOSE.NOT_FOUND, `node ${c.ident} not found`);
        throw e;
      }
      if (node.console_interface === 'no-console') return closeWith(ws, CLOSE.NOT_FOUND, `node ${c.ident} has no console interface`);
      if (!node.console_enabled) return closeWith(ws, CLOSE.DISABLED, 'the console is disabled');
      const v = await this.consoles.get(node);
      const owner = v.serving ? v.status.conductor : null;
      if (owner === this.opts.memberId) {
        const handle = await this.local.attach({ uuid: node.uuid, address: c.address, via: c.via, name: c.name, readOnly: !!c.options.readOnly, forceWrite: !!c.options.forceWrite });
        if (handle) return this.bind(ws, node, handle, c.relay);
        wait(`the console is starting on ${owner}`);
      } else if (owner && c.relay) {
        // a relayed client reached a conductor that no longer runs the console: the relay looks again
        return closeWith(ws, CLOSE.MOVING, `the console runs on ${owner}`);
      } else if (owner) {
        const apiUrl = this.view().member(owner)?.apiUrl;
        if (apiUrl && (await this.relay(ws, node, owner, apiUrl, c))) return;
        wait(`the console is moving from ${owner}`);
      } else {
        wait(v.conductor ? `the console is starting on ${v.conductor}` : `no conductor is alive in group '${node.conductor_group}'`);
      }
      if (Date.now() > deadline) return closeWith(ws, CLOSE.UNAVAILABLE, 'the console did not come up in time');
      await sleep(250);
    }
  }

  /** An attached client: WebSocket frames ↔ the handle. */
  private bind(ws: WebSocket, node: NodeRecord, h: ConsoleHandle, relay: RelayClaims | undefined): void {
    if (ws.readyState !== WebSocket.OPEN) {
      // the client left while the console was looked up (a tab closed at once): its 'close' has
      // fired already, so nobody else would detach this viewer, which would keep the write lock
      h.detach();
      return;
    }
    const via = relay?.from ?? this.opts.memberId;
    send(ws, { type: 'hello', node: { uuid: node.uuid, name: node.name }, owner: this.opts.memberId, via, clientId: h.id, writer: h.writer, replayBytes: h.replayBytes });
    this.log.info({ node: node.uuid, client: h.id, via, writer: h.writer }, 'web console client attached');
    h.on('data', (d: Buffer) => {
      if (ws.bufferedAmount > this.opts.maxBufferedBytes) return closeWith(ws, CLOSE.UNAVAILABLE, 'the client did not keep up with the console output');
      if (ws.readyState === WebSocket.OPEN) ws.send(d, { binary: true });
    });
    h.on('notice', (text: string) => send(ws, { type: 'notice', text }));
    h.on('lock', (l: { holder: string | null; holderLabel: string | null; forced: boolean; by: string | null }) =>
      send(ws, { type: 'lock', writer: h.writer, holder: l.holder, holderLabel: l.holderLabel, forced: l.forced, by: l.by }),
    );
    h.on('close', (reason: DetachReason) => closeWith(ws, ...CLOSE_FOR[reason]));
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return h.write(toBuffer(data));
      const m = parseClientMessage(toBuffer(data).toString());
      if (!m) return send(ws, { type: 'error', message: 'unknown message' });
      if (m.type === 'take-write') h.takeWrite(!!m.force);
      else if (m.type === 'release-write') h.releaseWrite();
      else if (m.type === 'break') h.sendBreak();
      else if (m.type === 'who') send(ws, { type: 'who', viewers: h.who().map((x) => ({ ...x, you: x.id === h.id })) });
    });
    ws.on('close', () => {
      h.detach();
      this.log.info({ node: node.uuid, client: h.id }, 'web console client detached');
    });
  }

  /**
   * Pipe the client to the owner's own WebSocket. Resolves false when the owner cannot be reached
   * (it just died: the caller waits for the takeover), true once the relay ran and ended.
   */
  private async relay(ws: WebSocket, node: NodeRecord, owner: string, apiUrl: string, c: { address: string; search: string }): Promise<boolean> {
    const path = `/ui/nodes/${encodeURIComponent(node.uuid)}/console/ws`;
    const credential = await this.relays.sign({ from: this.opts.memberId, clientAddress: c.address }, path);
    const upstream = new WebSocket(`${apiUrl.replace(/^http/, 'ws')}${path}${c.search}`, [PROTOCOL], {
      headers: { [RELAY_HEADER]: credential },
      perMessageDeflate: false,
      handshakeTimeout: 3000,
      maxPayload: 16 * 1024 * 1024,
    });
    // listening before the handshake ends: the owner's hello can come in the same read as its 101
    // response, and ws emits it in the very next tick, before an `await` here would resume
    upstream.on('message', (data: RawData, isBinary: boolean) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      if (isBinary) {
        if (ws.bufferedAmount > this.opts.maxBufferedBytes) return closeWith(ws, CLOSE.UNAVAILABLE, 'the client did not keep up with the console output');
        return ws.send(data, { binary: true });
      }
      const text = toBuffer(data).toString();
      const m = parseServerMessage(text);
      // the owner says who relays; the client learns which conductor it talks to
      if (m?.type === 'hello') return send(ws, { ...m, via: this.opts.memberId });
      ws.send(text);
    });
    const upstreamClosed = new Promise<[number, Buffer]>((resolve) => upstream.once('close', (code: number, reason: Buffer) => resolve([code, reason])));
    const opened = await new Promise<boolean>((resolve) => {
      upstream.once('open', () => resolve(true));
      upstream.once('error', () => resolve(false));
      upstream.once('unexpected-response', (_req, res) => {
        res.resume();
        resolve(false);
      });
      ws.once('close', () => resolve(false));
    });
    if (!opened || ws.readyState !== WebSocket.OPEN) {
      upstream.terminate();
      return ws.readyState !== WebSocket.OPEN;
    }
    upstream.on('error', () => undefined);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (upstream.readyState === WebSocket.OPEN) upstream.send(toBuffer(data), { binary: isBinary });
    });
    await new Promise<void>((resolve) => {
      void upstreamClosed.then(([code, reason]) => {
        if (code === 1005 || code === 1006 || code === 1011 || code === 1001) {
          send(ws, { type: 'notice', text: `lost the connection to conductor ${owner}` });
          closeWith(ws, CLOSE.MOVING, `lost the connection to conductor ${owner}`);
        } else closeWith(ws, code, reason.toString());
        resolve();
      });
      ws.once('close', () => {
        upstream.close(CLOSE.DETACHED, 'detached');
        resolve();
      });
    });
    return true;
  }
}

function send(ws: WebSocket, m: ServerMessage): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m));
}

function closeWith(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason.slice(0, 120));
}

function toBuffer(d: RawData): Buffer {
  return Buffer.isBuffer(d) ? d : Array.isArray(d) ? Buffer.concat(d) : Buffer.from(d);
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return !!host && new URL(origin).host === host;
  } catch {
    return false;
  }
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' };

function refuse(socket: Duplex, status: number): void {
  socket.end(`HTTP/1.1 ${status} ${REASONS[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
