import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { InheritedSecret } from './argv.js';
import { childProcessEnv } from './child-env.js';
import { consoleAsset } from './console-assets.js';
import { signalGroup } from './proc.js';

/** A process started through the launcher. Emits 'line' (stderr), 'exit' ({code, signal}) once. */
export class LaunchedProcess extends EventEmitter {
  pid: number | undefined;
}

/**
 * The conductor's side of libs/console/assets/launcher.pl: a small helper process that forks
 * consoles so the conductor never forks its own large heap (see the comment in launcher.pl).
 * Started lazily, restarted if it dies (its consoles die with it and are reported as exited).
 * It sets its own parent-death SIGTERM, on which it kills every console's process group, and each
 * console's parent-death SIGKILL; it runs with childProcessEnv() as its whole environment (no token,
 * no Redis password), which it passes on. Messages are lines, every text field hex-encoded.
 */
export class ProcessLauncher {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly procs = new Map<number, LaunchedProcess>();
  private closed = false;

  private ensure(): ChildProcess {
    if (this.child && !this.child.stdin?.destroyed && this.child.exitCode === null && this.child.signalCode === null) return this.child;
    const script = consoleAsset('launcher.pl');
    const child = spawn('perl', [script, String(process.pid)], { stdio: ['pipe', 'pipe', 'inherit'], env: childProcessEnv() });
    let partial = '';
    child.stdout!.setEncoding('latin1');
    child.stdout!.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) this.onMessage(line);
    });
    child.stdin!.on('error', () => undefined); // a launcher that died: its 'exit' reports every console
    child.on('exit', () => {
      if (this.child === child) this.child = undefined;
      // Its console processes died with it (their parent-death signal); their groups may still hold a
      // session's processes: take them down, then report every console as exited.
      for (const p of this.procs.values()) if (p.pid) signalGroup(p.pid, 'SIGKILL');
      for (const id of [...this.procs.keys()]) this.finish(id, null, 'SIGKILL');
    });
    child.on('error', () => undefined);
    this.child = child;
    return child;
  }

  /** One line from the launcher: `P id pid`, `L id text`, `X id text`, `E id code signal` (text hex-encoded). */
  private onMessage(line: string): void {
    const [op, idText, a, b] = line.split(' ');
    const p = this.procs.get(Number(idText));
    if (!p) return;
    if (op === 'P') {
      p.pid = Number(a);
      p.emit('spawned');
    } else if (op === 'L') p.emit('line', Buffer.from(a ?? '', 'hex').toString('utf8'));
    else if (op === 'X') p.emit('line', `launcher: ${Buffer.from(a ?? '', 'hex').toString('utf8')}`);
    else if (op === 'E') this.finish(Number(idText), a === '-' || a === undefined ? null : Number(a), b === '-' || b === undefined ? null : (b as NodeJS.Signals));
  }

  private finish(id: number, code: number | null, signal: NodeJS.Signals | null) {
    const p = this.procs.get(id);
    if (!p) return;
    this.procs.delete(id);
    p.emit('exit', { code, signal });
  }

  /**
   * Start `command args` in a new process group with the parent-death signal SIGKILL. Returns at
   * once, so the caller attaches its listeners before any event can arrive: 'spawned' (pid known),
   * 'line', 'exit'. A `secret` becomes the process's fd PASSWORD_FD, an already unlinked file (see
   * argv.ts); it travels to the launcher over its private stdin pipe only.
   */
  spawn(command: string, args: string[], secret?: InheritedSecret): LaunchedProcess {
    const id = this.nextId++;
    const p = new LaunchedProcess();
    this.procs.set(id, p);
    if (this.closed) {
      setImmediate(() => this.finish(id, null, null));
      return p;
    }
    const hex = (s: string) => `x${Buffer.from(s, 'utf8').toString('hex')}`;
    const fields = [secret ? hex(secret.path) : '-', secret ? hex(secret.content) : '-', hex(command), ...args.map(hex)];
    const stdin = this.ensure().stdin!;
    if (stdin.destroyed || !stdin.writable) setImmediate(() => this.finish(id, null, null));
    else stdin.write(`S ${id} ${fields.join(' ')}\n`);
    return p;
  }

  /** Stop the launcher (after every console was stopped). */
  close(): void {
    this.closed = true;
    const c = this.child;
    this.child = undefined;
    c?.stdin?.end(); // the launcher kills what is left and exits
  }
}
