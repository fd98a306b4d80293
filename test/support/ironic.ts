import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort } from './ports.js';
import { isAlive } from './procs.js';
import { waitFor } from './wait.js';

/** Debian's interpreter: python3-ironic is installed for it (a pyenv `python3` earlier in PATH has no Ironic). */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/**
 * The exact oslo.policy rule that lets Ironic's API return BMC passwords in driver_info (the default
 * is "!": always masked as ******). Written into the policy file `[oslo_policy] policy_file` names.
 */
export const SHOW_PASSWORD_POLICY_LINE = '"show_password": "@"';

/**
 * Creates the schema straight from Ironic's models (what `ironic-dbsync create_schema` does, without
 * its alembic stamp and a second interpreter start: ~4 s saved), then runs the single-process
 * `ironic` (API + conductor in one process, rpc_transport none). `import ironic.cmd` comes first
 * because it applies eventlet's monkey-patching, as Ironic's console scripts do.
 */
const BOOT = `
import sys
import ironic.cmd  # noqa: eventlet monkey-patching before anything else
import sqlalchemy
from ironic.db.sqlalchemy import models
engine = sqlalchemy.create_engine(sys.argv[1])
models.Base.metadata.create_all(engine)
engine.dispose()
from ironic.cmd.singleprocess import main
sys.argv = ['ironic', '--config-file', sys.argv[2]]
main()
`;

export interface IronicOptions {
  /** Let the API return driver_info passwords (policy `show_password: "@"`). Default true. */
  showPasswords?: boolean;
  /** Address the API binds (default 127.0.0.1). */
  host?: string;
  /** The conductor's host name in Ironic (`[DEFAULT] host`). */
  conductorHost?: string;
}

/** Figures of one start, for the test's log and docs/ironic.md. */
export interface IronicStartTimes {
  /** From spawn to the API answering GET /v1 (schema creation, imports, conductor and API start). */
  readyMs: number;
}

export interface IronicResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/**
 * A real OpenStack Ironic (Debian 12's python3-ironic, 21.4) for tests: the single-process `ironic`
 * (ironic-api + ironic-conductor in one process) with a sqlite database, `auth_strategy = noauth`,
 * `rpc_transport = none`, the `ipmi` hardware type with `ipmitool` power/management and the
 * `ipmitool-socat` and `no-console` console interfaces. Everything lives in a temporary directory;
 * the process runs in its own process group under a parent-death SIGKILL; `stop()` ends it and
 * removes the directory.
 */
export class IronicServer {
  readonly dir: string;
  readonly host: string;
  port = 0;
  times: IronicStartTimes = { readyMs: 0 };
  private child: ChildProcess | undefined;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  private constructor(private readonly opts: IronicOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'solgate-ironic-'));
    this.host = opts.host ?? '127.0.0.1';
  }

  static async start(opts: IronicOptions = {}): Promise<IronicServer> {
    const s = new IronicServer(opts);
    try {
      await s.start();
    } catch (e) {
      await s.stop();
      throw e;
    }
    return s;
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  get logFile(): string {
    return join(this.dir, 'ironic.log');
  }

  /** The last lines of Ironic's log (for failure messages). */
  logTail(chars = 4000): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8').slice(-chars) : '';
  }

  private config(): string {
    const policyFile = join(this.dir, 'policy.yaml');
    if (this.opts.showPasswords ?? true) writeFileSync(policyFile, `# Let the API return BMC passwords (solgate ironic sync needs them).\n${SHOW_PASSWORD_POLICY_LINE}\n`);
    else writeFileSync(policyFile, '# Ironic defaults: passwords masked.\n{}\n');
    return [
      '[DEFAULT]',
      'auth_strategy = noauth',
      'rpc_transport = none',
      `host = ${this.opts.conductorHost ?? 'ironic-test'}`,
      'enabled_hardware_types = ipmi',
      'enabled_power_interfaces = ipmitool',
      'enabled_management_interfaces = ipmitool',
      'enabled_console_interfaces = ipmitool-socat,no-console',
      'default_console_interface = no-console',
      'enabled_boot_interfaces = pxe',
      'enabled_deploy_interfaces = direct',
      'enabled_inspect_interfaces = no-inspect',
      'enabled_network_interfaces = noop',
      'enabled_raid_interfaces = no-raid',
      'enabled_rescue_interfaces = no-rescue',
      'enabled_vendor_interfaces = no-vendor',
      'enabled_bios_interfaces = no-bios',
      'enabled_storage_interfaces = noop',
      'use_stderr = false',
      `log_file = ${this.logFile}`,
      '',
      '[api]',
      `host_ip = ${this.host}`,
      `port = ${this.port}`,
      '',
      '[database]',
      `connection = sqlite:///${join(this.dir, 'ironic.sqlite')}`,
      '',
      '[dhcp]',
      'dhcp_provider = none',
      '',
      '[conductor]',
      'automated_clean = false',
      // no periodic power sync against the simulated BMCs: the tests drive power explicitly
      'sync_power_state_interval = -1',
      '',
      '[ipmi]',
      // Ironic waits this long between two ipmitool commands to one BMC (default 5 s)
      'min_command_interval = 1',
      '',
      '[oslo_policy]',
      `policy_file = ${policyFile}`,
      '',
    ].join('\n');
  }

  async start(): Promise<void> {
    if (!existsSync(join('/usr/lib/python3/dist-packages/ironic/cmd/singleprocess.py')))
      throw new Error('python3-ironic is not installed (scripts/prereqs.sh test installs it)');
    this.port ||= await freeTcpPort(this.host);
    const confFile = join(this.dir, 'ironic.conf');
    writeFileSync(confFile, this.config());
    const out = openSync(join(this.dir, 'stdio.log'), 'a');
    const t0 = performance.now();
    this.child = spawn(
      'setpriv',
      ['--pdeathsig', 'KILL', '--', SYSTEM_PYTHON, '-c', BOOT, `sqlite:///${join(this.dir, 'ironic.sqlite')}`, confFile],
      { stdio: ['ignore', out, out], detached: true, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.dir, LANG: 'C.UTF-8' } },
    );
    closeSync(out);
    this.child.on('exit', (code, signal) => (this.exit = { code, signal }));
    const state = await waitFor(
      async () => {
        if (this.exit) return 'exited';
        const r = await fetch(`${this.url}/v1`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
        return r?.status === 200 ? 'ready' : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 100, what: 'Ironic to answer GET /v1' },
    );
    if (state === 'exited')
      throw new Error(`ironic exited (${this.exit!.code ?? this.exit!.signal}):\n${readFileSync(join(this.dir, 'stdio.log'), 'utf8').slice(-3000)}\n${this.logTail()}`);
    this.times = { readyMs: Math.round(performance.now() - t0) };
  }

  /** An Ironic API call at microversion 1.78 (python-ironicclient's), no authentication. */
  async api<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<IronicResponse<T>> {
    const r = await fetch(`${this.url}${path}`, {
      method,
      headers: { 'X-OpenStack-Ironic-API-Version': '1.78', ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let parsed: any;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: r.status, headers: r.headers, body: parsed, text };
  }

  /** POST /v1/nodes; returns the created node (throws with Ironic's error otherwise). */
  async createNode(body: Record<string, unknown>): Promise<any> {
    const r = await this.api('POST', '/v1/nodes', body);
    if (r.status !== 201) throw new Error(`Ironic refused the node: ${r.status} ${r.text}`);
    return r.body;
  }

  async patchNode(ident: string, ops: unknown[]): Promise<any> {
    const r = await this.api('PATCH', `/v1/nodes/${ident}`, ops);
    if (r.status !== 200) throw new Error(`Ironic refused the patch: ${r.status} ${r.text}`);
    return r.body;
  }

  async deleteNode(ident: string): Promise<void> {
    const r = await this.api('DELETE', `/v1/nodes/${ident}`);
    if (r.status !== 204) throw new Error(`Ironic refused the delete: ${r.status} ${r.text}`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** SIGTERM to its process group, SIGKILL after 5 s; then the directory goes. Idempotent. */
  async stop(): Promise<void> {
    const pid = this.child?.pid;
    if (pid && !this.exit) {
      const signal = (s: NodeJS.Signals) => {
        try {
          process.kill(-pid, s);
        } catch {
          /* gone */
        }
      };
      signal('SIGTERM');
      await waitFor(() => !!this.exit && !isAlive(pid), { timeoutMs: 5000, what: 'ironic to exit' }).catch(async () => {
        signal('SIGKILL');
        await waitFor(() => !isAlive(pid), { timeoutMs: 5000, what: 'ironic to die' }).catch(() => undefined);
      });
    }
    this.child = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
