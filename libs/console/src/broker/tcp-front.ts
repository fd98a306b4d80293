import { chmodSync, statSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { errorMessage } from '#libs/common';
import type { Logger } from '#libs/logging';
import type { ConsoleBrokerHandle, ConsoleViewer, SendBreakResult, ViewerInfo } from './broker-api.js';
import type { ClientSlots } from './client-slots.js';
import { BrokerEscapeParser, escapeHelp, type BrokerEscape } from './escape-parser.js';

export interface TcpFrontOptions {
  uuid: string;
  socketPath: string;
  broker: ConsoleBrokerHandle;
  /** null: escapes off (binary clients). */
  escapeChar: string | null;
  /** Close a TCP viewer after this long without a byte either way (SOLGATE_TERMINAL_TIMEOUT); 0 = never. */
  idleTimeoutMs: number;
  log: Logger;
  /** The conductor-wide cap on TCP console clients; absent: none. */
  slots?: ClientSlots;
}

/** The hello the relay sends first: `SOLGATE-PEER <address> <port>`. */
const HELLO_RE = /^SOLGATE-PEER ([0-9A-Za-z.:[\]%-]*) ?(\d*)$/;
const HELLO_MAX_BYTES = 256;
const HELLO_TIMEOUT_MS = 5000;
/** A TCP viewer with this much output queued is not keeping up: it is let go (the others are not held back). */
const SLOW_VIEWER_BYTES = 4 * 1024 * 1024;
/** What a client turned away at the conductor-wide cap reads before the connection closes. */
export const FULL_NOTICE = '[solgate: this conductor serves as many console clients as it can; try again later]';

/** `ip:port`, `[v6]:port`, or what we have. */
export function peerAddress(addr: string, port: string): string {
  if (!addr) return 'unknown';
  const a = addr.includes(':') && !addr.startsWith('[') ? `[${addr}]` : addr;
  return port ? `${a}:${port}` : a;
}

/**
 * The TCP face of a broker: socat listens on the node's port (the URL Nova knows) and runs the relay
 * (assets/console-relay.pl) for each client, which connects here over the per-node UNIX socket (0600
 * in the conductor's private directory) and names the client's TCP peer in its first line. Each
 * connection becomes a `tcp` viewer of the broker; its keystrokes go through the escape parser
 * (`~.`, `~w`, `~#`, ...), notices reach it on their own line.
 */
export class TcpFront {
  private server: Server | undefined;
  private inode: number | undefined;
  private closed = false;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly o: TcpFrontOptions) {}

  get socketPath(): string {
    return this.o.socketPath;
  }

  async listen(): Promise<void> {
    if (this.closed) throw new Error('the console front is closed');
    const server = createServer({ allowHalfOpen: true }, (sock) => this.onConnection(sock));
    const listen = () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.o.socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
    try {
      await listen();
    } catch (e) {
      // a stale file (an earlier run's socket) blocks listen(): removed (never followed) only then,
      // so the usual start costs no extra file-system round trip
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      await rm(this.o.socketPath, { force: true });
      await listen();
    }
    server.on('error', (e) => this.o.log.warn({ node: this.o.uuid, err: errorMessage(e) }, 'console socket error'));
    this.server = server;
    // synchronous: the private runtime directory is a tmpfs, see PidDirectory.writePrivate
    chmodSync(this.o.socketPath, 0o600);
    this.inode = statSync(this.o.socketPath).ino;
  }

  /** True if the server listens and its socket file is still the one it created. */
  async intact(): Promise<boolean> {
    if (!this.server?.listening || this.closed) return false;
    try {
      return (await stat(this.o.socketPath)).ino === this.inode;
    } catch {
      return false;
    }
  }

  private onConnection(sock: Socket): void {
    if (this.closed) {
      sock.destroy();
      return;
    }
    sock.on('error', () => undefined);
    const slots = this.o.slots;
    if (slots && !slots.tryTake()) {
      // said to the client (through the relay) and let go at once: its descriptor is back
      sock.end(`${FULL_NOTICE}\r\n`);
      setTimeout(() => sock.destroy(), 200).unref();
      this.warnFull(slots);
      return;
    }
    this.sockets.add(sock);
    sock.on('close', () => {
      this.sockets.delete(sock);
      slots?.release();
    });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => sock.destroy(), HELLO_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const nl = buf.indexOf(0x0a);
      if (nl < 0) {
        if (buf.length > HELLO_MAX_BYTES) sock.destroy();
        return;
      }
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('end', onEnd);
      const m = HELLO_RE.exec(buf.subarray(0, nl).toString('latin1'));
      if (!m) {
        sock.destroy();
        return;
      }
      new TcpViewerConnection(sock, this.o, peerAddress(m[1]!, m[2]!), buf.subarray(nl + 1));
    };
    const onEnd = () => {
      clearTimeout(timer);
      sock.destroy();
    };
    sock.on('data', onData);
    sock.on('end', onEnd);
  }

  private static lastFullWarnMs = 0;

  private warnFull(slots: ClientSlots): void {
    const now = Date.now();
    if (now - TcpFront.lastFullWarnMs < 10_000) return;
    TcpFront.lastFullWarnMs = now;
    this.o.log.warn({ node: this.o.uuid, maxClients: slots.max, refused: slots.refused }, 'console client limit of this conductor reached: refusing new TCP console clients');
  }

  /** Stop listening, drop connections that never said hello, remove the socket file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.server?.close();
    this.server = undefined;
    // viewers were closed by the broker (each with its notice); give their last bytes a moment
    setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, 500).unref();
    try {
      if (this.inode !== undefined && (await stat(this.o.socketPath)).ino === this.inode) await rm(this.o.socketPath, { force: true });
    } catch {
      /* already gone */
    }
  }
}

/** One relay connection = one TCP viewer. */
class TcpViewerConnection {
  private readonly viewer: ConsoleViewer;
  private readonly parser: BrokerEscapeParser;
  private atLineStart = true;
  private idleTimer: NodeJS.Timeout | undefined;
  private toldReadOnly = false;

  constructor(
    private readonly sock: Socket,
    private readonly o: TcpFrontOptions,
    address: string,
    early: Buffer,
  ) {
    this.parser = new BrokerEscapeParser(o.escapeChar);
    // a browser session of an ipmitool-shellinabox console comes through the same relay (shellinabox-relay.pl)
    const v = o.broker.attach({ address, via: address === 'shellinabox' ? 'shellinabox' : 'tcp' });
    this.viewer = v;
    v.on('data', (d) => this.send(d));
    v.on('notice', (line) => this.notice(line));
    v.on('lock', (c) => {
      if (c.writer?.id === v.info.id) this.toldReadOnly = false;
    });
    v.on('close', () => {
      this.stopIdle();
      if (!sock.destroyed) sock.end();
      setTimeout(() => sock.destroy(), 200).unref(); // let the last notice leave
    });
    sock.on('data', (d: Buffer) => this.fromClient(d));
    sock.on('end', () => v.detach()); // the client hung up (the relay half-closed)
    sock.on('close', () => v.detach());
    this.touch();
    if (early.length) this.fromClient(early);
  }

  private send(d: Buffer): void {
    if (this.sock.destroyed || this.sock.writableEnded) return;
    this.sock.write(d);
    const last = d[d.length - 1];
    this.atLineStart = last === 0x0a || last === 0x0d;
    this.touch();
    if (this.sock.writableLength > SLOW_VIEWER_BYTES) {
      this.o.log.warn({ node: this.o.uuid, client: this.viewer.info.address }, 'console viewer too slow: disconnecting it');
      this.sock.destroy();
    }
  }

  private notice(line: string): void {
    this.send(Buffer.from(`${this.atLineStart ? '' : '\r\n'}${line}\r\n`, 'utf8'));
  }

  private fromClient(chunk: Buffer): void {
    this.touch();
    for (const a of this.parser.feed(chunk)) {
      if (a.type === 'data') {
        if (!this.viewer.write(a.data) && !this.toldReadOnly && !this.viewer.closed) {
          this.toldReadOnly = true;
          const holder = this.viewer.who().find((i) => i.writer);
          const esc = this.o.escapeChar;
          this.notice(
            `[solgate: read-only${holder ? `: ${holder.name} holds the write lock` : ''}${esc ? `; ${esc}w takes it when free, ${esc}W forces` : ''}]`,
          );
        }
      } else this.escape(a.type);
      if (this.viewer.closed) return;
    }
  }

  private escape(e: BrokerEscape): void {
    const v = this.viewer;
    const esc = this.o.escapeChar ?? '~';
    switch (e) {
      case 'help':
        for (const line of escapeHelp(esc)) this.notice(line);
        return;
      case 'disconnect':
        this.notice(`${esc}. [terminated solgate]`);
        v.detach();
        return;
      case 'break':
        this.notice(breakNotice(esc, v.sendBreak()));
        return;
      case 'who':
        for (const line of whoLines(v.who(), v.info.id)) this.notice(line);
        return;
      case 'take':
      case 'force': {
        if (v.info.writer) return this.notice('[solgate: you hold the write lock]');
        const ok = v.takeWrite(e === 'force');
        if (!ok) {
          const holder = v.who().find((i) => i.writer);
          this.notice(v.info.readOnly ? '[solgate: read-only viewer]' : `[solgate: the write lock is held by ${holder?.name ?? 'another viewer'}; ${esc}W takes it anyway]`);
        }
        return;
      }
      case 'release':
        if (!v.info.writer) return this.notice('[solgate: you do not hold the write lock]');
        v.releaseWrite();
        if (!v.info.writer) this.notice('[solgate: write lock released; read-only now]');
        return;
    }
  }

  private touch(): void {
    if (this.o.idleTimeoutMs <= 0 || this.viewer?.closed) return;
    if (this.idleTimer) {
      this.idleTimer.refresh();
      return;
    }
    this.idleTimer = setTimeout(() => {
      this.notice(`[solgate: no traffic for ${Math.round(this.o.idleTimeoutMs / 1000)} s; disconnecting]`);
      this.viewer.detach();
    }, this.o.idleTimeoutMs);
    this.idleTimer.unref();
  }

  private stopIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}

export function breakNotice(esc: string, r: SendBreakResult): string {
  switch (r) {
    case 'sent':
      return `${esc}B [send break]`;
    case 'not-writer':
      return '[solgate: only the write-lock holder can send a break]';
    case 'no-session':
      return '[solgate: no BMC session right now; no break sent]';
    case 'not-at-line-start':
      return '[solgate: this console can send a break only at the start of a line; no break sent]';
  }
}

export function whoLines(viewers: ViewerInfo[], me: string): string[] {
  const time = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return [
    `[solgate: ${viewers.length} attached]`,
    ...viewers.map((i) => `  ${i.writer ? '*' : ' '} ${i.name}${i.name !== i.address ? ` (${i.address})` : ''} ${i.via}${i.readOnly ? ' read-only' : ''} since ${time(i.attachedAt)}${i.id === me ? ' (you)' : ''}`),
    '  (* holds the write lock)',
  ];
}
