import { EventEmitter } from 'node:events';
import { monotonicMs, sleep } from '#libs/common';
import { buildConsoleCommand, buildSocatArgv, type SocatListenSpec } from './argv.js';
import { SocatStartError } from './console-errors.js';
import { childrenOf, isAlive, signalGroup } from './proc.js';
import type { Launcher } from './launcher-pool.js';
import type { LaunchedProcess } from './process-launcher.js';

export interface SocatExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** What socat said last (an error reason when it failed). */
  lastLines: string[];
}

/**
 * One console's socat, owned by the conductor: started by the launcher in its own process group
 * with a parent-death signal, confirmed ready when socat reports it is listening (we must not
 * connect to find out: a connection would start a SOL session), stopped by killing the group.
 * Emits 'exit' (SocatExit) once, whether it died or was stopped.
 */
export class SocatConsoleProcess extends EventEmitter {
  private child: LaunchedProcess | undefined;
  private exited: SocatExit | undefined;
  private readonly lines: string[] = [];
  private listening = false;
  private stopping = false;
  /** socat's pid, from its own log line (the same as the launched pid, which is also the process group id). */
  socatPid: number | undefined;
  startedAtMs = 0;
  readyAtMs = 0;

  constructor(
    private readonly spec: SocatListenSpec,
    private readonly launcher: Launcher,
  ) {
    super();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return !!this.child && !this.exited;
  }

  get port(): number {
    return this.spec.port;
  }

  /** Spawn and wait until socat listens; rejects with a SocatStartError (after cleaning up) if it exits or times out first. */
  async start(timeoutMs: number): Promise<void> {
    const { command, args } = buildConsoleCommand(buildSocatArgv(this.spec));
    this.startedAtMs = monotonicMs();
    const peer = this.spec.peer;
    const child = this.launcher.spawn(command, args, 'exec' in peer ? peer.secret : undefined);
    this.child = child;
    let ready: () => void = () => {};
    const listening = new Promise<void>((resolve) => (ready = resolve));
    child.on('line', (line: string) => {
      this.lines.push(line);
      if (this.lines.length > 20) this.lines.shift();
      if (!this.listening && / listening on /.test(line)) {
        this.listening = true;
        this.readyAtMs = monotonicMs();
        this.socatPid = Number(/socat\[(\d+)\]/.exec(line)?.[1]) || undefined;
        ready();
      }
    });
    const exited = new Promise<SocatExit>((resolve) => {
      child.once('exit', ({ code, signal }: { code: number | null; signal: NodeJS.Signals | null }) => {
        this.exited = { code, signal, lastLines: [...this.lines] };
        resolve(this.exited);
        this.emit('exit', this.exited);
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const first = await Promise.race([listening.then(() => 'ready' as const), exited, timeout]);
    clearTimeout(timer);
    if (first === 'ready') return;
    if (first === 'timeout') {
      await this.stop(0);
      throw new SocatStartError('TIMEOUT', this.spec.port, `socat did not listen within ${timeoutMs} ms${this.reason()}`);
    }
    // socat says why in its last error line, e.g. "E bind(5, {AF=2 127.0.0.1:20000}, 16): Address already in use"
    const inUse = this.lines.some((l) => / E .*Address already in use/i.test(l));
    if (inUse)
      throw new SocatStartError('ADDRESS_IN_USE', this.spec.port, `console port ${this.spec.port} on ${this.spec.address} is in use by another program`);
    throw new SocatStartError('EXITED', this.spec.port, `socat exited before listening (${describeExit(first)})${this.reason()}`);
  }

  /** Whether a client is connected (socat has forked a per-connection child). */
  hasSession(): boolean {
    return this.socatPid !== undefined && childrenOf(this.socatPid).length > 0;
  }

  /**
   * Kill the whole group: SIGTERM to socat, its per-client children and their ipmitool (which
   * ignores TERM, sees the pty close, deactivates SOL and exits), SIGKILL to whatever is left after
   * `killTimeoutMs`. Resolves as soon as socat is gone — from then on nobody accepts a client or
   * starts a session for this console (watched in /proc: sooner than the launcher's exit message
   * under load) — while the last of the group gets its `killTimeoutMs` to leave cleanly.
   */
  async stop(killTimeoutMs: number): Promise<SocatExit> {
    this.stopping = true;
    const child = this.child;
    if (!child?.pid || this.exited) return this.exited ?? { code: null, signal: null, lastLines: [] };
    const pid = child.pid;
    const exited = new Promise<void>((resolve) => (this.exited ? resolve() : this.once('exit', () => resolve())));
    signalGroup(pid, 'SIGTERM');
    const hard = setTimeout(() => signalGroup(pid, 'SIGKILL'), killTimeoutMs);
    let watching = true;
    const gone = (async () => {
      while (watching && isAlive(pid)) await sleep(5);
    })();
    await Promise.race([exited, gone]);
    watching = false;
    // stragglers of the group (a session's ipmitool still deactivating) get the rest of the timeout
    hard.unref();
    return this.exited ?? { code: null, signal: 'SIGTERM', lastLines: [...this.lines] };
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** How it ended, once it has. */
  get exitInfo(): SocatExit | undefined {
    return this.exited;
  }

  private reason(): string {
    const errs = this.lines.filter((l) => / E /.test(l)).map((l) => l.replace(/^.*? E /, ''));
    return errs.length ? `: ${errs.slice(-2).join('; ')}` : '';
  }
}

export function describeExit(e: SocatExit): string {
  if (e.signal) return `killed by signal ${e.signal}`;
  return `exit status ${e.code}`;
}
