import { closeSync, constants, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { monotonicMs } from '#libs/common';

/**
 * The conductor's lease, as a file the per-connection console command checks before it opens a SOL
 * session (see libs/console/assets/sol-session.sh). A conductor that is paused (SIGSTOP, GC, frozen
 * VM) cannot stop its socat listeners, but it also stops refreshing this file, so a client that
 * connects to a stale listener gets no SOL session.
 *
 * The deadline is written in /proc/uptime centiseconds: a clock that the shell can read without
 * forking (`read up _ < /proc/uptime`) and that wall-clock jumps do not move.
 */
export class LeaseFile {
  constructor(readonly path: string) {}

  /** Valid until the given monotonic deadline (ms, same clock as monotonicMs()). */
  grant(deadlineMonotonicMs: number): void {
    const uptimeMs = readUptimeMs();
    const deadlineCs = Math.floor((uptimeMs + (deadlineMonotonicMs - monotonicMs())) / 10);
    this.write(String(Math.max(0, deadlineCs)));
  }

  revoke(): void {
    this.write('0');
  }

  /** Atomically (rename), through a fresh file: never an existing one, never a symbolic link. */
  private write(content: string): void {
    const tmp = `${this.path}.tmp`;
    try {
      unlinkSync(tmp);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, `${content}\n`);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }
}

export function readUptimeMs(): number {
  const [up] = readFileSync('/proc/uptime', 'utf8').split(' ');
  return Math.round(Number(up) * 1000);
}
