import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * What the proxy does to traffic right now:
 *  - pass:      forward both ways.
 *  - blackhole: a silent partition. Connections stay open (existing ones and new ones, which are
 *               accepted but never reach the target), every byte in either direction is dropped, nothing
 *               is closed. The peer at the far end (Redis) still sees the old connections in CLIENT LIST.
 *               A connection that lost bytes carries a broken stream, so when the blackhole ends it is
 *               reset (as TCP would eventually give up on it); connections that lost nothing carry on.
 *  - reset:     every connection is reset (RST) now, and new ones are reset as soon as they are accepted.
 *  - delay:     every chunk is forwarded `ms` later, order kept in each direction.
 */
export type FaultMode = { kind: 'pass' } | { kind: 'blackhole' } | { kind: 'reset' } | { kind: 'delay'; ms: number };

export interface FaultProxyStats {
  accepted: number;
  open: number;
  bytesForwarded: number;
  bytesDropped: number;
  resets: number;
}

interface Target {
  host: string;
  port: number;
}

/** One direction of one connection: a queue so that delayed chunks keep their order. */
class Lane {
  private readonly queue: { due: number; data: Buffer }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly to: () => Socket | undefined,
    private readonly onForward: (n: number) => void,
  ) {}

  push(data: Buffer, delayMs: number): void {
    this.queue.push({ due: performance.now() + delayMs, data });
    this.drain();
  }

  /** Drop what is still queued (blackhole, close); returns the bytes dropped. */
  clear(): number {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const n = this.queue.reduce((s, c) => s + c.data.length, 0);
    this.queue.length = 0;
    return n;
  }

  private drain(): void {
    if (this.timer) return;
    const now = performance.now();
    while (this.queue.length > 0 && this.queue[0].due <= now) {
      const c = this.queue.shift()!;
      const sock = this.to();
      if (sock && !sock.destroyed) {
        sock.write(c.data);
        this.onForward(c.data.length);
      }
    }
    if (this.queue.length > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.drain();
      }, Math.max(0, this.queue[0].due - now));
    }
  }
}

class ProxiedConnection {
  upstream: Socket | undefined;
  /** Lost bytes (blackhole): the stream is no longer usable once traffic flows again. */
  broken = false;
  closed = false;
  readonly toTarget: Lane;
  readonly toClient: Lane;

  constructor(
    readonly client: Socket,
    private readonly proxy: FaultProxy,
  ) {
    this.toTarget = new Lane(() => this.upstream, (n) => proxy.countForwarded(n));
    this.toClient = new Lane(() => this.client, (n) => proxy.countForwarded(n));
  }

  connectUpstream(target: Target): void {
    const up = createConnection({ host: target.host, port: target.port });
    this.upstream = up;
    up.setNoDelay(true);
    up.on('data', (d: Buffer) => this.fromTarget(d));
    // The target went away: the client sees the same thing (a reset when it was reset, else an end).
    up.on('error', () => this.reset());
    up.on('end', () => this.client.end());
    up.on('close', () => this.close());
  }

  fromClient(d: Buffer): void {
    const mode = this.proxy.mode;
    if (mode.kind === 'blackhole' || !this.upstream) return this.drop(d.length);
    this.toTarget.push(d, mode.kind === 'delay' ? mode.ms : 0);
  }

  fromTarget(d: Buffer): void {
    const mode = this.proxy.mode;
    if (mode.kind === 'blackhole') return this.drop(d.length);
    this.toClient.push(d, mode.kind === 'delay' ? mode.ms : 0);
  }

  private drop(n: number): void {
    this.broken = true;
    this.proxy.countDropped(n);
  }

  /** Blackhole begins: what is still queued is lost too. */
  dropQueued(): void {
    const n = this.toTarget.clear() + this.toClient.clear();
    if (n > 0) this.drop(n);
  }

  /** RST both ends. */
  reset(): void {
    if (this.closed) return;
    this.proxy.countReset();
    this.toTarget.clear();
    this.toClient.clear();
    if (!this.client.destroyed) this.client.resetAndDestroy();
    if (this.upstream && !this.upstream.destroyed) this.upstream.resetAndDestroy();
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.toTarget.clear();
    this.toClient.clear();
    this.client.destroy();
    this.upstream?.destroy();
    this.proxy.forget(this);
  }
}

/**
 * A fault-injecting TCP proxy on loopback, for chaos tests: put it between one process and a
 * service (a conductor and Redis) and switch its mode to partition, reset or slow that one link
 * while everything else (the conductor's own API and console ports) stays reachable. Owned by the
 * test: `close()` destroys every connection and the listening socket.
 */
export class FaultProxy {
  mode: FaultMode = { kind: 'pass' };
  private server: Server | undefined;
  private readonly conns = new Set<ProxiedConnection>();
  private readonly counters = { accepted: 0, bytesForwarded: 0, bytesDropped: 0, resets: 0 };
  port = 0;

  private constructor(
    readonly target: Target,
    readonly host: string,
  ) {}

  /** Listen on `host` (default 127.0.0.1) and a free port (or `port`), forwarding to `target`. */
  static async start(target: Target, opts: { host?: string; port?: number } = {}): Promise<FaultProxy> {
    const p = new FaultProxy(target, opts.host ?? '127.0.0.1');
    await p.listen(opts.port ?? 0);
    return p;
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** `redis://host:port` of the proxy, for SOLGATE_REDIS_URL. */
  get redisUrl(): string {
    return `redis://${this.address}`;
  }

  stats(): FaultProxyStats {
    return { ...this.counters, open: this.conns.size };
  }

  setMode(mode: FaultMode): void {
    const was = this.mode;
    this.mode = mode;
    if (mode.kind === 'reset') {
      for (const c of [...this.conns]) c.reset();
    } else if (mode.kind === 'blackhole') {
      for (const c of this.conns) c.dropQueued();
    } else if (was.kind === 'blackhole') {
      for (const c of [...this.conns]) if (c.broken || !c.upstream) c.reset();
    }
  }

  private listen(port: number): Promise<void> {
    const server = createServer({ allowHalfOpen: false }, (client) => this.accept(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: this.host, exclusive: true }, () => {
        server.off('error', reject);
        this.port = (server.address() as { port: number }).port;
        resolve();
      });
    });
  }

  private accept(client: Socket): void {
    this.counters.accepted++;
    client.setNoDelay(true);
    const c = new ProxiedConnection(client, this);
    this.conns.add(c);
    client.on('error', () => c.reset());
    client.on('end', () => c.upstream?.end());
    client.on('close', () => c.close());
    client.on('data', (d: Buffer) => c.fromClient(d));
    switch (this.mode.kind) {
      case 'reset':
        return c.reset();
      case 'blackhole':
        c.broken = true; // never reaches the target: reset when the partition heals
        return;
      case 'pass':
      case 'delay':
        c.connectUpstream(this.target);
    }
  }

  /** @internal bookkeeping for connections */
  countForwarded(n: number): void {
    this.counters.bytesForwarded += n;
  }
  /** @internal */
  countDropped(n: number): void {
    this.counters.bytesDropped += n;
  }
  /** @internal */
  countReset(): void {
    this.counters.resets++;
  }
  /** @internal */
  forget(c: ProxiedConnection): void {
    this.conns.delete(c);
  }

  /** Stop listening and destroy every connection (idempotent). */
  async close(): Promise<void> {
    for (const c of [...this.conns]) c.close();
    const server = this.server;
    this.server = undefined;
    // close() waits for every accepted connection to end; all are destroyed above, but do not hang on a straggler
    if (server) await new Promise<void>((r) => {
      const t = setTimeout(r, 2000);
      server.close(() => {
        clearTimeout(t);
        r();
      });
    });
  }
}
