import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '#libs/common';
import { freeTcpPort, freeUdpPort } from './ports.js';
import { isAlive } from './procs.js';
import { waitFor } from './wait.js';

const execFileP = promisify(execFile);

export interface IpmiSimOptions {
  user?: string;
  password?: string;
  /** Name printed in the login banner; default `node<N>`. */
  nodeName?: string;
  /**
   * How the simulated node answers typed bytes: `shell` (default) echoes input and prints
   * `<name> login: ` on every Enter, like a getty; `silent` only records.
   */
  serial?: 'shell' | 'silent';
}

let counter = 0;

/**
 * One real BMC simulator: OpenIPMI `ipmi_sim` on a loopback UDP port, whose SOL serial line is a TCP
 * connection back to a server owned by this object, so the test *is* the bare-metal node:
 * `print()` writes to the node's serial port (the SOL client sees it), `received` holds what was
 * typed into SOL. See ../shared/bmc-sim (not in a clean clone) for the recipe and its pitfalls.
 */
export class IpmiSimBmc {
  readonly user: string;
  readonly password: string;
  readonly nodeName: string;
  readonly dir: string;
  ipmiPort = 0;
  serialPort = 0;
  received = '';
  private child: ChildProcess | undefined;
  private server: Server | undefined;
  private line: Socket | undefined;
  private waiters: Array<() => void> = [];

  private constructor(private readonly opts: IpmiSimOptions) {
    const n = ++counter;
    this.user = opts.user ?? 'admin';
    this.password = opts.password ?? 'password';
    this.nodeName = opts.nodeName ?? `node${n}`;
    this.dir = mkdtempSync(join(tmpdir(), `solgate-bmc${n}-`));
  }

  static async start(opts: IpmiSimOptions = {}): Promise<IpmiSimBmc> {
    const b = new IpmiSimBmc(opts);
    await b.start();
    return b;
  }

  /** driver_info for this BMC, as a client would enrol it. */
  driverInfo(extra: Record<string, unknown> = {}) {
    return {
      ipmi_address: '127.0.0.1',
      ipmi_port: this.ipmiPort,
      ipmi_username: this.user,
      ipmi_password: this.password,
      ipmi_cipher_suite: 3,
      ...extra,
    };
  }

  /** Whether ipmi_sim currently holds the serial line (it connects at start-up, then retries every 10 s). */
  get serialConnected() {
    return !!this.line && !this.line.destroyed;
  }

  async start(): Promise<void> {
    const root = packageRoot();
    // 1. The node's serial port must listen before ipmi_sim starts (it only retries every 10 s).
    this.server = createServer((sock) => this.attach(sock));
    this.serialPort = this.serialPort || (await freeTcpPort());
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.serialPort, '127.0.0.1', () => resolve());
    });
    this.ipmiPort = this.ipmiPort || (await freeUdpPort());
    mkdirSync(join(this.dir, 'state'), { recursive: true });
    const conf = readFileSync(join(root, 'libs/testing/assets/ipmi-sim/lan.conf.in'), 'utf8')
      .replaceAll('@NAME@', `bmc-${this.nodeName}-${process.pid}`)
      .replaceAll('@IPMI_PORT@', String(this.ipmiPort))
      .replaceAll('@SERIAL_PORT@', String(this.serialPort))
      .replaceAll('@DIR@', this.dir)
      .replaceAll('@CHASSIS@', join(root, 'libs/testing/assets/ipmi-sim/chassis-control.sh'))
      .replaceAll('@USER@', this.user)
      .replaceAll('@PASSWORD@', this.password)
      .replaceAll('@GUIDTAIL@', (this.ipmiPort % 65536).toString(16).padStart(4, '0'));
    writeFileSync(join(this.dir, 'lan.conf'), conf);
    writeFileSync(join(this.dir, 'ipmi.pw'), this.password, { mode: 0o600 });
    chmodSync(join(this.dir, 'ipmi.pw'), 0o600);
    // 2. The BMC. setpriv: dies with the test process; detached: its own process group.
    this.child = spawn(
      'setpriv',
      ['--pdeathsig', 'KILL', '--', 'ipmi_sim', '-c', join(this.dir, 'lan.conf'), '-f', join(root, 'libs/testing/assets/ipmi-sim/bmc.emu'), '-s', join(this.dir, 'state'), '-n'],
      { stdio: 'ignore', detached: true },
    );
    // 3. Ready when the serial line is connected and the BMC answers a command.
    await waitFor(() => this.serialConnected, { timeoutMs: 20_000, what: `ipmi_sim to connect its serial line (${this.nodeName})` });
    await waitFor(async () => (await this.ipmitool('power', 'status')).includes('Chassis Power'), {
      timeoutMs: 20_000,
      intervalMs: 50,
      what: `ipmi_sim ${this.nodeName} to answer power status`,
    });
  }

  private attach(sock: Socket) {
    this.line?.destroy();
    this.line = sock;
    sock.on('data', (d) => {
      const text = d.toString('latin1');
      this.received += text;
      if (this.opts.serial !== 'silent') {
        // A getty-like node: echo what is typed, prompt again on Enter.
        const echoed = text.replace(/\r\n?|\n/g, `\r\n${this.nodeName} login: `);
        sock.write(echoed);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on('error', () => {});
  }

  /** The node prints on its serial port. Lost if no SOL session is active (as on real hardware). */
  print(text: string): void {
    this.line?.write(text);
  }

  /** Wait until the node has received `text` through SOL. */
  async waitReceived(text: string, timeoutMs = 5000): Promise<void> {
    await waitFor(() => this.received.includes(text), { timeoutMs, intervalMs: 10, what: `node ${this.nodeName} to receive ${JSON.stringify(text)}` });
  }

  /** Run ipmitool against this BMC (password from a file, as the conductor does). */
  async ipmitool(...args: string[]): Promise<string> {
    try {
      const { stdout, stderr } = await execFileP(
        'ipmitool',
        ['-I', 'lanplus', '-C', '3', '-H', '127.0.0.1', '-p', String(this.ipmiPort), '-U', this.user, '-f', join(this.dir, 'ipmi.pw'), '-N', '1', '-R', '2', ...args],
        { timeout: 10_000 },
      );
      return stdout + stderr;
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string };
      return (err.stdout ?? '') + (err.stderr ?? '');
    }
  }

  get alive(): boolean {
    return !!this.child?.pid && isAlive(this.child.pid);
  }

  async stop(): Promise<void> {
    const pid = this.child?.pid;
    if (pid) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await waitFor(() => !isAlive(pid), { timeoutMs: 15_000, what: 'ipmi_sim to exit' }).catch(() => {});
    }
    this.child = undefined;
    this.line?.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
