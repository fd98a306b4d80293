import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '#libs/common';
import { isAlive } from './procs.js';
import { waitFor } from './wait.js';

/** One BMC as `GET /bmcs` of the simulator's control endpoint reports it. */
export interface SimBmcSummary {
  index: number;
  name: string;
  port: number;
  power: 'on' | 'off';
  activeSessions: number;
  solOwner: { bmcSessionId: number; consoleSessionId: number; remote: string } | null;
  solActivations: number;
  solActivationsRefused: number;
  maxConcurrentSolSessions: number;
  receivedBytes: number;
  unresponsive: boolean;
}

export interface SimSolActivation {
  bmcSessionId: number;
  consoleSessionId: number;
  remote: string;
  user: string;
  activatedAt: number;
  deactivatedAt: number | null;
  endReason: 'deactivated' | 'taken-over' | 'session-closed' | 'session-timeout' | 'bmc-stopped' | null;
  /** taken-over: the session that deactivated it. */
  takenOverBy?: { remote: string; sessionOpenedAt: number; user: string };
}

export interface SimBmcDetail extends SimBmcSummary {
  solHistory: SimSolActivation[];
  received: string;
  sessionsOpened: number;
  packetsDropped: number;
}

export interface FleetSimOptions {
  count: number;
  user?: string;
  password?: string;
  /** Idle IPMI session timeout at the BMCs (a session a killed client left behind lasts this long). */
  sessionTimeoutMs?: number;
  namePrefix?: string;
}

/**
 * The fleet BMC simulator (`bin/solgate-bmc-sim`) as its own process, as an operator would run it:
 * hundreds of IPMI 2.0 BMCs with SOL, and its HTTP control endpoint, through which tests read what
 * every BMC saw (each SOL activation, refusals, the most sessions that ever overlapped). It dies with
 * the test process (parent-death signal); `stop()` ends it.
 */
export class FleetSimProcess {
  bmcs: { index: number; name: string; port: number }[] = [];
  control = '';
  private child: ChildProcess | undefined;

  private constructor(readonly opts: FleetSimOptions) {}

  get user(): string {
    return this.opts.user ?? 'admin';
  }

  get password(): string {
    return this.opts.password ?? 'password';
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  static async start(opts: FleetSimOptions): Promise<FleetSimProcess> {
    const f = new FleetSimProcess(opts);
    try {
      await f.start();
    } catch (e) {
      await f.stop();
      throw e;
    }
    return f;
  }

  private async start(): Promise<void> {
    const o = this.opts;
    const args = [
      '--pdeathsig', 'KILL', '--',
      process.execPath, join(packageRoot(), 'bin', 'solgate-bmc-sim'),
      '--count', String(o.count),
      '--user', this.user,
      '--password', this.password,
      '--session-timeout-ms', String(o.sessionTimeoutMs ?? 60_000),
      '--name-prefix', o.namePrefix ?? 'sim',
      '--control-port', '0',
    ];
    const child = spawn('setpriv', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`solgate-bmc-sim exited with ${child.exitCode}: ${err}`);
        return out.split('\n').includes('ready');
      },
      { timeoutMs: 30_000, intervalMs: 20, what: 'solgate-bmc-sim to print ready' },
    );
    for (const line of out.split('\n')) {
      if (!line.startsWith('{')) continue;
      const j = JSON.parse(line) as { index?: number; name?: string; port?: number; control?: string };
      if (j.control) this.control = j.control;
      else this.bmcs.push({ index: j.index!, name: j.name!, port: j.port! });
    }
    if (!this.control || this.bmcs.length !== o.count) throw new Error('solgate-bmc-sim did not describe its BMCs and control endpoint');
  }

  /** driver_info for a node whose BMC is the simulator's BMC `index` (1-based). */
  driverInfo(index: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
    const b = this.bmcs[index - 1];
    return { ipmi_address: '127.0.0.1', ipmi_port: b.port, ipmi_username: this.user, ipmi_password: this.password, ...extra };
  }

  private async get<T>(path: string): Promise<T> {
    const r = await fetch(`${this.control}${path}`, { signal: AbortSignal.timeout(10_000) });
    if (!r.ok) throw new Error(`solgate-bmc-sim ${path}: ${r.status}`);
    return (await r.json()) as T;
  }

  summary(): Promise<SimBmcSummary[]> {
    return this.get('/bmcs');
  }

  detail(index: number): Promise<SimBmcDetail> {
    return this.get(`/bmcs/${index}`);
  }

  async print(index: number, text: string): Promise<void> {
    await fetch(`${this.control}/bmcs/${index}/print`, { method: 'POST', body: text, signal: AbortSignal.timeout(10_000) });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    this.child = undefined;
    if (child.exitCode === null) child.kill('SIGTERM');
    await waitFor(() => !isAlive(child.pid!), { timeoutMs: 5000, what: 'solgate-bmc-sim to exit' }).catch(() => child.kill('SIGKILL'));
  }
}
