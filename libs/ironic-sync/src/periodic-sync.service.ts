import type { Redis } from 'ioredis';
import { errorMessage } from '#libs/common';
import type { ClusterView } from '#libs/cluster';
import type { IronicSyncConfig } from '#libs/config';
import { ConsoleControl } from '#libs/console';
import type { Logger } from '#libs/logging';
import type { ConsoleStatusRepository, NodeRepository } from '#libs/nodes';
import type { Keys } from '#libs/redis';
import { IronicSyncError } from './errors.js';
import { HttpClient } from './http.js';
import { IronicClient } from './ironic-client.js';
import { IronicSync, summaryLine, type SyncSummary } from './ironic-sync.js';
import { KeystoneAuth, StaticTokenAuth, loadCloudConfig, type IronicAuth } from './keystone.js';
import { NodeRepositoryTarget } from './node-target.js';
import { SyncLease } from './sync-lease.js';

export interface PeriodicSyncSettings {
  /** Ironic's URL; may be empty with a cloud (then the catalog's baremetal endpoint). */
  url: string | undefined;
  intervalMs: number;
  token: string | undefined;
  /** clouds.yaml cloud name and the file it is in (secure.yaml beside it is merged). */
  cloud: { name: string; file: string } | undefined;
  memberId: string;
  /** How long the lease lasts without renewal (renewed every third of it). */
  leaseTtlMs?: number;
}

export interface PeriodicSyncDeps {
  redis: Redis;
  keys: Keys;
  nodes: NodeRepository;
  consoles: ConsoleControl;
  log: Logger;
}

export const IRONIC_SYNC_LEASE = 'ironic-sync';

/**
 * The conductor-side periodic Ironic sync (SOLGATE_IRONIC_URL / SOLGATE_IRONIC_CLOUD +
 * SOLGATE_IRONIC_SYNC_INTERVAL). Every conductor runs this service; only the holder of the
 * `ironic-sync` lease syncs, so one pass at a time runs in the cluster, and a successor takes over
 * within one lease ttl when the holder dies (at once when it stops gracefully and releases it).
 * A pass that outlives the lease stops before its next write. Failures are logged and retried at
 * the next interval; they never reach the conductor's other work.
 */
export class PeriodicIronicSync {
  private readonly lease: SyncLease;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastPassStartMs = -Infinity;
  private closing = false;
  private held = false;
  private client: IronicClient | undefined;
  private lastError: string | undefined;
  /** The last pass's summary (for tests and diagnostics). */
  lastSummary: SyncSummary | undefined;

  constructor(
    private readonly settings: PeriodicSyncSettings,
    private readonly deps: PeriodicSyncDeps,
  ) {
    this.lease = new SyncLease(deps.redis, deps.keys, IRONIC_SYNC_LEASE, settings.memberId, settings.leaseTtlMs ?? 15_000);
  }

  private get tickMs(): number {
    return Math.max(50, Math.min(this.settings.intervalMs, this.lease.ttlMs / 3));
  }

  start(): void {
    if (this.timer || this.closing) return;
    this.deps.log.info({ interval_s: this.settings.intervalMs / 1000, ironic: this.settings.url ?? `cloud ${this.settings.cloud?.name}` }, 'periodic Ironic sync enabled');
    const loop = () => {
      this.timer = setTimeout(() => void this.tick().finally(() => !this.closing && loop()), this.tickMs);
    };
    void this.tick().finally(() => !this.closing && loop());
  }

  private async tick(): Promise<void> {
    if (this.closing) return;
    try {
      const st = await this.lease.acquire();
      if (st.held && !this.held) this.deps.log.info({ epoch: st.epoch }, 'took the Ironic sync lease: this conductor syncs');
      if (!st.held && this.held) this.deps.log.info({ holder: st.holder }, 'lost the Ironic sync lease');
      this.held = st.held;
    } catch (e) {
      // Redis away: keep the local deadline (held() runs out on its own)
      this.deps.log.debug({ err: errorMessage(e) }, 'Ironic sync lease renewal failed');
    }
    const now = performance.now();
    if (this.lease.held() && !this.running && now - this.lastPassStartMs >= this.settings.intervalMs) {
      this.lastPassStartMs = now;
      this.running = this.pass().finally(() => (this.running = undefined));
    }
  }

  private auth(): IronicAuth {
    const s = this.settings;
    if (s.cloud) {
      const cloud = loadCloudConfig(s.cloud.name, { clouds: [s.cloud.file], secure: [s.cloud.file.replace(/clouds\.ya?ml$/, 'secure.yaml')] });
      return new KeystoneAuth(cloud, new HttpClient({ caFile: cloud.cacert, insecure: cloud.verify === false }));
    }
    return new StaticTokenAuth(s.token);
  }

  private async ironicClient(): Promise<IronicClient> {
    if (this.client) return this.client;
    const auth = this.auth();
    const url = this.settings.url || (await auth.baremetalEndpoint?.());
    if (!url) throw new IronicSyncError('CONFIG', `no Ironic URL: set SOLGATE_IRONIC_URL or give cloud ${this.settings.cloud?.name} a baremetal endpoint`);
    const http = auth instanceof KeystoneAuth ? new HttpClient({ caFile: auth.cloud.cacert, insecure: auth.cloud.verify === false }) : new HttpClient();
    this.client = new IronicClient(url, auth, http);
    return this.client;
  }

  /** One pass now (also used by tests); resolves when it ends, never rejects. */
  async pass(): Promise<void> {
    const t0 = performance.now();
    try {
      const client = await this.ironicClient();
      client.version = undefined; // negotiate each pass: Ironic may have been upgraded
      const sync = new IronicSync(client, new NodeRepositoryTarget(this.deps.nodes, this.deps.consoles));
      const summary = await sync.run({
        guard: () => {
          if (this.closing || !this.lease.held()) throw new IronicSyncError('LEASE_LOST', 'the Ironic sync lease ran out during the pass; the next holder finishes it');
        },
      });
      this.lastSummary = summary;
      const changed = summary.created + summary.updated + summary.deleted > 0 || summary.skipped.length > 0;
      this.deps.log[changed ? 'info' : 'debug'](
        { epoch: this.lease.epoch, created: summary.created, updated: summary.updated, deleted: summary.deleted, unchanged: summary.unchanged, skipped: summary.skipped.length },
        `Ironic sync: ${summaryLine(summary)}`,
      );
      for (const s of summary.skipped.slice(0, 20)) this.deps.log.warn({ node: s.uuid, name: s.name }, `Ironic sync skipped a node: ${s.reason}`);
      this.lastError = undefined;
    } catch (e) {
      const msg = errorMessage(e);
      // the same failure every interval is logged once at warn, then at debug
      this.deps.log[msg === this.lastError ? 'debug' : 'warn']({ ms: Math.round(performance.now() - t0) }, `Ironic sync failed: ${msg}`);
      this.lastError = msg;
      if (e instanceof IronicSyncError && e.code === 'AUTH') this.client = undefined;
    }
  }

  /** Stop: no new pass, the running one stops before its next write, the lease is released. Idempotent. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
    await this.lease.release();
  }
}

/**
 * The conductor's hook: the started periodic sync when the configuration enables it, else undefined.
 * (The runtime keeps the result and closes it on shutdown, before its Redis connections.)
 */
export function startPeriodicIronicSync(
  config: { ironicSync: IronicSyncConfig | undefined; conductorId: string },
  deps: { redis: Redis; keys: Keys; nodes: NodeRepository; statuses: ConsoleStatusRepository; view: () => ClusterView; log: Logger },
): PeriodicIronicSync | undefined {
  if (!config.ironicSync) return undefined;
  const sync = new PeriodicIronicSync(
    { ...config.ironicSync, memberId: config.conductorId },
    { redis: deps.redis, keys: deps.keys, nodes: deps.nodes, consoles: new ConsoleControl(deps.nodes, deps.statuses, deps.view), log: deps.log.child({ component: 'ironic-sync' }) },
  );
  sync.start();
  return sync;
}
