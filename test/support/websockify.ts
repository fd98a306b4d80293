import { spawn, type ChildProcess } from 'node:child_process';
import WebSocket from 'ws';
import { freeTcpPort, tcpAccepts } from './ports.js';
import { isAlive } from './procs.js';
import { waitFor } from './wait.js';

/**
 * Debian's `websockify` (the library nova-serialproxy is built on) in front of a console: a
 * WebSocket on a free local port proxied to tcp://host:port, as nova-serialproxy proxies a token's
 * host and port. Owned by the test: it dies with the test process (setpriv) and on stop().
 */
export class Websockify {
  private child: ChildProcess | undefined;
  output = '';
  port = 0;

  private constructor(
    readonly targetHost: string,
    readonly targetPort: number,
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<Websockify> {
    const w = new Websockify(targetHost, targetPort);
    await w.start();
    return w;
  }

  get url() {
    return `ws://127.0.0.1:${this.port}/`;
  }

  private async start(): Promise<void> {
    this.port = await freeTcpPort();
    this.child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'websockify', `127.0.0.1:${this.port}`, `${this.targetHost}:${this.targetPort}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    const child = this.child;
    await waitFor(() => child.exitCode === null && tcpAccepts(this.port), { timeoutMs: 10_000, intervalMs: 50, what: `websockify on ${this.port} (${this.output})` });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child?.pid || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (isAlive(child.pid)) {
      child.kill('SIGKILL');
      await exited;
    }
  }
}

/** A WebSocket console client as nova-serialproxy's browser side is: binary frames both ways. */
export class WsConsoleClient {
  received = '';
  closed = false;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => (this.received += data.toString('latin1')));
    ws.on('close', () => (this.closed = true));
    ws.on('error', () => {});
  }

  static connect(url: string, timeoutMs = 5000): Promise<WsConsoleClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, ['binary'], { handshakeTimeout: timeoutMs });
      ws.once('open', () => resolve(new WsConsoleClient(ws)));
      ws.once('error', reject);
    });
  }

  write(text: string): void {
    this.ws.send(Buffer.from(text, 'latin1'));
  }

  async waitFor(text: string, timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.received.includes(text), { timeoutMs, intervalMs: 10, what: `WebSocket client to see ${JSON.stringify(text)} (got ${JSON.stringify(this.received.slice(-200))})` });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close();
      setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, 1000).unref();
    });
  }
}
