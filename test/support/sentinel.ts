import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freeTcpPort } from './ports.js';
import { RedisServer } from './redis-server.js';
import { waitFor } from './wait.js';

export interface SentinelOptions {
  /** How long the master must be unreachable before Sentinel fails over (default 1000 ms). */
  downAfterMs?: number;
  failoverTimeoutMs?: number;
}

/**
 * A real Sentinel setup on loopback: a master, a replica and one redis-sentinel (quorum 1) watching
 * them under the name `mymaster`. `failover()` asks Sentinel to promote the replica.
 */
export class SentinelSetup {
  master!: RedisServer;
  replica!: RedisServer;
  sentinelPort = 0;
  private sentinel: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'solgate-sentinel-'));

  static async start(opts: SentinelOptions = {}): Promise<SentinelSetup> {
    const s = new SentinelSetup();
    s.master = await RedisServer.start({ appendonly: true });
    s.replica = await RedisServer.start({ appendonly: true, args: ['--replicaof', '127.0.0.1', String(s.master.port)] });
    s.sentinelPort = await freeTcpPort();
    const conf = join(s.dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${s.sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${s.dir}`,
        `sentinel monitor mymaster 127.0.0.1 ${s.master.port} 1`,
        `sentinel down-after-milliseconds mymaster ${opts.downAfterMs ?? 1000}`,
        `sentinel failover-timeout mymaster ${opts.failoverTimeoutMs ?? 5000}`,
        'sentinel parallel-syncs mymaster 1',
        '',
      ].join('\n'),
    );
    s.sentinel = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'redis-sentinel', conf], { stdio: 'ignore' });
    await waitFor(async () => (await s.masterPort()) === s.master.port && (await s.replicaLinkUp()), { timeoutMs: 15_000, intervalMs: 100, what: 'Sentinel to watch master and replica' });
    return s;
  }

  get url(): string {
    return `redis-sentinel://127.0.0.1:${this.sentinelPort}/mymaster`;
  }

  private async sentinelCall<T>(...args: string[]): Promise<T | undefined> {
    const c = new Redis({ port: this.sentinelPort, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    c.on('error', () => {});
    try {
      await c.connect();
      return (await c.call(...(args as [string, ...string[]]))) as T;
    } catch {
      return undefined;
    } finally {
      c.disconnect();
    }
  }

  async masterPort(): Promise<number | undefined> {
    const r = await this.sentinelCall<string[]>('SENTINEL', 'get-master-addr-by-name', 'mymaster');
    return r ? Number(r[1]) : undefined;
  }

  private async replicaLinkUp(): Promise<boolean> {
    const c = this.replica.client();
    try {
      return /master_link_status:up/.test(await c.info('replication'));
    } finally {
      await c.quit();
    }
  }

  /** Promote the replica; resolves once Sentinel reports the new master. */
  async failover(): Promise<void> {
    const old = await this.masterPort();
    await this.sentinelCall('SENTINEL', 'FAILOVER', 'mymaster');
    await waitFor(async () => {
      const p = await this.masterPort();
      return p !== undefined && p !== old;
    }, { timeoutMs: 15_000, intervalMs: 50, what: 'Sentinel to switch masters' });
  }

  /** The server that is master right now, as Sentinel says. */
  async currentMaster(): Promise<RedisServer> {
    const port = await this.masterPort();
    return port === this.replica.port ? this.replica : this.master;
  }

  /**
   * A crash and restart of one server (SIGKILL, `downMs` away, then started again on the same port
   * and data). It comes back without --replicaof: Sentinel tells it its role (a master that was
   * replaced while it was away is turned into a replica of the new one).
   */
  async restartServer(server: RedisServer, downMs: number): Promise<void> {
    await server.kill();
    await new Promise((r) => setTimeout(r, downMs));
    await server.start([]);
  }

  async stop(): Promise<void> {
    this.sentinel?.kill('SIGKILL');
    await this.replica?.stop();
    await this.master?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
