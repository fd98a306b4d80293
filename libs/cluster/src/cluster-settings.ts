import type { Redis } from 'ioredis';
import { Keys, registerLuaScripts, runScript } from '#libs/redis';

/**
 * What every conductor of one cluster must agree on: the ring (vnodes) decides owners, the heartbeat
 * timeout decides who is alive, and the console port range is where sticky ports come from. They
 * live in Redis (one hash, publishClusterSettings-3.lua): the first conductor publishes its values,
 * a conductor started with different ones refuses to start, and the CLI reads them from there.
 */
export interface ClusterSettings {
  ringVnodes: number;
  heartbeatTimeoutMs: number;
  portRange: { start: number; stop: number };
}

export type SettingsPublishStatus = 'PUBLISHED' | 'SAME' | 'REPLACED' | 'MISMATCH';

export interface SettingsPublishResult {
  status: SettingsPublishStatus;
  /** The values in force after the call. */
  settings: ClusterSettings;
  /** Member that wrote them. */
  writtenBy: string;
}

/** Each value that differs, as `SOLGATE_X=<ours> (cluster: <theirs>)` (empty when they agree). */
export function settingsDifferences(ours: ClusterSettings, cluster: ClusterSettings): string[] {
  const out: string[] = [];
  if (ours.ringVnodes !== cluster.ringVnodes) out.push(`SOLGATE_RING_VNODES=${ours.ringVnodes} (cluster: ${cluster.ringVnodes})`);
  if (ours.heartbeatTimeoutMs !== cluster.heartbeatTimeoutMs)
    out.push(`SOLGATE_HEARTBEAT_TIMEOUT=${ours.heartbeatTimeoutMs / 1000} (cluster: ${cluster.heartbeatTimeoutMs / 1000})`);
  if (formatRange(ours.portRange) !== formatRange(cluster.portRange))
    out.push(`SOLGATE_PORT_RANGE=${formatRange(ours.portRange)} (cluster: ${formatRange(cluster.portRange)})`);
  return out;
}

export const formatRange = (r: { start: number; stop: number }) => `${r.start}:${r.stop}`;

function parseRange(s: string | undefined | null): { start: number; stop: number } | undefined {
  const m = /^(\d+):(\d+)$/.exec(s ?? '');
  return m ? { start: Number(m[1]), stop: Number(m[2]) } : undefined;
}

/** A conductor's settings differ from the ones the running cluster uses. */
export class ClusterSettingsMismatchError extends Error {
  constructor(
    readonly differences: string[],
    readonly writtenBy: string,
  ) {
    super(
      `this conductor's settings differ from the cluster's (published by ${writtenBy || 'an earlier conductor'}; other conductors run with them): ` +
        `${differences.join(', ')}. Start it with the cluster's values, or stop every conductor and start them all with the new ones.`,
    );
    this.name = 'ClusterSettingsMismatchError';
    this.stack = `${this.name}: ${this.message}`; // an operator's problem, not a program's: no stack trace
  }
}

export class ClusterSettingsRepository {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {
    registerLuaScripts(redis);
  }

  /** Publish `ours` (first conductor, or a cluster restarted with new values) or compare with what is in force. */
  async publish(memberId: string, ours: ClusterSettings): Promise<SettingsPublishResult> {
    const k = this.keys;
    const [status, vnodes, timeout, range, by] = await runScript<[string, string, string, string, string]>(
      this.redis,
      'publishClusterSettings',
      [k.clusterSettings(), k.members(), k.memberIncarnations()],
      [memberId, ours.ringVnodes, ours.heartbeatTimeoutMs, formatRange(ours.portRange)],
    );
    return {
      status: status as SettingsPublishStatus,
      settings: { ringVnodes: Number(vnodes), heartbeatTimeoutMs: Number(timeout), portRange: parseRange(range) ?? ours.portRange },
      writtenBy: by ?? '',
    };
  }

  /** The settings in force, or undefined when no conductor has published any yet. */
  async read(): Promise<ClusterSettings | undefined> {
    const h = await this.redis.hgetall(this.keys.clusterSettings());
    const range = parseRange(h.port_range);
    if (!h.ring_vnodes || !h.heartbeat_timeout_ms || !range) return undefined;
    return { ringVnodes: Number(h.ring_vnodes), heartbeatTimeoutMs: Number(h.heartbeat_timeout_ms), portRange: range };
  }
}
