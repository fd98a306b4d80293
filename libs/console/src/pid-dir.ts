import { randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep } from '#libs/common';
import type { Logger } from '#libs/logging';
import { INHERITED_PASSWORD } from './argv.js';
import { consoleAsset } from './console-assets.js';
import { childrenOf, isAlive, processGroupOf, processesWithArg, readCmdline, signalGroup } from './proc.js';
import { createPrivateDirectory, readPrivateFile } from './trusted-path.js';

/** Create a new file, never through a symbolic link and never into an existing file. */
const CREATE_PRIVATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const CREATE_SECRET = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * The conductor's private directory (0700, SOLGATE_TERMINAL_PID_DIR): per node a socat pid/lock
 * file `<uuid>.pid` (socat -L), the ipmitool argv file `<uuid>.argv` (0600), `<uuid>.pw` — a
 * symbolic link to /proc/self/fd/3, never a password (see PASSWORD_FD in argv.ts) — the console
 * broker's socket `<uuid>.sock` (0600) and the socket an ipmitool-socat broker's ipmitool connects
 * back to while its session opens, `<uuid>.sol.sock` (0600); the conductor's `lease` file. The conductor creates it itself and
 * refuses one that another user made or could write (see createPrivateDirectory). Nothing in it is
 * ever executed: the per-connection script runs from the installation (console-assets.ts).
 */
export class PidDirectory {
  private ready = false;

  constructor(readonly dir: string) {}

  get leaseFile() {
    return join(this.dir, 'lease');
  }
  /** The per-connection script socat runs: from the checked installation, not from this directory. */
  get solSessionScript() {
    return consoleAsset('sol-session.sh');
  }
  pidFile(uuid: string) {
    return join(this.dir, `${uuid}.pid`);
  }
  argvFile(uuid: string) {
    return join(this.dir, `${uuid}.argv`);
  }
  /** What ipmitool's `-f` names: a link to the reading process's own fd 3 (no secret on disk). */
  passwordFile(uuid: string) {
    return join(this.dir, `${uuid}.pw`);
  }
  /** A fresh name for the file a password lives in for the microseconds before it is unlinked. */
  secretPath(uuid: string) {
    return join(this.dir, `${uuid}.pw-${randomBytes(6).toString('hex')}`);
  }
  socketPath(uuid: string) {
    return join(this.dir, `${uuid}.sock`);
  }
  solSocketPath(uuid: string) {
    return join(this.dir, `${uuid}.sol.sock`);
  }
  /** Every per-node file; a stopped console, a deleted node and a reaped leftover lose all of them. */
  private nodeFiles(uuid: string): string[] {
    return [this.pidFile(uuid), this.argvFile(uuid), this.passwordFile(uuid), this.socketPath(uuid), this.solSocketPath(uuid)];
  }

  /**
   * Create (or accept) the directory: ours, 0700, not a link, under trusted parents; throws
   * UnsafePathError with the reason otherwise. Idempotent.
   */
  init(): void {
    if (this.ready) return;
    createPrivateDirectory(this.dir);
    // Earlier versions copied the session script here; nothing in this directory is ever run.
    rmSync(join(this.dir, 'sol-session.sh'), { force: true });
    this.ready = true;
  }

  /**
   * Write a file only its owner may read (0600). Always a new file (O_EXCL): an existing one is
   * unlinked first, and a symbolic link is never followed (O_NOFOLLOW), whoever planted it.
   * Synchronous on purpose, as linkPasswordFile: the directory is a private runtime directory on a
   * tmpfs (/run or /dev/shm by default), where these calls take microseconds; each asynchronous call
   * cost a thread-pool round trip instead — about 1 ms of event-loop time per console in a profile
   * of a 1,000-console takeover on a busy two-core machine.
   */
  async writePrivate(path: string, content: string): Promise<void> {
    let fd;
    try {
      fd = openSync(path, CREATE_PRIVATE, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      unlinkSync(path);
      fd = openSync(path, CREATE_PRIVATE, 0o600);
    }
    try {
      writeFileSync(fd, content);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * `<uuid>.pw` → /proc/self/fd/3 (replacing whatever is there, never following it). symlink(2)
   * fails on any existing name, so the usual start (nothing there) costs one call, not two.
   */
  async linkPasswordFile(uuid: string): Promise<void> {
    const path = this.passwordFile(uuid);
    try {
      symlinkSync(INHERITED_PASSWORD, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      unlinkSync(path); // the name only: a planted link is never followed
      symlinkSync(INHERITED_PASSWORD, path);
    }
  }

  /**
   * The password as an open file that no longer has a name: created 0600 with O_EXCL|O_NOFOLLOW,
   * written, unlinked. Pass its fd to a child as PASSWORD_FD, then close it: the secret is gone
   * with the last process holding it (a kill -9 leaves nothing on disk).
   */
  async openUnlinkedSecret(uuid: string, content: string): Promise<FileHandle> {
    const path = this.secretPath(uuid);
    const fh = await open(path, CREATE_SECRET, 0o600);
    try {
      await unlink(path);
      await fh.writeFile(content);
      return fh;
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** socat -L refuses to start while its lock file exists; ours are only left by a dead socat. */
  async removeLock(uuid: string): Promise<void> {
    await removeIfThere(this.pidFile(uuid));
  }

  async removeNodeFiles(uuid: string): Promise<void> {
    await Promise.all(this.nodeFiles(uuid).map(removeIfThere));
  }

  private removeNodeFilesSync(uuid: string): void {
    for (const p of this.nodeFiles(uuid)) rmSync(p, { force: true });
  }

  /**
   * At start-up: kill what an earlier incarnation left behind. A pid file is trusted only if the
   * process it names is a socat whose command line carries that very pid file (never kill by name,
   * never a recycled pid); then its whole process group goes. Returns the uuids reaped.
   */
  async reapLeftovers(log: Logger): Promise<string[]> {
    const reaped: string[] = [];
    // shellinaboxd servers and their per-session supervisors (own sessions, outside any socat's
    // group), recognised by a socket in this very directory on their command line
    for (const pid of processesWithArg(`--unixdomain-only=${this.dir}/`)) {
      log.warn({ pid }, 'reaping a shellinaboxd left by an earlier run');
      for (const p of [...childrenOf(pid), pid]) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    let files: string[];
    try {
      files = readdirSync(this.dir);
    } catch {
      return reaped;
    }
    for (const f of files) {
      const m = /^([0-9a-f-]{36})\.pid$/.exec(f);
      if (!m) continue;
      const path = join(this.dir, f);
      const pid = Number(readPrivateFile(path)?.trim());
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
      // (a <uuid>.pw-<hex> is a password file a crash caught in the microseconds before its unlink)
      const m = /^([0-9a-f-]{36})\.(argv|pw|sock|sol\.sock|siab\.sock|pw-[0-9a-f]+)$/.exec(f);
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
