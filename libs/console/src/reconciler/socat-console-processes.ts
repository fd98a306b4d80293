import { availableParallelism } from 'node:os';
import type { ConsoleInterface, NodeRecord } from '#libs/nodes';
import type { ConsoleDriver, ConsoleStopReason } from '../console-driver.js';
import type { PidDirectory } from '../pid-dir.js';
import { ProcessLauncher } from '../process-launcher.js';
import { describeExit, SocatConsoleProcess } from '../socat-console.process.js';
import type { ConsoleProcesses, RunningConsole } from './ports.js';

export interface SocatConsoleOptions {
  socatAddress: string;
  terminalTimeoutS: number;
  subprocessTimeoutMs: number;
  /** Launcher processes (default: one per CPU, at most 4). */
  launchers?: number;
}

/**
 * Console processes for real: the node's driver prepares the per-client command, socat listens on
 * the node's port (started by a launcher, its own process group, a parent-death signal), and after
 * it is gone the driver cleans up. Owns the launchers: a launcher forks one console at a time (a few
 * ms each), so a takeover of a thousand consoles spreads them over one launcher per CPU; each is
 * started on its first console.
 */
export class SocatConsoleProcesses implements ConsoleProcesses {
  private readonly launchers: ProcessLauncher[];
  private next = 0;

  constructor(
    private readonly opts: SocatConsoleOptions,
    private readonly pidDir: PidDirectory,
    private readonly drivers: ReadonlyMap<ConsoleInterface, ConsoleDriver>,
  ) {
    const count = opts.launchers ?? Math.max(1, Math.min(4, availableParallelism()));
    this.launchers = Array.from({ length: count }, () => new ProcessLauncher());
  }

  async start(node: NodeRecord, port: number, { restart }: { restart: boolean }): Promise<RunningConsole> {
    const driver = this.drivers.get(node.console_interface);
    if (!driver) throw new Error(`no console driver for ${node.console_interface}`);
    const peer = await driver.prepare(node);
    if (restart) await this.pidDir.removeLock(node.uuid); // a socat killed by SIGKILL leaves its -L lock file behind
    const proc = new SocatConsoleProcess(
      { address: this.opts.socatAddress, port, pidFile: this.pidDir.pidFile(node.uuid), terminalTimeoutS: this.opts.terminalTimeoutS, peer },
      this.launchers[this.next++ % this.launchers.length],
    );
    await proc.start(this.opts.subprocessTimeoutMs);
    return new RunningSocat(proc);
  }

  async cleanup(node: NodeRecord, opts: { sessionWasActive: boolean; reason: ConsoleStopReason }): Promise<void> {
    const driver = this.drivers.get(node.console_interface);
    await (driver ? driver.cleanup(node, opts) : this.pidDir.removeNodeFiles(node.uuid));
  }

  /** After every console was stopped. */
  close(): void {
    for (const l of this.launchers) l.close();
  }
}

class RunningSocat implements RunningConsole {
  constructor(private readonly proc: SocatConsoleProcess) {}

  get pid() {
    return this.proc.socatPid ?? this.proc.pid;
  }
  get startedAtMs() {
    return this.proc.startedAtMs;
  }
  get readyAtMs() {
    return this.proc.readyAtMs;
  }

  hasSession(): boolean {
    return this.proc.hasSession();
  }

  async stop(killTimeoutMs: number): Promise<void> {
    await this.proc.stop(killTimeoutMs);
  }

  onUnexpectedExit(listener: (description: string) => void): void {
    const fire = (exit: Parameters<typeof describeExit>[0]) => {
      if (!this.proc.isStopping) listener(describeExit(exit));
    };
    if (!this.proc.running && this.proc.exitInfo) setImmediate(() => fire(this.proc.exitInfo!));
    else this.proc.once('exit', fire);
  }
}
