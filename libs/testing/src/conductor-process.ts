import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '#libs/common';
import { freeTcpPort, portBlockFor } from './ports.js';
import { isAlive } from './procs.js';
import { waitFor } from './wait.js';

export interface ConductorOptions {
  id: string;
  redisUrl: string;
  prefix: string;
  /** Loopback address for the API and consoles (127.0.0.1, 127.0.0.2, ...). */
  address?: string;
  apiPort?: number;
  /** Console ports (default: a block derived from the key prefix, the same for every conductor of a cluster). */
  portRange?: { start: number; stop: number };
  env?: Record<string, string>;
  /** Extra node options (e.g. ['--cpu-prof'] to profile a conductor). */
  nodeArgs?: string[];
  /** Append the conductor's log lines to this file instead of keeping them in memory. */
  logFile?: string;
  /** A command that execs the rest, run first (e.g. ['prlimit', '--nofile=1024:1024']). */
  launchPrefix?: string[];
  /** How long start() waits for /readyz (default 60 s: a loaded machine starts Node slowly). */
  readyTimeoutMs?: number;
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/**
 * A real conductor process started from the built tree (bin/solgate-conductor → dist/), as an
 * operator would run it. Logs are kept for the test to read (`logs`).
 */
export class ConductorProcess {
  child: ChildProcess | undefined;
  logs = '';
  readonly pidDir: string;
  readonly address: string;
  apiPort = 0;
  exitCode: number | null | undefined;
  exitSignal: NodeJS.Signals | null | undefined;

  constructor(readonly opts: ConductorOptions) {
    this.address = opts.address ?? '127.0.0.1';
    // tmpfs, as the conductor's own default (fast, and secrets never touch a disk)
    this.pidDir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), `solgate-pid-${opts.id}-`));
  }

  static async start(opts: ConductorOptions): Promise<ConductorProcess> {
    const c = new ConductorProcess(opts);
    await c.start();
    return c;
  }

  get apiUrl() {
    return `http://${this.address}:${this.apiPort}`;
  }

  get pid() {
    return this.child?.pid;
  }

  env(): Record<string, string> {
    const o = this.opts;
    return {
      SOLGATE_REDIS_URL: o.redisUrl,
      SOLGATE_KEY_PREFIX: o.prefix,
      SOLGATE_CONDUCTOR_ID: o.id,
      SOLGATE_API_HOST: this.address,
      SOLGATE_API_PORT: String(this.apiPort),
      SOLGATE_SOCAT_ADDRESS: this.address,
      SOLGATE_PORT_RANGE: `${(o.portRange ?? portBlockFor(o.prefix)).start}:${(o.portRange ?? portBlockFor(o.prefix)).stop}`,
      SOLGATE_TERMINAL_PID_DIR: this.pidDir,
      SOLGATE_LOG_LEVEL: 'debug',
      ...o.env,
    };
  }

  async start(): Promise<void> {
    const bin = join(packageRoot(), 'bin', 'solgate-conductor');
    if (!existsSync(join(packageRoot(), 'dist', 'apps', 'conductor', 'src', 'main.js')))
      throw new Error('dist/ is missing: run `npm run build` before the integration tests');
    this.apiPort ||= this.opts.apiPort ?? (await freeTcpPort(this.address));
    this.logs = '';
    this.exitCode = this.exitSignal = undefined;
    // setpriv: the conductor dies with the test (or benchmark) process that started it, whatever ends it
    const argv = ['setpriv', '--pdeathsig', 'KILL', '--', process.execPath, ...(this.opts.nodeArgs ?? []), bin];
    const [command, ...args] = [...(this.opts.launchPrefix ?? []), ...argv];
    const child = spawn(command, args, { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...this.env() }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const sink = this.opts.logFile ? createWriteStream(this.opts.logFile, { flags: 'a' }) : undefined;
    for (const stream of [child.stdout!, child.stderr!]) {
      if (sink) stream.pipe(sink, { end: false });
      else stream.on('data', (d) => (this.logs += d));
    }
    child.on('exit', (code, signal) => {
      this.exitCode = code;
      this.exitSignal = signal;
    });
    // one log file stream per start: closed once the process's output has ended
    if (sink) child.on('close', () => sink.end());
    await waitFor(
      async () => {
        if (this.exitCode !== undefined) return true; // reported below, at once
        const r = await fetch(`${this.apiUrl}/readyz`).catch(() => undefined);
        return r?.status === 200;
      },
      // generous by default: a loaded CI box starts Node slowly
      { timeoutMs: this.opts.readyTimeoutMs ?? 60_000, intervalMs: 25, what: `conductor ${this.opts.id} to become ready` },
    );
    if (this.exitCode !== undefined) throw new Error(`conductor ${this.opts.id} exited (${this.exitCode ?? this.exitSignal}):\n${this.logs.slice(-3000)}`);
  }

  /** Ironic API call with python-ironicclient's microversion. */
  async api<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const r = await fetch(`${this.apiUrl}${path}`, {
      method,
      headers: { 'X-OpenStack-Ironic-API-Version': '1.78', ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await r.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: r.status, headers: r.headers, body: parsed as T, text };
  }

  /** Graceful stop (SIGTERM); resolves with the exit code. */
  async stop(timeoutMs = 15_000): Promise<number | null> {
    const child = this.child;
    if (!child?.pid || this.exitCode !== undefined) return this.exitCode ?? null;
    child.kill('SIGTERM');
    await waitFor(() => this.exitCode !== undefined, { timeoutMs, what: `conductor ${this.opts.id} to exit after SIGTERM` });
    return this.exitCode ?? null;
  }

  /** A crash. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    child.kill('SIGKILL');
    await waitFor(() => this.exitCode !== undefined && !isAlive(child.pid!), { timeoutMs: 15_000, what: 'conductor to die' });
  }

  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** Stop (if running) and remove its pid directory. */
  async dispose(): Promise<void> {
    if (this.child?.pid && this.exitCode === undefined) {
      this.resume();
      await this.stop().catch(async () => this.kill9());
    }
    rmSync(this.pidDir, { recursive: true, force: true });
  }
}
