import type { ConsoleInterface, NodeRecord } from '#libs/nodes';
import type { ConsoleTlsFiles } from '../argv.js';
import type { CompanionProcess, ConsoleDriver, ConsoleStopReason } from '../console-driver.js';
import type { PidDirectory } from '../pid-dir.js';
import { LauncherPool } from '../launcher-pool.js';
import { describeExit, SocatConsoleProcess } from '../socat-console.process.js';
import type { ConsoleProcesses, RunningConsole } from './ports.js';

export interface SocatConsoleOptions {
  socatAddress: string;
  terminalTimeoutS: number;
  /** TLS on console ports (SOLGATE_CONSOLE_TLS_*); undefined = plain TCP. */
  consoleTls?: ConsoleTlsFiles;
  subprocessTimeoutMs: number;
  /**
   * The conductor's launcher pool, shared with the ipmitool-socat brokers; its owner closes it.
   * Without one, these console processes make and close their own (one launcher per CPU, at most 4).
   */
  launchers?: LauncherPool;
}

/**
 * Console processes for real: the node's driver prepares the per-client command, socat listens on
 * the node's port (started by a launcher, its own process group, a parent-death signal), and after
 * it is gone the driver cleans up. socat is started through the launcher pool (launcher-pool.ts): a
 * launcher forks one console at a time (a few ms each), so a takeover of a thousand consoles spreads
 * them over one launcher per CPU.
 */
export class SocatConsoleProcesses implements ConsoleProcesses {
  private readonly launchers: LauncherPool;
  private readonly ownsLaunchers: boolean;

  constructor(
    private readonly opts: SocatConsoleOptions,
    private readonly pidDir: PidDirectory,
    private readonly drivers: ReadonlyMap<ConsoleInterface, ConsoleDriver>,
  ) {
    this.ownsLaunchers = !opts.launchers;
    this.launchers = opts.launchers ?? new LauncherPool();
  }

  async start(node: NodeRecord, port: number, { restart }: { restart: boolean }): Promise<RunningConsole> {
    const driver = this.drivers.get(node.console_interface);
    if (!driver) throw new Error(`no console driver for ${node.console_interface}`);
    const peer = await driver.prepare(node);
    if (restart) await this.pidDir.removeLock(node.uuid); // a socat killed by SIGKILL leaves its -L lock file behind
    const proc = new SocatConsoleProcess(
      { address: this.opts.socatAddress, port, pidFile: this.pidDir.pidFile(node.uuid), terminalTimeoutS: this.opts.terminalTimeoutS, peer, tls: this.opts.consoleTls },
      this.launchers,
    );
    await proc.start(this.opts.subprocessTimeoutMs);
    return new RunningSocat(proc, driver.companion?.(node.uuid), driver.urlScheme);
  }

  async cleanup(node: NodeRecord, opts: { sessionWasActive: boolean; reason: ConsoleStopReason }): Promise<void> {
    const driver = this.drivers.get(node.console_interface);
    await (driver ? driver.cleanup(node, opts) : this.pidDir.removeNodeFiles(node.uuid));
  }

  /** After every console was stopped (a shared pool is closed by its owner, after the brokers). */
  close(): void {
    if (this.ownsLaunchers) this.launchers.close();
  }
}

class RunningSocat implements RunningConsole {
  private fired = false;

  constructor(
    private readonly proc: SocatConsoleProcess,
    private readonly companionProcess?: CompanionProcess,
    readonly scheme?: string,
  ) {}

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
      if (this.fired || this.proc.isStopping) return;
      this.fired = true;
      listener(describeExit(exit));
    };
    if (!this.proc.running && this.proc.exitInfo) setImmediate(() => fire(this.proc.exitInfo!));
    else this.proc.once('exit', fire);
    // the companion died: socat goes too (it would connect clients to nothing), then the restart
    this.companionProcess?.onUnexpectedExit((description) => {
      if (this.fired || this.proc.isStopping) return;
      this.fired = true;
      void this.proc.stop(0).finally(() => listener(description));
    });
  }
}
