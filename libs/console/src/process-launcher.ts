import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { InheritedSecret } from './argv.js';
import { childProcessEnv } from './child-env.js';
import { consoleAsset } from './console-assets.js';

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** A process started through the launcher. Emits 'line' (stderr), 'exit' ({code, signal}) once. */
export class LaunchedProcess extends EventEmitter {
  pid: number | undefined;
}

/**
 * The conductor's side of libs/console/assets/launcher.mjs: a small helper process that forks
 * consoles so the conductor never forks its own large heap (see the comment in launcher.mjs).
 * Started lazily, restarted if it dies (its consoles die with it and are reported as exited).
 * It runs with a parent-death SIGTERM, on which it kills every console's process group, and with
 * childProcessEnv() as its whole environment (no token, no Redis password), which it passes on.
 */
export class ProcessLauncher {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly procs = new Map<number, LaunchedProcess>();
  private closed = false;

  private ensure(): ChildProcess {
    if (this.child && this.child.connected) return this.child;
    const script = consoleAsset('launcher.mjs');
    const child = spawn('setpriv', ['--pdeathsig', 'TERM', '--', process.execPath, script], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: childProcessEnv() });
    child.on('message', (m: { id: number; event: string; pid?: number; line?: string; code?: number | null; signal?: NodeJS.Signals | null; message?: string }) => {
      const p = this.procs.get(m.id);
      if (!p) return;
      if (m.event === 'spawned') {
        p.pid = m.pid;
        p.emit('spawned');
      }
      else if (m.event === 'line') p.emit('line', m.line);
      else if (m.event === 'error') p.emit('line', `launcher: ${m.message}`);
      else if (m.event === 'exit') this.finish(m.id, m.code ?? null, m.signal ?? null);
    });
    child.on('exit', () => {
      if (this.child === child) this.child = undefined;
      // Its socat listeners died with it (their parent-death signal); their groups may still hold a
      // session's processes: take them down, then report every console as exited.
      for (const p of this.procs.values()) if (p.pid) killGroup(p.pid);
      for (const id of [...this.procs.keys()]) this.finish(id, null, 'SIGKILL');
    });
    child.on('error', () => undefined);
    this.child = child;
    return child;
  }

  private finish(id: number, code: number | null, signal: NodeJS.Signals | null) {
    const p = this.procs.get(id);
    if (!p) return;
    this.procs.delete(id);
    p.emit('exit', { code, signal });
  }

  /**
   * Start `command args` in a new process group (detached). Returns at once, so the caller attaches
   * its listeners before any event can arrive: 'spawned' (pid known), 'line', 'exit'. A `secret`
   * becomes the process's fd PASSWORD_FD, an already unlinked file (see argv.ts); it travels to the
   * launcher over the private IPC channel only.
   */
  spawn(command: string, args: string[], secret?: InheritedSecret): LaunchedProcess {
    const id = this.nextId++;
    const p = new LaunchedProcess();
    this.procs.set(id, p);
    if (this.closed) {
      setImmediate(() => this.finish(id, null, null));
      return p;
    }
    this.ensure().send({ op: 'spawn', id, command, args, secret }, (err) => err && this.finish(id, null, null));
    return p;
  }

  /** Stop the launcher (after every console was stopped). */
  close(): void {
    this.closed = true;
    const c = this.child;
    this.child = undefined;
    if (c?.connected) c.disconnect();
  }
}
