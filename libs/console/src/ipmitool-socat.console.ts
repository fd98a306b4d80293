import { execa } from 'execa';
import { errorMessage } from '#libs/common';
import type { Logger } from '#libs/logging';
import type { NodeRecord } from '#libs/nodes';
import { buildIpmitoolArgv, ipmitoolTarget, passwordFileContent, type SocatPeer } from './argv.js';
import type { ConsoleDriver } from './console-driver.js';
import type { PidDirectory } from './pid-dir.js';

/**
 * `ipmitool-socat` (Ironic's IPMISocatConsole): for each client socat runs sol-session.sh, which
 * checks the conductor's lease, clears a stale SOL session and execs `ipmitool ... sol activate`.
 * The ipmitool command line is written to `<uuid>.argv`, the password to `<uuid>.pw` (0600).
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
    await Promise.all([
      this.pidDir.writePrivate(pw, passwordFileContent(node.driver_info.ipmi_password)),
      this.pidDir.writePrivate(this.pidDir.argvFile(node.uuid), argv.join('\n') + '\n'),
    ]);
    return { exec: [this.pidDir.solSessionScript, this.pidDir.leaseFile, this.pidDir.argvFile(node.uuid)] };
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
    const pw = this.pidDir.passwordFile(node.uuid);
    try {
      await this.pidDir.writePrivate(pw, passwordFileContent(node.driver_info.ipmi_password));
      const argv = buildIpmitoolArgv(ipmitoolTarget(node.driver_info), pw, this.ipmitool);
      const r = await execa(argv[0], [...argv.slice(1), '-N', '1', '-R', '2', 'sol', 'deactivate'], { reject: false, timeout: 8000, stdin: 'ignore' });
      if (r.exitCode !== 0 && r.exitCode !== 1) this.log.warn({ node: node.uuid, code: r.exitCode }, 'sol deactivate failed');
    } catch (e) {
      this.log.warn({ node: node.uuid, err: errorMessage(e) }, 'sol deactivate failed');
    }
  }
}
