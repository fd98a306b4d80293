import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot, sleep } from '#libs/common';
import type { Logger } from '#libs/logging';
import { isAlive, processGroupOf, readCmdline, signalGroup } from './proc.js';

/**
 * The conductor's private directory (0700, SOLGATE_TERMINAL_PID_DIR): per node a socat pid/lock
 * file `<uuid>.pid` (socat -L), the ipmitool argv file `<uuid>.argv` and the password file
 * `<uuid>.pw` (0600); the conductor's `lease` file; a copy of sol-session.sh (so every path socat
 * sees lies under this validated directory).
 */
export class PidDirectory {
  constructor(readonly dir: string) {}

  get leaseFile() {
    return join(this.dir, 'lease');
  }
  get solSessionScript() {
    return join(this.dir, 'sol-session.sh');
  }
  pidFile(uuid: string) {
    return join(this.dir, `${uuid}.pid`);
  }
  argvFile(uuid: string) {
    return join(this.dir, `${uuid}.argv`);
  }
  passwordFile(uuid: string) {
    return join(this.dir, `${uuid}.pw`);
  }
  socketPath(uuid: string) {
    return join(this.dir, `${uuid}.sock`);
  }

  /** Create the directory (0700) and install the helper scripts. */
  init(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    const assets = join(packageRoot(), 'libs', 'console', 'assets');
    for (const f of ['sol-session.sh']) {
      copyFileSync(join(assets, f), join(this.dir, f));
      chmodSync(join(this.dir, f), 0o700);
    }
  }

  /**
   * Write a file only its owner may read (0600, enforced on the open handle even if it existed).
   * Asynchronous: a takeover writes hundreds of these and must not block the event loop.
   */
  async writePrivate(path: string, content: string): Promise<void> {
    // A new file is created 0600 (the umask only removes group/other bits). Only this conductor
    // writes into its 0700 directory, and it removes a node's files when the console stops, so
    // no older file with other permissions can be there.
    await writeFile(path, content, { mode: 0o600 });
  }

  /** socat -L refuses to start while its lock file exists; ours are only left by a dead socat. */
  async removeLock(uuid: string): Promise<void> {
    await removeIfThere(this.pidFile(uuid));
  }

  async removeNodeFiles(uuid: string): Promise<void> {
    await Promise.all([this.pidFile(uuid), this.argvFile(uuid), this.passwordFile(uuid), this.socketPath(uuid)].map(removeIfThere));
  }

  private removeNodeFilesSync(uuid: string): void {
    for (const p of [this.pidFile(uuid), this.argvFile(uuid), this.passwordFile(uuid), this.socketPath(uuid)]) rmSync(p, { force: true });
  }

  /**
   * At start-up: kill what an earlier incarnation left behind. A pid file is trusted only if the
   * process it names is a socat whose command line carries that very pid file (never kill by name,
   * never a recycled pid); then its whole process group goes. Returns the uuids reaped.
   */
  async reapLeftovers(log: Logger): Promise<string[]> {
    const reaped: string[] = [];
    let files: string[] = [];
    try {
      files = readdirSync(this.dir);
    } catch {
      return reaped;
    }
    for (const f of files) {
      const m = /^([0-9a-f-]{36})\.pid$/.exec(f);
      if (!m) continue;
      const path = join(this.dir, f);
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 1 && isAlive(pid)) {
        const cmd = readCmdline(pid);
        if (cmd[0]?.endsWith('socat') && cmd.some((a) => a === `-L${path}`)) {
          const pgid = processGroupOf(pid);
          log.warn({ node: m[1], pid, pgid }, 'reaping a console left by an earlier run');
          await killGroup(pgid && pgid !== process.pid ? pgid : pid, pgid !== undefined, 1000);
          reaped.push(m[1]);
        }
      }
      this.removeNodeFilesSync(m[1]);
    }
    // leftovers without a pid file
    for (const f of files) {
      const m = /^([0-9a-f-]{36})\.(argv|pw|sock)$/.exec(f);
      if (m) rmSync(join(this.dir, f), { force: true });
    }
    return reaped;
  }

}

/** unlink, tolerating a file that is not there (one syscall; fs.rm would lstat first). */
async function removeIfThere(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** SIGTERM a process group (or a single pid), SIGKILL after `graceMs`; resolves when it is gone. */
export async function killGroup(pid: number, isGroup: boolean, graceMs: number): Promise<void> {
  if (!signalGroup(pid, 'SIGTERM', isGroup)) return;
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(10);
  if (isAlive(pid)) {
    signalGroup(pid, 'SIGKILL', isGroup);
    const hard = Date.now() + 2000;
    while (isAlive(pid) && Date.now() < hard) await sleep(10);
  }
}
