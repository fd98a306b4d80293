import { spawn } from 'node:child_process';
import { errorMessage } from '#libs/common';
import type { ConsoleInterface, NodeRecord } from '#libs/nodes';
import { buildIpmitoolArgv, ipmitoolTarget, PASSWORD_FD, passwordFileContent, type InheritedSecret } from './argv.js';
import { BrokeredConsoleDriver, type BrokerContext } from './broker/brokered-console.driver.js';
import { openIpmitoolSolLink } from './broker/ipmitool-sol-link.js';
import type { SolLinkOpener } from './broker/ports.js';
import { childProcessEnv } from './child-env.js';
import type { Launcher } from './launcher-pool.js';

export interface IpmitoolSocatOptions {
  /** Starts the node's one ipmitool (through socat and sol-session.sh) off the conductor's heap: the conductor's launcher pool. */
  launcher: Launcher;
  ipmitool?: string;
  /** How long activation may take; default 15 s (ipmitool retries a silent BMC). */
  openTimeoutMs?: number;
  /** How long stopping waits for ipmitool to deactivate before killing it; default 3 s. */
  closeTimeoutMs?: number;
}

/**
 * `ipmitool-socat` (Ironic's IPMISocatConsole), brokered: socat relays every client to the node's
 * console broker, which runs ONE `ipmitool … sol activate` for the node (broker/ipmitool-sol-link.ts)
 * and fans it out. The ipmitool command line is written to `<uuid>.argv` (behind `stdbuf -oL`, so
 * ipmitool flushes what it prints at once); the password never lies in a file: the launcher hands it
 * to the session's socat as an unlinked file on fd 3, and `-f <uuid>.pw` is a link to /proc/self/fd/3.
 * sol-session.sh checks the lease and clears a stale SOL session before every activation.
 */
export class IpmitoolSocatConsole extends BrokeredConsoleDriver {
  readonly name: ConsoleInterface = 'ipmitool-socat';
  private readonly ipmitool: string;

  constructor(
    ctx: BrokerContext,
    private readonly opts: IpmitoolSocatOptions,
  ) {
    super(ctx);
    this.ipmitool = opts.ipmitool ?? 'ipmitool';
  }

  protected validate(node: NodeRecord): void {
    ipmitoolTarget(node.driver_info);
  }

  protected override async beforeServe(node: NodeRecord): Promise<void> {
    await this.writeFiles(node);
  }

  private async writeFiles(node: NodeRecord): Promise<void> {
    const pidDir = this.ctx.pidDir;
    const argv = ['stdbuf', '-oL', ...buildIpmitoolArgv(ipmitoolTarget(node.driver_info), pidDir.passwordFile(node.uuid), this.ipmitool)];
    await Promise.all([pidDir.linkPasswordFile(node.uuid), pidDir.writePrivate(pidDir.argvFile(node.uuid), argv.join('\n') + '\n')]);
  }

  /** The BMC password as the session's inherited fd 3 (see PASSWORD_FD in argv.ts). */
  private secretOf(node: NodeRecord): InheritedSecret {
    return { path: this.ctx.pidDir.secretPath(node.uuid), content: passwordFileContent(node.driver_info.ipmi_password) };
  }

  protected opener(uuid: string, current: () => NodeRecord): SolLinkOpener {
    return async () => {
      const node = current();
      await this.writeFiles(node); // the files may have been removed by a restart in between
      return openIpmitoolSolLink({
        uuid,
        socketPath: this.ctx.pidDir.solSocketPath(uuid),
        solSession: { script: this.ctx.pidDir.solSessionScript, leaseFile: this.ctx.pidDir.leaseFile, argvFile: this.ctx.pidDir.argvFile(uuid) },
        launcher: this.opts.launcher,
        secret: this.secretOf(node),
        openTimeoutMs: this.opts.openTimeoutMs ?? 15_000,
        closeTimeoutMs: this.opts.closeTimeoutMs ?? 3000,
        deactivate: () => this.deactivate(node),
        log: this.ctx.log,
      });
    };
  }

  /**
   * `sol deactivate`, as Ironic runs after stopping a console: a killed ipmitool could not end its
   * session, and the BMC would refuse the next one for half a minute. Exit status 1 ("already
   * de-activated") is fine. Only while the lease is valid: a BMC ends the payload whichever session
   * asks, so without the lease this could end a new owner's session (the next activation clears a
   * leftover one anyway: sol-session.sh deactivates first).
   */
  private async deactivate(node: NodeRecord): Promise<void> {
    if (!this.ctx.leaseValid()) return;
    try {
      await this.ctx.pidDir.linkPasswordFile(node.uuid);
      const argv = buildIpmitoolArgv(ipmitoolTarget(node.driver_info), this.ctx.pidDir.passwordFile(node.uuid), this.ipmitool);
      const secret = await this.ctx.pidDir.openUnlinkedSecret(node.uuid, passwordFileContent(node.driver_info.ipmi_password));
      let code: number | null;
      try {
        code = await runWithFd(argv[0]!, [...argv.slice(1), '-N', '1', '-R', '2', 'sol', 'deactivate'], secret.fd, 8000);
      } finally {
        await secret.close();
      }
      if (code !== 0 && code !== 1) this.ctx.log.warn({ node: node.uuid, code }, 'sol deactivate failed');
    } catch (e) {
      this.ctx.log.warn({ node: node.uuid, err: errorMessage(e) }, 'sol deactivate failed');
    }
  }
}

/**
 * Run a short command with `fd` as its PASSWORD_FD and the children's minimal environment (execa
 * cannot pass a plain descriptor beyond stdio); killed after `timeoutMs`. Resolves with the exit code
 * (null when killed or not started).
 */
function runWithFd(command: string, args: string[], fd: number, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const stdio: (string | number)[] = ['ignore', 'ignore', 'ignore'];
    stdio[PASSWORD_FD] = fd;
    const child = spawn(command, args, { stdio: stdio as ['ignore', 'ignore', 'ignore', number], env: childProcessEnv() });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', () => {
      clearTimeout(timer);
      resolve(null);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}
