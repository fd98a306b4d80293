import { Redis, type RedisOptions } from 'ioredis';

/**
 * One place that turns a solgate Redis URL into an ioredis client.
 *
 *   redis://[user:password@]host:port[/db]       standalone
 *   rediss://...                                  standalone over TLS
 *   redis-sentinel://[password@]h1:p1,h2:p2/master[/db]   Sentinel; the password is the data-node password
 *
 * Every client is named (`CLIENT SETNAME`) so operators and the failure detector can tell whose
 * connection is whose: `<prefix>:<member>:<incarnation>:<role>`.
 */
export interface RedisClientOptions {
  /** Connection name shown in CLIENT LIST. */
  name?: string;
  /**
   * false for latency-critical connections (heartbeats): a command issued while Redis is away fails
   * at once instead of being queued and replayed late.
   */
  offlineQueue?: boolean;
  /** Per-command timeout in ms (ioredis `commandTimeout`). */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Give up connecting after this many attempts (CLI); undefined = retry forever (conductor). */
  maxConnectAttempts?: number;
  lazyConnect?: boolean;
  /**
   * Send the commands issued in one event-loop turn as one write (ioredis enableAutoPipelining): a
   * takeover's thousand claim and status scripts then cost a few round trips, not a thousand writes.
   */
  autoPipelining?: boolean;
}

export interface ParsedRedisUrl {
  kind: 'standalone' | 'sentinel';
  options: RedisOptions;
}

export function parseRedisUrl(url: string): ParsedRedisUrl {
  if (url.startsWith('redis-sentinel://')) {
    const rest = url.slice('redis-sentinel://'.length);
    const at = rest.lastIndexOf('@', rest.indexOf('/') === -1 ? undefined : rest.indexOf('/'));
    const auth = at >= 0 ? decodeURIComponent(rest.slice(0, at)) : undefined;
    const [hostsPart, masterName, db] = rest.slice(at + 1).split('/');
    if (!hostsPart || !masterName) throw new Error('redis-sentinel URL needs hosts and a master name');
    const sentinels = hostsPart.split(',').map((hp) => {
      const i = hp.lastIndexOf(':');
      const host = i > 0 ? hp.slice(0, i) : hp;
      const port = i > 0 ? Number(hp.slice(i + 1)) : 26379;
      return { host: host.replace(/^\[|\]$/g, ''), port };
    });
    let password: string | undefined;
    let username: string | undefined;
    if (auth !== undefined) {
      const colon = auth.indexOf(':');
      if (colon >= 0) {
        username = auth.slice(0, colon) || undefined;
        password = auth.slice(colon + 1);
      } else password = auth;
    }
    return {
      kind: 'sentinel',
      // failoverDetector: follow +switch-master at once instead of waiting for the old master to drop us
      options: { sentinels, name: masterName, password, username, db: db ? Number(db) : 0, failoverDetector: true, sentinelCommandTimeout: 2000 },
    };
  }
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`unsupported Redis URL scheme ${u.protocol}`);
  return {
    kind: 'standalone',
    options: {
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port ? Number(u.port) : 6379,
      username: u.username ? decodeURIComponent(u.username) : undefined,
      password: u.password ? decodeURIComponent(u.password) : undefined,
      db: u.pathname && u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
      tls: u.protocol === 'rediss:' ? {} : undefined,
    },
  };
}

/** A URL with any password replaced, for logs and error messages. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, (_m, auth: string) => (auth.includes(':') ? `//${auth.split(':')[0]}:***@` : '//***@'));
}

/** Clients closed on purpose (closeRedisClient): the only ones that may stay ended. */
const closing = new WeakSet<Redis>();
const RECONNECT_AFTER_END_MS = 200;

export function createRedisClient(url: string, opts: RedisClientOptions = {}): Redis {
  const parsed = parseRedisUrl(url);
  const maxAttempts = opts.maxConnectAttempts;
  const options: RedisOptions = {
    ...parsed.options,
    connectionName: opts.name,
    enableOfflineQueue: opts.offlineQueue ?? true,
    commandTimeout: opts.commandTimeoutMs,
    connectTimeout: opts.connectTimeoutMs ?? 5000,
    lazyConnect: opts.lazyConnect ?? false,
    enableAutoPipelining: opts.autoPipelining ?? false,
    // Conductors retry forever with a short, capped delay; the CLI gives up after a few attempts.
    retryStrategy: (times) => (maxAttempts !== undefined && times >= maxAttempts ? null : Math.min(50 * times, 500)),
    sentinelRetryStrategy: (times) => (maxAttempts !== undefined && times >= maxAttempts ? null : Math.min(50 * times, 500)),
    maxRetriesPerRequest: opts.offlineQueue === false ? 0 : maxAttempts !== undefined ? 1 : null,
    enableReadyCheck: true,
  };
  const client = new Redis(options);
  if (maxAttempts === undefined) {
    // ioredis 6 ends a Sentinel client for good ("Connection is closed.", no more retries) when a
    // failover notice (+switch-master) interrupts a reconnect attempt while it asks Sentinel for the
    // master. A conductor would then heartbeat on one connection with its command connection dead:
    // member of the ring, serving nothing, nobody taking over. A client that retries forever must
    // never end unless we closed it (test/integration/redis/sentinel-reconnect.test.ts).
    client.on('end', () => {
      if (closing.has(client)) return;
      setTimeout(() => {
        if (!closing.has(client) && client.status === 'end') client.connect().catch(() => undefined);
      }, RECONNECT_AFTER_END_MS).unref();
    });
  }
  return client;
}

/** Close a client whatever state it is in; never throws. */
export async function closeRedisClient(client: Redis | undefined): Promise<void> {
  if (!client) return;
  closing.add(client);
  try {
    if (client.status === 'ready') await client.quit();
    else client.disconnect();
  } catch {
    client.disconnect();
  }
}
