import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { Redis } from 'ioredis';
import { freeTcpPort } from './ports.js';
import { isAlive } from './procs.js';
import { waitFor } from './wait.js';

export interface RedisServerOptions {
  /** Append-only file persistence (survives kill + restart). */
  appendonly?: boolean;
  port?: number;
  /** Extra redis-server arguments, e.g. ['--replicaof', '127.0.0.1', '6379']. */
  args?: string[];
}

/**
 * A real redis-server on a free loopback port, owned by the test: `stop()` shuts it down and removes
 * its data directory; `kill()` + `start()` simulate a crash and restart on the same port and data.
 */
export class RedisServer {
  private child: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'solgate-redis-'));
  port = 0;

  constructor(private readonly opts: RedisServerOptions = {}) {}

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid() {
    return this.child?.pid;
  }

  static async start(opts: RedisServerOptions = {}): Promise<RedisServer> {
    const s = new RedisServer(opts);
    await s.start();
    return s;
  }

  /** Start (again); `extraArgs` replaces the options' `args` for this start (e.g. [] to drop --replicaof). */
  async start(extraArgs: string[] = this.opts.args ?? []): Promise<void> {
    if (!this.port) this.port = this.opts.port ?? (await freeTcpPort());
    const args = [
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--dir', this.dir,
      '--save', '',
      '--appendonly', this.opts.appendonly ? 'yes' : 'no',
      '--appendfsync', 'always',
      '--daemonize', 'no',
      '--loglevel', 'warning',
      '--logfile', join(this.dir, 'redis.log'),
      ...extraArgs,
    ];
    // setpriv: the kernel kills redis if the test process dies first, so nothing outlives a run.
    this.child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'redis-server', ...args], { stdio: 'ignore' });
    const child = this.child;
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
        return (await rawPing(this.port)) && (await rawCommand(this.port, 'INFO persistence\r\n')).includes('loading:0');
      },
      { timeoutMs: 30_000, what: `redis-server on port ${this.port}` },
    );
  }

  /** SIGKILL, as a crash. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    child.kill('SIGKILL');
    await waitFor(() => !isAlive(child.pid!), { timeoutMs: 15_000, what: 'redis-server to die' });
    this.child = undefined;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A fresh client for assertions; the caller disconnects it. */
  client(): Redis {
    return new Redis({ port: this.port, host: '127.0.0.1' });
  }
}

/** One inline command over a raw socket (no client library, so no reconnect timers linger). */
function rawCommand(port: number, command: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = createConnection({ port, host: '127.0.0.1' });
    let buf = '';
    const timer = setTimeout(() => finish(), 1000);
    function finish() {
      clearTimeout(timer);
      sock.destroy();
      resolve(buf);
    }
    sock.on('connect', () => sock.write(command));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.startsWith('+') || buf.startsWith('-') || (buf.startsWith('$') && buf.endsWith('\r\n') && buf.split('\r\n').length > 2)) finish();
    });
    sock.on('error', () => finish());
  });
}

const rawPing = async (port: number) => (await rawCommand(port, 'PING\r\n')).startsWith('+PONG');
