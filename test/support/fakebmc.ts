import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '#libs/common';
import { freeUdpPort } from './ports.js';
import { isAlive } from './procs.js';
import { waitFor } from './wait.js';

/**
 * pyghmi's fakebmc (an independent IPMI v2.0 BMC: cipher suite 3 only, answers Get Channel Cipher
 * Suites, SOL only while powered on) with a serial line played by the test through
 * test/support/fakebmc_sol.py. Runs with Debian's /usr/bin/python3, where python3-pyghmi lives.
 */
export class PyghmiFakeBmc {
  port = 0;
  received = '';
  power: 'on' | 'off' = 'off';
  private child: ChildProcess | undefined;
  private stdoutBuffer = '';

  private constructor(
    readonly nodeName: string,
    readonly user: string,
    readonly password: string,
  ) {}

  static async start(opts: { nodeName?: string; user?: string; password?: string } = {}): Promise<PyghmiFakeBmc> {
    const b = new PyghmiFakeBmc(opts.nodeName ?? 'pynode', opts.user ?? 'admin', opts.password ?? 'password');
    await b.start();
    return b;
  }

  private async start(): Promise<void> {
    this.port = await freeUdpPort();
    const script = join(packageRoot(), 'test/support/fakebmc_sol.py');
    this.child = spawn(
      'setpriv',
      ['--pdeathsig', 'KILL', '--', '/usr/bin/python3', script, '--port', String(this.port), '--name', this.nodeName, '--user', this.user, '--password', this.password],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    let ready = false;
    this.child.stdout!.on('data', (d: Buffer) => {
      this.stdoutBuffer += d.toString();
      let nl: number;
      while ((nl = this.stdoutBuffer.indexOf('\n')) >= 0) {
        const line = this.stdoutBuffer.slice(0, nl);
        this.stdoutBuffer = this.stdoutBuffer.slice(nl + 1);
        if (line.startsWith('ready ')) ready = true;
        else if (line.startsWith('recv ')) this.received += Buffer.from(line.slice(5), 'hex').toString('latin1');
        else if (line.startsWith('power ')) this.power = line.slice(6) as 'on' | 'off';
      }
    });
    await waitFor(() => ready || this.child?.exitCode !== null, { timeoutMs: 10_000, what: 'pyghmi fakebmc to start' });
    if (!ready) throw new Error(`fakebmc exited with ${this.child.exitCode}`);
  }

  /** The node prints on its serial port (reaches SOL only while a session has it active). */
  print(text: string): void {
    this.child?.stdin?.write(`print ${Buffer.from(text, 'latin1').toString('hex')}\n`);
  }

  async waitReceived(text: string, timeoutMs = 5000): Promise<void> {
    await waitFor(() => this.received.includes(text), { timeoutMs, intervalMs: 10, what: `fakebmc node to receive ${JSON.stringify(text)}` });
  }

  get alive(): boolean {
    return !!this.child?.pid && isAlive(this.child.pid);
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child?.pid) return;
    child.stdin?.end();
    child.kill('SIGKILL');
    await waitFor(() => !isAlive(child.pid!), { timeoutMs: 5000, what: 'fakebmc to exit' }).catch(() => undefined);
  }
}
