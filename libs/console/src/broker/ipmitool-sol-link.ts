import { EventEmitter } from 'node:events';
import { chmod, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { errorMessage } from '#libs/common';
import type { Logger } from '#libs/logging';
import { socatToken, type InheritedSecret } from '../argv.js';
import { isAlive, signalGroup } from '../proc.js';
import type { Launcher } from '../launcher-pool.js';
import type { LaunchedProcess } from '../process-launcher.js';
import { IpmitoolEscapeEncoder } from './ipmitool-escape.js';
import { SolLinkOpenError, type SolLink, type SolLinkEvents } from './ports.js';

export interface IpmitoolSolLinkOptions {
  uuid: string;
  /** Where the ipmitool child connects back (0600, in the conductor's private directory). */
  socketPath: string;
  /** sol-session.sh and its arguments: lease check, `sol deactivate`, then `exec ipmitool … sol activate`. */
  solSession: { script: string; leaseFile: string; argvFile: string };
  launcher: Launcher;
  /** The BMC password, handed to the session's socat as an unlinked fd 3 (PASSWORD_FD). */
  secret?: InheritedSecret;
  /** How long activation may take (ipmitool retries a silent BMC for a while). */
  openTimeoutMs: number;
  /** How long close() waits for ipmitool to deactivate and exit before killing it. */
  closeTimeoutMs: number;
  /** `ipmitool … sol deactivate`, after a kill (the BMC would refuse the next session for a while). */
  deactivate: () => Promise<void>;
  log: Logger;
}

const BANNER_RE = /\[SOL Session operational\.[^\n]*\n/;
const BREAK_ECHO = '~B [send break]\n';

/**
 * The ipmitool-socat broker's BMC session: ONE `ipmitool … sol activate` per node, shared by every
 * viewer. It is started by the conductor's launcher pool (no fork of the conductor's heap), the one
 * that starts the socat listeners, as
 *   socat UNIX-CONNECT:<uuid>.sol.sock EXEC:"sol-session.sh <lease> <argv>"
 * (in its own process group, with the parent-death signal SIGKILL: the launcher sets both)
 * so it runs with the safeguards the per-client path had (the lease checked right before activation,
 * `sol deactivate` first, argv and password from the conductor's 0600 files) and its stdin/stdout
 * reach the broker over a private UNIX socket. ipmitool needs no terminal: without one it warns
 * ("tcgetattr: Inappropriate ioctl for device") and reads and writes raw bytes; stdbuf -oL (in the
 * argv file) makes it flush its banner and messages at once. Closing the socket closes ipmitool's
 * stdin: it deactivates SOL and exits (about 20 ms).
 */
export async function openIpmitoolSolLink(o: IpmitoolSolLinkOptions): Promise<SolLink> {
  await rm(o.socketPath, { force: true });
  const server = createServer({ allowHalfOpen: false });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(o.socketPath, 0o600);
  const args = [
    '-t5',
    `UNIX-CONNECT:${socatToken(o.socketPath)}`,
    `EXEC:${[o.solSession.script, o.solSession.leaseFile, o.solSession.argvFile].map(socatToken).join(' ')}`,
  ];
  const proc = o.launcher.spawn('socat', args, o.secret);
  const lines: string[] = [];
  proc.on('line', (l: string) => {
    lines.push(l);
    if (lines.length > 20) lines.shift();
  });
  const closeServer = () => {
    server.close();
    void rm(o.socketPath, { force: true }).catch(() => undefined);
  };
  const why = () => {
    const useful = lines.filter((l) => !/tcgetattr/.test(l));
    return useful.length ? useful.slice(-2).join('; ').replace(/^\d{4}\/\S+ \S+ socat\[\d+\] [EW] /, '') : 'ipmitool exited';
  };
  try {
    const { sock, rest } = await new Promise<{ sock: Socket; rest: Buffer }>((resolve, reject) => {
      let sock: Socket | undefined;
      let buf = Buffer.alloc(0);
      const timer = setTimeout(() => fail(new SolLinkOpenError(`Error: Unable to activate SOL payload: no answer within ${Math.round(o.openTimeoutMs / 1000)} s\r\n`, `SOL session failed: ipmitool did not activate SOL within ${Math.round(o.openTimeoutMs / 1000)} s`)), o.openTimeoutMs);
      const fail = (e: SolLinkOpenError) => {
        clearTimeout(timer);
        proc.off('exit', onExit);
        sock?.destroy();
        reject(e);
      };
      const onExit = () => {
        const out = buf.toString('latin1');
        if (/listener is stale/.test(out)) return fail(new SolLinkOpenError('', 'the conductor’s lease is not valid', true));
        const reason = why();
        const line = /already active/i.test(reason) ? `Info: SOL payload already active on another session\r\n` : `Error: ${reason}\r\n`;
        fail(new SolLinkOpenError(line, `SOL session failed: ${reason}`));
      };
      proc.once('exit', onExit);
      server.once('connection', (s) => {
        sock = s;
        s.on('error', () => undefined);
        s.on('data', (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          const m = BANNER_RE.exec(buf.toString('latin1'));
          if (!m) return;
          clearTimeout(timer);
          proc.off('exit', onExit);
          s.removeAllListeners('data');
          resolve({ sock: s, rest: buf.subarray(m.index + m[0].length) });
        });
      });
    });
    closeServer();
    return new IpmitoolSolLink(o, proc, sock, rest);
  } catch (e) {
    closeServer();
    await stopProcess(proc, 0, o.deactivate);
    throw e instanceof SolLinkOpenError ? e : new SolLinkOpenError(`Error: ${errorMessage(e)}\r\n`, `SOL session failed: ${errorMessage(e)}`);
  }
}

async function stopProcess(proc: LaunchedProcess, graceMs: number, deactivate: () => Promise<void>): Promise<void> {
  const pid = proc.pid;
  if (!pid) return;
  const exited = new Promise<void>((r) => {
    if (!isAlive(pid)) return r();
    proc.once('exit', () => r());
  });
  let timer: NodeJS.Timeout | undefined;
  const clean = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), graceMs)))]);
  clearTimeout(timer);
  if (clean) return;
  signalGroup(pid, 'SIGKILL');
  await deactivate(); // a killed ipmitool could not end its session
}

class IpmitoolSolLink extends EventEmitter<SolLinkEvents> implements SolLink {
  private readonly encoder = new IpmitoolEscapeEncoder('~');
  private ended = false;
  private closing: Promise<void> | undefined;
  private breakEchoes = 0;
  private readonly lines: string[] = [];

  constructor(
    private readonly o: IpmitoolSolLinkOptions,
    private readonly proc: LaunchedProcess,
    private readonly sock: Socket,
    rest: Buffer,
  ) {
    super();
    proc.on('line', (l: string) => {
      this.lines.push(l);
      if (this.lines.length > 20) this.lines.shift();
    });
    sock.on('data', (d: Buffer) => this.output(d));
    sock.on('close', () => this.end(this.closing ? null : this.reason()));
    proc.once('exit', () => {
      if (!this.closing) this.end(this.reason());
      sock.destroy();
    });
    if (rest.length) setImmediate(() => this.output(rest));
  }

  private reason(): string {
    const useful = this.lines.filter((l) => !/tcgetattr/.test(l) && !/ [NI] /.test(l));
    return useful.length ? `ipmitool: ${useful.slice(-2).join('; ')}` : 'ipmitool exited';
  }

  private output(d: Buffer): void {
    if (this.ended) return;
    if (this.breakEchoes > 0) {
      // ipmitool acknowledges a break on its stdout: that is not node output
      const s = d.toString('latin1');
      const i = s.indexOf(BREAK_ECHO);
      if (i >= 0) {
        this.breakEchoes--;
        d = Buffer.concat([d.subarray(0, i), d.subarray(i + BREAK_ECHO.length)]);
      }
    }
    if (d.length) this.emit('data', d);
  }

  write(data: Buffer): void {
    if (!this.sock.destroyed) this.sock.write(this.encoder.encode(data));
  }

  sendBreak(): 'sent' | 'not-at-line-start' {
    if (!this.encoder.atLineStart) return 'not-at-line-start';
    this.breakEchoes++;
    this.sock.write(this.encoder.breakSequence());
    return 'sent';
  }

  close(opts: { abandon?: boolean } = {}): Promise<void> {
    this.closing ??= (async () => {
      if (opts.abandon) {
        // SIGKILL before anything else: ipmitool reads EOF on its stdin as "deactivate SOL and exit",
        // so closing the socket first let it send a Deactivate Payload that ended the new owner's
        // session (found by the chaos seed 668079193). No `sol deactivate` follows either.
        if (this.proc.pid) signalGroup(this.proc.pid, 'SIGKILL');
        this.sock.destroy();
        await stopProcess(this.proc, 0, async () => undefined);
      } else {
        this.sock.end(); // ipmitool reads EOF: deactivates SOL and exits
        await stopProcess(this.proc, this.o.closeTimeoutMs, this.o.deactivate);
        this.sock.destroy();
      }
      this.end(null);
    })();
    return this.closing;
  }

  private end(error: string | null): void {
    if (this.ended) return;
    this.ended = true;
    this.emit('end', { error });
  }
}
