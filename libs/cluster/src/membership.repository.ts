import type { Redis } from 'ioredis';
import { Keys, registerLuaScripts, runScript } from '#libs/redis';
import { listSolgateConnections, type NamedConnection } from './client-list.js';
import type { ClusterSnapshot, MemberDetails, MemberState, MemberView } from './member.model.js';

export interface HeartbeatResult {
  status: 'OK' | 'ERR_DUPLICATE';
  redisNowMs: number;
  clusterIncarnation: string;
  joined: boolean;
  drained: boolean;
}

/**
 * Membership in Redis, on Redis's clock: a sorted set of member id → last heartbeat (Redis TIME),
 * the current incarnation per id, and a details hash per member. Used by conductors (heartbeats)
 * and by the CLI (reads, drain); the Lua scripts are the only writers of the sorted set.
 */
export class MembershipRepository {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {
    registerLuaScripts(redis);
  }

  async heartbeat(
    id: string,
    incarnation: string,
    details: MemberDetails,
    timeoutMs: number,
    newClusterIncarnation: string,
    hbClientId = '',
  ): Promise<HeartbeatResult> {
    const fields = [
      'api_url', details.apiUrl,
      'console_address', details.consoleAddress,
      'group', details.group,
      'hostname', details.hostname,
      'pid', String(details.pid),
      'version', details.version,
      'state', 'alive',
    ];
    const k = this.keys;
    const [status, now, ci, joined, drained] = await runScript<[string, number, string, number, number]>(
      this.redis,
      'heartbeatMember',
      [k.members(), k.memberIncarnations(), k.member(id), k.clusterIncarnation(), k.drained()],
      [id, incarnation, timeoutMs, newClusterIncarnation, k.events(), hbClientId, ...fields],
    );
    return { status: status as HeartbeatResult['status'], redisNowMs: Number(now), clusterIncarnation: ci, joined: joined === 1, drained: drained === 1 };
  }

  /**
   * Take `id` out if it still is `incarnation`; true when done. 'left' forgets it; 'dead' keeps it
   * listed (alive: false) until it rejoins.
   */
  async remove(id: string, incarnation: string, reason: 'left' | 'dead'): Promise<boolean> {
    const k = this.keys;
    const res = await runScript<number>(this.redis, 'removeMember', [k.members(), k.memberIncarnations(), k.member(id)], [id, incarnation, k.events(), reason]);
    return res === 1;
  }

  /** Mark a member as leaving (out of the ring, still holding its claims while it hands them over). */
  async setState(id: string, incarnation: string, state: MemberState): Promise<void> {
    const cur = await this.redis.hget(this.keys.memberIncarnations(), id);
    if (cur !== incarnation) return;
    await this.redis.multi().hset(this.keys.member(id), 'state', state).publish(this.keys.events(), `member:${id}:${state}`).exec();
  }

  async setDrained(id: string, drained: boolean): Promise<void> {
    const m = this.redis.multi();
    if (drained) m.sadd(this.keys.drained(), id);
    else m.srem(this.keys.drained(), id);
    await m.publish(this.keys.events(), `member:${id}:${drained ? 'drained' : 'undrained'}`).exec();
  }

  /**
   * Start a takeover hold of `ms` (no-op if one is running); true if this call started it.
   *
   * With `instance` (the Redis run_id this conductor just noticed as new): a conductor that reaches a
   * master late — it had reconnected to the restarted old one until Sentinel demoted it — must not
   * hold the cluster a second time (chaos seed 4163771008: consoles handed to it stayed down for its
   * fresh hold). So no new hold when this instance was already held for (`takeover-hold-run-id`) AND
   * another member heartbeats here now (so this dataset is the one the cluster has been writing to).
   * Back on an instance the cluster left for a while (a split-brain flip), the heartbeats read old and
   * the hold is started again: its data may miss what was written elsewhere.
   */
  async holdTakeovers(ms: number, instance?: { runId: string; memberId: string; freshWithinMs: number }): Promise<boolean> {
    if (instance && (await this.redis.getset(this.keys.takeoverHoldRunId(), instance.runId)) === instance.runId) {
      const res = await this.redis.pipeline().time().zrevrange(this.keys.members(), '0', '1', 'WITHSCORES').exec();
      const [sec, usec] = (res?.[0]?.[1] ?? ['0', '0']) as [string, string];
      const nowMs = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
      const top = (res?.[1]?.[1] ?? []) as string[];
      for (let i = 0; i + 1 < top.length; i += 2)
        if (top[i] !== instance.memberId && nowMs - Number(top[i + 1]) <= instance.freshWithinMs) return false;
    }
    return (await this.redis.set(this.keys.takeoverHold(), '1', 'PX', Math.max(1, Math.round(ms)), 'NX')) === 'OK';
  }

  /** Everything about membership at one Redis instant (two round trips). */
  async snapshot(timeoutMs: number): Promise<ClusterSnapshot> {
    const k = this.keys;
    const res = await this.redis
      .pipeline()
      .time()
      .zrange(k.members(), '0', '-1', 'WITHSCORES')
      .hgetall(k.memberIncarnations())
      .smembers(k.drained())
      .exists(k.takeoverHold())
      .exec();
    if (!res) throw new Error('membership snapshot failed');
    for (const [err] of res) if (err) throw err;
    const [sec, usec] = res[0][1] as [string, string];
    const nowMs = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    const flat = res[1][1] as string[];
    const incarnations = res[2][1] as Record<string, string>;
    const drained = new Set(res[3][1] as string[]);
    const takeoverHold = (res[4][1] as number) === 1;
    const ids: string[] = [];
    const scores: number[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      ids.push(flat[i]);
      scores.push(Number(flat[i + 1]));
    }
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(k.member(id));
    const details = ids.length ? ((await pipe.exec()) ?? []) : [];
    const members: MemberView[] = ids.map((id, i) => {
      const h = (details[i]?.[1] ?? {}) as Record<string, string>;
      // live = its incarnation is registered (a detected crash unregisters it) and its heartbeat is recent
      const registered = incarnations[id] !== undefined;
      return {
        id,
        incarnation: incarnations[id] ?? h.incarnation ?? '',
        apiUrl: h.api_url ?? '',
        consoleAddress: h.console_address ?? '',
        group: h.group ?? '',
        hostname: h.hostname ?? '',
        pid: Number(h.pid ?? 0),
        version: h.version ?? '',
        state: !registered ? 'dead' : h.state === 'leaving' ? 'leaving' : 'alive',
        drained: drained.has(id),
        lastHeartbeatMs: scores[i],
        joinedAtMs: Number(h.joined_at ?? scores[i]),
        alive: registered && nowMs - scores[i] <= timeoutMs,
      };
    });
    return { nowMs, members, takeoverHold };
  }

  /**
   * Is `id` alive with exactly `incarnation` right now? Read fresh (not from a cached view), and the
   * member's heartbeat connection must still be there: a killed process's connections vanish at once,
   * well before the failure detector confirms the crash. API answers that hand out console URLs use it.
   */
  async isLiveNow(id: string, incarnation: string, timeoutMs: number): Promise<boolean> {
    const k = this.keys;
    const res = await this.redis.pipeline().time().hget(k.memberIncarnations(), id).zscore(k.members(), id).hget(k.member(id), 'hb_client').exec();
    if (!res) return false;
    for (const [err] of res) if (err) throw err;
    const [sec, usec] = res[0][1] as [string, string];
    const nowMs = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    const score = res[2][1] as string | null;
    if (res[1][1] !== incarnation || score === null || nowMs - Number(score) > timeoutMs) return false;
    const clientId = res[3][1] as string | null;
    if (!clientId) return true; // not reported (yet): the heartbeat alone decides
    try {
      const line = (await this.redis.call('CLIENT', 'LIST', 'ID', clientId)) as string;
      return line.includes(` name=solgate:${k.prefix}:${id}:`);
    } catch {
      return true; // CLIENT LIST not allowed for this user: the heartbeat alone decides
    }
  }

  /** This connection's CLIENT ID (reported with heartbeats, see isLiveNow). */
  async clientId(): Promise<string> {
    return String(await this.redis.client('ID'));
  }

  /** The Redis server's run_id (changes when Redis restarts or fails over). */
  async redisRunId(): Promise<string | undefined> {
    const info = (await this.redis.info('server')) as string;
    return /run_id:(\w+)/.exec(info)?.[1];
  }

  /** Connections that carry a solgate conductor's name (the failure detector's first channel). */
  async connections(): Promise<NamedConnection[]> {
    return listSolgateConnections(this.redis, this.keys.prefix);
  }

  async incarnationOf(id: string): Promise<string | null> {
    return this.redis.hget(this.keys.memberIncarnations(), id);
  }

  /** Members an operator drained (including ones not currently registered). */
  async drainedIds(): Promise<string[]> {
    return this.redis.smembers(this.keys.drained());
  }
}
