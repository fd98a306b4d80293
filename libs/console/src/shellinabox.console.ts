import { EventEmitter } from 'node:events';
import { access, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, packageRoot, sleep } from '#libs/common';
import type { NodeRecord } from '#libs/nodes';
import { buildShellinaboxArgv, buildShellinaboxCommand, type SocatPeer } from './argv.js';
import type { BrokerContext } from './broker/brokered-console.driver.js';
import type { CompanionProcess } from './console-driver.js';
import { IpmitoolSocatConsole, type IpmitoolSocatOptions } from './ipmitool-socat.console.js';
import { childrenOf, isAlive, processesWithArg } from './proc.js';
import type { Launcher } from './launcher-pool.js';
import type { LaunchedProcess } from './process-launcher.js';

export interface ShellinaboxOptions extends IpmitoolSocatOptions {
  /** SOLGATE_TERMINAL_CERT_DIR: a directory with certificate.pem (key + certificate) → https; '' → http. */
  certDir: string;
  /** How long shellinaboxd may take to listen (SOLGATE_SUBPROCESS_TIMEOUT). */
  startTimeoutMs: number;
  /** How long stopping waits after SIGTERM before SIGKILL. */
  killTimeoutMs: number;
}

/** The command shellinaboxd runs per browser session: raw pty, then the broker's relay. */
export function shellinaboxRelayScript(): string {
  return join(packageRoot(), 'libs', 'console', 'assets', 'shellinabox-relay.pl');
}

/**
 * `ipmitool-shellinabox` (Ironic's IPMIShellinaboxConsole), brokered: Debian's shellinaboxd per
 * node serves a terminal page on the node's sticky port (console_info `{type: shellinabox, url:
 * http(s)://host:port}`), and every browser session runs the broker's relay instead of its own
 * `ipmitool sol activate`: one SOL session per node (the ipmitool-socat driver's), shared with TCP
 * clients, the web console and `solgate console attach`, with the broker's history and write lock.
 *
 * shellinaboxd cannot bind one address, only every address or a UNIX socket: it listens on
 * `<uuid>.siab.sock` in the pid directory and socat binds the node's port on SOLGATE_SOCAT_ADDRESS
 * and connects each connection to it. So the port, its readiness, the listener check, claims and
 * takeover are the socat consoles' own; shellinaboxd is the console's companion process (started
 * by the launcher in its own process group with a parent-death signal): when it dies the console
 * is restarted as when socat dies.
 */
export class ShellinaboxConsole extends IpmitoolSocatConsole {
  override readonly name = 'ipmitool-shellinabox' as const;
  private readonly servers = new Map<string, ShellinaboxServer>();

  constructor(
    ctx: BrokerContext,
    private readonly siab: ShellinaboxOptions,
  ) {
    super(ctx, siab);
  }

  /** How clients reach it: https with a certificate, else http. */
  get urlScheme(): 'http' | 'https' {
    return this.siab.certDir ? 'https' : 'http';
  }

  private siabSocket(uuid: string): string {
    return this.ctx.pidDir.socketPath(uuid).replace(/\.sock$/, '.siab.sock');
  }

  override async prepare(node: NodeRecord): Promise<SocatPeer> {
    await super.prepare(node); // the node's broker and the UNIX socket its relays join
    const running = this.servers.get(node.uuid);
    if (!running?.alive) await this.startServer(node.uuid);
    // a browser keeps two connections per terminal (its long poll and its keystrokes)
    return { unixSocket: this.siabSocket(node.uuid), maxClients: 2 * this.settings().maxViewers + 8 };
  }

  companion(uuid: string): CompanionProcess | undefined {
    return this.servers.get(uuid);
  }

  private async startServer(uuid: string): Promise<void> {
    const certDir = this.siab.certDir;
    if (certDir) {
      await access(join(certDir, 'certificate.pem')).catch(() => {
        throw new Error(`SOLGATE_TERMINAL_CERT_DIR: ${join(certDir, 'certificate.pem')} is missing or unreadable (shellinaboxd wants the key and certificate in it, PEM)`);
      });
    }
    const socketPath = this.siabSocket(uuid);
    await rm(socketPath, { force: true });
    const argv = buildShellinaboxArgv({
      socketPath,
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      cwd: this.ctx.pidDir.dir,
      command: ['perl', shellinaboxRelayScript(), this.ctx.pidDir.leaseFile, this.ctx.pidDir.socketPath(uuid)],
      certDir: certDir || undefined,
    });
    const server = new ShellinaboxServer(this.siab.launcher, argv, socketPath);
    this.servers.set(uuid, server);
    try {
      await server.start(this.siab.startTimeoutMs);
    } catch (e) {
      if (this.servers.get(uuid) === server) this.servers.delete(uuid);
      await server.stop(0);
      await rm(socketPath, { force: true });
      throw e;
    }
    this.ctx.log.info({ node: uuid, pid: server.pid }, 'shellinaboxd started');
  }

  private async stopServer(uuid: string): Promise<void> {
    const server = this.servers.get(uuid);
    this.servers.delete(uuid);
    if (server) await server.stop(this.siab.killTimeoutMs);
    await rm(this.siabSocket(uuid), { force: true });
  }

  /** After the broker closed (its viewers told why): shellinaboxd goes too. */
  protected override async afterClose(node: NodeRecord): Promise<void> {
    try {
      await this.stopServer(node.uuid);
    } finally {
      await super.afterClose(node);
    }
  }

  override async close(): Promise<void> {
    await super.close();
    await Promise.all([...this.servers.keys()].map((u) => this.stopServer(u).catch((e) => this.ctx.log.warn({ node: u, err: errorMessage(e) }, 'stopping shellinaboxd failed'))));
  }
}

/**
 * One node's shellinaboxd: started through the launcher (own process group, parent-death signal),
 * ready when it says it listens on its socket, stopped by killing its group (its launcher child and
 * every session's relay). Emits 'unexpected-exit' (a description) when it dies without being stopped.
 */
class ShellinaboxServer extends EventEmitter implements CompanionProcess {
  private child: LaunchedProcess | undefined;
  private exited = false;
  private stopping = false;
  private readonly lines: string[] = [];

  constructor(
    private readonly launcher: Launcher,
    private readonly argv: string[],
    private readonly socketPath: string,
  ) {
    super();
  }

  /**
   * shellinaboxd runs each session under a supervisor of its own in a new session (setsid, for the
   * pty), outside its process group: killing the group leaves those behind, reparented to init.
   * They are found by the node's socket in their command line and killed with their relay.
   */
  reapSessions(): void {
    for (const pid of processesWithArg(`--unixdomain-only=${this.socketPath}:`)) {
      for (const child of childrenOf(pid)) signal(child, 'SIGKILL');
      signal(pid, 'SIGKILL');
    }
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get alive(): boolean {
    return !!this.child && !this.exited && !this.stopping;
  }

  onUnexpectedExit(listener: (description: string) => void): void {
    if (this.exited && !this.stopping) setImmediate(() => listener(this.describe('exited')));
    else this.once('unexpected-exit', listener);
  }

  async start(timeoutMs: number): Promise<void> {
    this.reapSessions(); // a predecessor's, after a crash of this conductor's launcher
    const { command, args } = buildShellinaboxCommand(this.argv);
    const child = this.launcher.spawn(command, args);
    this.child = child;
    let ready!: () => void;
    const listening = new Promise<'ready'>((resolve) => (ready = () => resolve('ready')));
    child.on('line', (line: string) => {
      this.lines.push(line);
      if (this.lines.length > 20) this.lines.shift();
      if (/Listening on unix domain socket/.test(line)) ready();
    });
    const exited = new Promise<'exited'>((resolve) =>
      child.once('exit', ({ code, signal }: { code: number | null; signal: NodeJS.Signals | null }) => {
        this.exited = true;
        this.lines.push(signal ? `killed by signal ${signal}` : `exit status ${code}`);
        resolve('exited');
        if (this.stopping) return;
        this.reapSessions();
        this.emit('unexpected-exit', this.describe('exited'));
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const first = await Promise.race([listening, exited, timeout]);
    clearTimeout(timer);
    if (first === 'ready') return;
    this.stopping = true; // the caller stops it; nobody is listening for its exit yet
    throw new Error(first === 'timeout' ? this.describe(`did not listen within ${timeoutMs} ms`) : this.describe('exited before listening'));
  }

  private describe(what: string): string {
    const said = this.lines.filter((l) => !/^\[http\]/.test(l)).slice(-2).join('; ');
    return `shellinaboxd ${what}${said ? `: ${said}` : ''}`;
  }

  /** SIGTERM to the group, SIGKILL after killTimeoutMs; resolves when shellinaboxd is gone. Idempotent. */
  async stop(killTimeoutMs: number): Promise<void> {
    this.stopping = true;
    const pid = this.child?.pid;
    if (!pid || this.exited) return;
    const gone = new Promise<void>((resolve) => this.child!.once('exit', () => resolve()));
    signalGroup(pid, 'SIGTERM');
    const hard = setTimeout(() => signalGroup(pid, 'SIGKILL'), killTimeoutMs);
    let watching = true;
    const dead = (async () => {
      while (watching && isAlive(pid)) await sleep(5);
    })();
    await Promise.race([gone, dead]);
    watching = false;
    clearTimeout(hard);
    signalGroup(pid, 'SIGKILL'); // what is left of the group: its launcher child
    this.reapSessions();
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* gone */
  }
}
