import { spawn } from 'node:child_process';
import { errorMessage } from '#libs/common';
import type { Logger } from '#libs/logging';
import type { NodeRecord } from '#libs/nodes';
import { buildIpmitoolArgv, ipmitoolTarget, PASSWORD_FD, passwordFileContent, type SocatPeer } from './argv.js';
import { childProcessEnv } from './child-env.js';
import type { ConsoleDriver } from './console-driver.js';
import type { PidDirectory } from './pid-dir.js';

/**
 * `ipmitool-socat` (Ironic's IPMISocatConsole): for each client socat runs sol-session.sh, which
 * checks the conductor's lease, clears a stale SOL session and execs `ipmitool ... sol activate`.
 * The ipmitool command line is written to `<uuid>.argv`; the password never lies in a file: socat
 * inherits it as an unlinked file on fd 3, and `-f <uuid>.pw` is a link to /proc/self/fd/3.
 */
export class IpmitoolSocatConsole implements ConsoleDriver {
  readonly name = 'ipmitool-socat' as const;

  constructor(
    private readonly pidDir: PidDirectory,
    private readonly log: Logger,
    private readonly ipmitool = 'ipmitool',
  ) {}

  async prepare(node: NodeRecord): Promise<SocatPeer> {
    const target = ipmitoolTarget(node.driver_info);
    const pw = this.pidDir.passwordFile(node.uuid);
    const argv = buildIpmitoolArgv(target, pw, this.ipmitool);
    await Promise.all([this.pidDir.linkPasswordFile(node.uuid), this.pidDir.writePrivate(this.pidDir.argvFile(node.uuid), argv.join('\n') + '\n')]);
    return {
      exec: [this.pidDir.solSessionScript, this.pidDir.leaseFile, this.pidDir.argvFile(node.uuid)],
      secret: { path: this.pidDir.secretPath(node.uuid), content: passwordFileContent(node.driver_info.ipmi_password) },
    };
  }

  async cleanup(node: NodeRecord, { sessionWasActive }: { sessionWasActive: boolean }): Promise<void> {
    try {
      if (sessionWasActive) await this.deactivate(node);
    } finally {
      await this.pidDir.removeNodeFiles(node.uuid);
    }
  }

  /**
   * `sol deactivate`, as Ironic runs after stopping a console: the killed ipmitool could not end its
   * session, and the BMC would refuse the next one for half a minute. Exit status 1 ("already
   * de-activated") is fine.
   */
  private async deactivate(node: NodeRecord): Promise<void> {
    try {
      await this.pidDir.linkPasswordFile(node.uuid);
      const argv = buildIpmitoolArgv(ipmitoolTarget(node.driver_info), this.pidDir.passwordFile(node.uuid), this.ipmitool);
      const secret = await this.pidDir.openUnlinkedSecret(node.uuid, passwordFileContent(node.driver_info.ipmi_password));
      let code: number | null;
      try {
        code = await runWithFd(argv[0], [...argv.slice(1), '-N', '1', '-R', '2', 'sol', 'deactivate'], secret.fd, 8000);
      } finally {
        await secret.close();
      }
      if (code !== 0 && code !== 1) this.log.warn({ node: node.uuid, code }, 'sol deactivate failed');
    } catch (e) {
      this.log.warn({ node: node.uuid, err: errorMessage(e) }, 'sol deactivate failed');
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
