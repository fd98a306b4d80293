import { chmod, rm, stat } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { errorMessage } from '#libs/common';
import { describeSession, ESCAPE_HELP, EscapeSequenceParser, isIpmiError, type IpmiError, type IpmiSessionOptions } from '#libs/ipmi';
import type { Logger } from '#libs/logging';

/**
 * The in-process half of `native-ipmi-socat`: a per-node UNIX socket server in the conductor's pid
 * directory. socat owns the TCP port Nova connects to and relays each client here
 * (`UNIX-CONNECT:<pid dir>/<uuid>.sock`); for each connection the bridge checks the conductor's
 * lease, opens an IPMI session (libs/ipmi), activates SOL (kicking a session a vanished client left
 * behind, as `sol deactivate` does for ipmitool) and pipes bytes both ways. When the client goes, SOL
 * is deactivated and the session closed at once, so an immediate reconnect works; when the BMC ends
 * SOL, the client is disconnected. One SOL session per node at a time.
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
}

export type SolSessionOpener = (target: IpmiSessionOptions) => Promise<SolSession>;

export interface SolBridgeOptions {
  uuid: string;
  socketPath: string;
  /** Connection parameters, password included (never logged: see describeSession). */
  target: IpmiSessionOptions;
  /** The conductor's lease: no SOL session may start (or go on) without it. */
  leaseValid: () => boolean;
  open: SolSessionOpener;
  log: Logger;
  /** A connection failed or the BMC ended SOL (the listener itself is fine). */
  onSessionError?: (uuid: string, message: string) => void;
  /** How long close() waits for a session to end on the BMC before leaving it to finish alone. */
  closeTimeoutMs?: number;
}

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

type Phase = 'waiting' | 'opening' | 'active' | 'closing' | 'closed';

/** Keystrokes kept while the session is being set up (beyond this they are dropped). */
const MAX_EARLY_INPUT_BYTES = 64 * 1024;

/** One client connection (socat's per-connection child) and the SOL session it holds. */
class SolConnection {
  phase: Phase = 'waiting';
  private session: SolSession | undefined;
  private sol: SolStream | undefined;
  /** The open or activation in progress: stop() waits for it, then closes what it produced. */
  private inFlight: Promise<unknown> | undefined;
  private early: Buffer[] = [];
  private earlyBytes = 0;
  private readonly parser = new EscapeSequenceParser('~');
  private resolveDone!: () => void;
  /** Resolves once the client is gone and the session is closed on the BMC. */
  readonly done = new Promise<void>((r) => (this.resolveDone = r));
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly bridge: SolBridge,
    private readonly sock: Socket,
    private readonly o: SolBridgeOptions,
  ) {
    sock.on('error', () => undefined);
    // Read from the start (a paused socket would not notice the client leaving); keep early keystrokes.
    sock.on('data', (chunk: Buffer) => {
      if (this.phase === 'active') this.fromClient(chunk);
      else if ((this.phase === 'waiting' || this.phase === 'opening') && this.earlyBytes + chunk.length <= MAX_EARLY_INPUT_BYTES) {
        this.early.push(chunk);
        this.earlyBytes += chunk.length;
      }
    });
    sock.on('close', () => void this.stop());
  }

  /** Wait for the previous connection to be over, then open the session and bridge. */
  async run(previous: Promise<void> | undefined): Promise<void> {
    const { o } = this;
    if (previous) await previous;
    if (this.phase !== 'waiting') return;
    if (!o.leaseValid()) return this.refuse();
    this.phase = 'opening';
    const target = this.bridge.target;
    const where = describeSession(target);
    let session: SolSession;
    try {
      session = await this.track(o.open(target).then((s) => (this.session = s)));
    } catch (e) {
      return this.fail('open', e, where);
    }
    if (this.phase !== 'opening') return; // the client left; stop() closes the session
    // The lease may have lapsed while the handshake ran: check again right before activation.
    if (!o.leaseValid()) return this.refuse();
    let sol: SolStream;
    try {
      sol = await this.track(session.activateSol({ forceDeactivate: true }).then((s) => (this.sol = s)));
    } catch (e) {
      return this.fail('activate', e, where);
    }
    sol.on('error', () => undefined);
    if (this.phase !== 'opening') return;
    this.phase = 'active';
    o.log.info({ node: o.uuid, bmc: where }, 'SOL session started');
    this.sock.write(SOL_BANNER);
    sol.on('data', (d: Buffer) => {
      if (!this.sock.destroyed) this.sock.write(d);
    });
    sol.on('close', () => {
      if (this.phase !== 'active') return;
      const reason = sol.closeReason;
      if (reason) {
        o.log.warn({ node: o.uuid, bmc: where, code: reason.code, err: reason.message }, 'SOL session closed by BMC');
        o.onSessionError?.(o.uuid, sessionErrorMessage('ended', reason));
        this.sock.end(`\r\n[SOL session closed by BMC: ${reason.message} (${reason.code})]\r\n`);
      } else {
        this.sock.end('\r\n[SOL session closed]\r\n');
      }
      void this.stop();
    });
    const early = this.early;
    this.early = [];
    for (const chunk of early) this.fromClient(chunk);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight = p;
    return p;
  }

  /** Keystrokes from the client, through ipmitool's escapes (~. ends the session, ~B sends a break). */
  private fromClient(chunk: Buffer): void {
    const sol = this.sol;
    if (!sol || this.phase !== 'active') return;
    if (!this.o.leaseValid()) {
      // a conductor paused past its lease must not type into a console it may no longer own
      this.sock.end(`\r\n${STALE_LISTENER_MESSAGE}`);
      void this.stop();
      return;
    }
    for (const a of this.parser.feed(chunk)) {
      if (a.type === 'data') {
        if (!sol.write(a.data)) {
          this.sock.pause();
          sol.once('drain', () => this.sock.resume());
        }
      } else if (a.type === 'break') {
        this.sock.write('~B [send break]\r\n');
        sol.sendBreak();
      } else if (a.type === 'help') {
        this.sock.write(ESCAPE_HELP('~'));
      } else {
        this.sock.end('~. [terminated solgate]\r\n');
        void this.stop();
        return;
      }
    }
  }

  private refuse(): void {
    this.o.log.warn({ node: this.o.uuid }, 'console connection refused: this conductor’s lease is not valid');
    this.sock.end(STALE_LISTENER_MESSAGE);
    void this.stop();
  }

  private fail(stage: 'open' | 'activate', e: unknown, where: string): void {
    if (this.phase === 'opening') this.sock.end(sessionFailureLine(stage, e));
    const message = sessionErrorMessage(stage, e);
    this.o.log.warn({ node: this.o.uuid, bmc: where, code: isIpmiError(e) ? e.code : undefined, err: errorMessage(e) }, 'SOL session failed');
    this.o.onSessionError?.(this.o.uuid, message);
    void this.stop();
  }

  /** End the client connection and the SOL session (deactivate + close). Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const wasActive = this.phase === 'active';
      this.phase = 'closing';
      if (!this.sock.destroyed) {
        if (!this.sock.writableEnded) this.sock.end();
        // let a last message leave, then make sure the client is gone
        setTimeout(() => this.sock.destroy(), 200).unref();
      }
      await this.inFlight?.then(
        () => undefined,
        () => undefined,
      );
      await this.session?.close().catch(() => undefined);
      if (wasActive) this.o.log.info({ node: this.o.uuid }, 'SOL session ended');
      this.phase = 'closed';
      this.resolveDone();
    })();
    return this.stopping;
  }
}

/**
 * The UNIX socket server of one node. `listen()` (re)creates the socket file (0600), `close()` ends
 * the current session and removes it.
 */
export class SolBridge {
  private server: Server | undefined;
  private current: SolConnection | undefined;
  private closed = false;
  private inode: number | undefined;
  target: IpmiSessionOptions;

  constructor(private readonly o: SolBridgeOptions) {
    this.target = o.target;
  }

  get socketPath(): string {
    return this.o.socketPath;
  }

  /** Connection parameters for the next sessions (driver_info may have changed). */
  retarget(target: IpmiSessionOptions): void {
    this.target = target;
  }

  async listen(): Promise<void> {
    if (this.closed) throw new Error('SOL bridge is closed');
    await rm(this.o.socketPath, { force: true }); // a stale socket file (earlier run) blocks listen()
    const server = createServer({ allowHalfOpen: false }, (sock) => this.onConnection(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.o.log.warn({ node: this.o.uuid, err: errorMessage(e) }, 'SOL bridge socket error'));
    this.server = server;
    await chmod(this.o.socketPath, 0o600);
    this.inode = (await stat(this.o.socketPath)).ino;
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
    // One SOL session per node: a new connection waits until the previous one is completely over
    // (socat's max-children=1 already serializes clients; its child may exit a moment before our
    // side has deactivated SOL). A previous connection still open is ended: the newest client wins,
    // as with ipmitool's `sol deactivate` before every activation.
    const previous = this.current;
    const conn = new SolConnection(this, sock, this.o);
    this.current = conn;
    if (previous && previous.phase !== 'closed') void previous.stop();
    void conn.run(previous?.done).catch((e) => {
      this.o.log.warn({ node: this.o.uuid, err: errorMessage(e) }, 'SOL bridge connection failed');
      void conn.stop();
    });
  }

  /** Stop listening, end the session (bounded wait), remove the socket file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const server = this.server;
    this.server = undefined;
    server?.close();
    const conn = this.current;
    if (conn) {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((r) => (timer = setTimeout(r, this.o.closeTimeoutMs ?? 3000)));
      await Promise.race([conn.stop(), bound]);
      clearTimeout(timer);
    }
    // Only remove the file if it is still ours (a new bridge for this node may have replaced it).
    try {
      if (this.inode !== undefined && (await stat(this.o.socketPath)).ino === this.inode) await rm(this.o.socketPath, { force: true });
    } catch {
      /* already gone */
    }
  }
}
