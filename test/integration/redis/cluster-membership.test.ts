import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { ClusterSettingsRepository, connectionName, MembershipRepository, type ClusterSettings, type MemberDetails } from '#libs/cluster';
import { Keys } from '#libs/redis';
import { uniquePrefix } from '../../support/fixtures.js';
import { RedisServer } from '../../support/redis-server.js';

const details: MemberDetails = { apiUrl: 'http://127.0.0.1:1', consoleAddress: '127.0.0.1', group: '', hostname: 'h', pid: 1, version: '0' };
const ours: ClusterSettings = { ringVnodes: 160, heartbeatTimeoutMs: 5000, portRange: { start: 10000, stop: 20000 } };

/** Membership and cluster settings scripts against a real redis-server. */
describe('membership and cluster settings (Redis)', () => {
  let server: RedisServer;
  let redis: Redis;

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    await redis.quit();
    await server.stop();
  });

  it('takeover holds: one per new Redis instance while the cluster writes to it; again when the cluster comes back to an instance it had left', async () => {
    // found by the chaos seed 4163771008: after a Redis restart with a Sentinel failover, one conductor
    // reached the promoted master 10 s after the others; its fresh hold kept 66 consoles handed to it down for 5.6 s
    const keys = new Keys(uniquePrefix('hold'));
    const repo = new MembershipRepository(redis, keys);
    const on = (runId: string, memberId = 'c3') => ({ runId, memberId, freshWithinMs: 1000 });
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    expect(await repo.holdTakeovers(150, on('run-A', 'c1'))).toBe(true); // the first to notice
    expect(await redis.exists(keys.takeoverHold())).toBe(1);
    await repo.heartbeat('c1', 'i-c1', details, 5000, 'ci'); // the cluster writes here
    await pause(200);
    expect(await repo.holdTakeovers(150, on('run-A'))).toBe(false); // a late conductor: no second hold
    expect(await redis.exists(keys.takeoverHold())).toBe(0);
    expect(await repo.holdTakeovers(150, on('run-A', 'c1'))).toBe(true); // only its own heartbeat here: not proof
    await pause(200);
    // the cluster went elsewhere and came back (a split-brain flip): the heartbeats here are old
    await redis.zadd(keys.members(), Date.now() - 3000, 'c1');
    expect(await repo.holdTakeovers(150, on('run-A'))).toBe(true);
    await pause(200);
    expect(await repo.holdTakeovers(150, on('run-B'))).toBe(true); // the next restart or failover
    expect(await repo.holdTakeovers(150)).toBe(false); // a hold is running (a new, empty dataset: no run id)
    await pause(200);
    expect(await repo.holdTakeovers(150)).toBe(true);
  });

  it('keeps a crashed member listed (alive: false, state dead) until it rejoins; a member that left is forgotten', async () => {
    const keys = new Keys(uniquePrefix('mem'));
    const repo = new MembershipRepository(redis, keys);
    for (const id of ['c1', 'c2', 'c3']) await repo.heartbeat(id, `i-${id}`, details, 5000, 'ci');
    expect(await repo.remove('c2', 'i-c2', 'dead')).toBe(true);
    expect(await repo.remove('c3', 'i-c3', 'left')).toBe(true);
    let members = (await repo.snapshot(5000)).members;
    expect(members.map((m) => [m.id, m.alive, m.state])).toEqual([
      ['c1', true, 'alive'],
      ['c2', false, 'dead'],
    ]);
    expect(await repo.isLiveNow('c2', 'i-c2', 5000)).toBe(false);
    expect(await repo.remove('c2', 'i-c2', 'dead')).toBe(false); // once
    const r = await repo.heartbeat('c2', 'i-c2b', details, 5000, 'ci');
    expect(r.joined).toBe(true);
    members = (await repo.snapshot(5000)).members;
    expect(members.find((m) => m.id === 'c2')).toMatchObject({ alive: true, state: 'alive', incarnation: 'i-c2b' });
  });

  it('isLiveNow: live only while the member’s heartbeat connection is still there', async () => {
    const prefix = uniquePrefix('live');
    const keys = new Keys(prefix);
    const hb = new Redis(server.url, { connectionName: connectionName(prefix, 'c1', 'i1', 'hb') });
    try {
      const mine = new MembershipRepository(hb, keys);
      await mine.heartbeat('c1', 'i1', details, 5000, 'ci', await mine.clientId());
      const reader = new MembershipRepository(redis, keys);
      expect(await reader.isLiveNow('c1', 'i1', 5000)).toBe(true);
      expect(await reader.isLiveNow('c1', 'other', 5000)).toBe(false);
      hb.disconnect(); // the process died: its sockets close at once
      await new Promise((r) => setTimeout(r, 50));
      expect(await reader.isLiveNow('c1', 'i1', 5000)).toBe(false);
    } finally {
      if (hb.status !== 'end') hb.disconnect();
    }
  });

  it('cluster settings: the first conductor publishes, the same values match, different ones are refused while others run by them', async () => {
    const keys = new Keys(uniquePrefix('set'));
    const settings = new ClusterSettingsRepository(redis, keys);
    const members = new MembershipRepository(redis, keys);
    expect(await settings.read()).toBeUndefined();
    expect((await settings.publish('c1', ours)).status).toBe('PUBLISHED');
    await members.heartbeat('c1', 'i1', details, 5000, 'ci');
    expect((await settings.publish('c2', ours)).status).toBe('SAME');
    const other = { ...ours, ringVnodes: 80 };
    const r = await settings.publish('c2', other);
    expect(r).toMatchObject({ status: 'MISMATCH', settings: ours, writtenBy: 'c1' });
    expect(await settings.read()).toEqual(ours);
    // every conductor gone (c1 left): the next one to start publishes its own values
    await members.remove('c1', 'i1', 'left');
    await redis.hset(keys.clusterSettings(), 'written_at', 0);
    expect(await settings.publish('c2', other)).toMatchObject({ status: 'REPLACED', settings: other, writtenBy: 'c2' });
    expect(await settings.read()).toEqual(other);
  });

  it('cluster settings: two conductors starting together with different values — the second is refused even before the first heartbeats', async () => {
    const keys = new Keys(uniquePrefix('set2'));
    const settings = new ClusterSettingsRepository(redis, keys);
    expect((await settings.publish('c1', ours)).status).toBe('PUBLISHED');
    expect((await settings.publish('c2', { ...ours, heartbeatTimeoutMs: 10_000 })).status).toBe('MISMATCH');
    // but a restarted c1 may change its own fresh values (nobody else runs by them)
    expect((await settings.publish('c1', { ...ours, portRange: { start: 30000, stop: 31000 } })).status).toBe('REPLACED');
  });
});
