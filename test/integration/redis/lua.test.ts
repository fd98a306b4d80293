import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { ClaimRepository } from '#libs/cluster';
import { Keys, registerLuaScripts, runScript } from '#libs/redis';
import { uniquePrefix } from '../../support/fixtures.js';
import { RedisServer } from '../../support/redis-server.js';
import { waitFor } from '../../support/wait.js';

/**
 * Every branch of every Lua script (libs/redis/lua) against a real redis-server, each test under its
 * own key prefix (BullMQ's way): the fast tier for the cluster's atomic operations, which otherwise
 * run only inside forked conductors. `npm run test:lua` runs it alone.
 */
const TIMEOUT_MS = 5000;
const UUID = '6f1f4b1c-9c44-4a36-a3c7-3b9c6c7f0e8a';
const OTHER = '0b4e5a4c-3d2e-4f10-9a8b-7c6d5e4f3a2b';

describe('Lua scripts against redis-server', () => {
  let server: RedisServer;
  let redis: Redis;
  let sub: Redis;
  let k: Keys;
  /** Messages published on the current prefix's events channel. */
  let events: string[];

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = server.client();
    registerLuaScripts(redis);
    sub = server.client();
    await sub.psubscribe('*:events');
    sub.on('pmessage', (_p, channel: string, message: string) => {
      if (channel === k?.events()) events.push(message);
    });
  });

  afterAll(async () => {
    await sub?.quit();
    await redis?.quit();
    await server?.stop();
  });

  beforeEach(() => {
    k = new Keys(uniquePrefix('lua'));
    events = [];
  });

  const run = <T>(name: string, keys: string[], args: (string | number)[]) => runScript<T>(redis, name, keys, args);
  const redisNow = async () => {
    const [s, us] = await redis.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  };
  /** Forget the events so far, once every message published before this call has arrived. */
  const resetEvents = async () => {
    await redis.publish(k.events(), 'mark');
    await waitFor(() => events.includes('mark'), { timeoutMs: 2000, what: 'the mark event' });
    events = [];
  };
  /** Nothing was published (checked with a mark that travels behind anything published before). */
  const nothingPublished = async () => {
    await redis.publish(k.events(), 'mark');
    await waitFor(() => events.includes('mark'), { timeoutMs: 2000, what: 'the mark event' });
    expect(events).toEqual(['mark']);
  };
  /** The events channel is asynchronous: wait for `n` messages, then compare. */
  const published = async (expected: string[]) => {
    await waitFor(() => events.length >= expected.length, { timeoutMs: 2000, what: `${expected.length} event(s)` });
    expect(events).toEqual(expected);
  };

  // ------------------------------------------------------------------ membership

  const heartbeat = (id: string, inc: string, fields: string[] = ['api_url', `http://${id}:6385`, 'group', '', 'state', 'alive'], newCi = 'ci-1') =>
    run<[string, number, string, number, number]>('heartbeatMember', [k.members(), k.memberIncarnations(), k.member(id), k.clusterIncarnation(), k.drained()], [id, inc, TIMEOUT_MS, newCi, k.events(), ...fields]);

  /** Make `id`'s last heartbeat `ageMs` old (by Redis's clock). */
  const age = async (id: string, ageMs: number) => redis.zadd(k.members(), (await redisNow()) - ageMs, id);

  describe('heartbeatMember-5', () => {
    it('registers a new member: stamps Redis TIME, writes its details, creates the cluster incarnation, announces the join', async () => {
      const before = await redisNow();
      const [status, now, ci, joined, drained] = await heartbeat('c1', 'i1');
      expect([status, ci, joined, drained]).toEqual(['OK', 'ci-1', 1, 0]);
      expect(Number(now)).toBeGreaterThanOrEqual(before);
      expect(Number(await redis.zscore(k.members(), 'c1'))).toBe(Number(now));
      expect(await redis.hget(k.memberIncarnations(), 'c1')).toBe('i1');
      expect(await redis.hgetall(k.member('c1'))).toEqual({ api_url: 'http://c1:6385', group: '', state: 'alive', incarnation: 'i1', joined_at: String(now), heartbeat_at: String(now) });
      expect(await redis.get(k.clusterIncarnation())).toBe('ci-1');
      await published(['member:c1:joined']);
    });

    it('renews: a later stamp, joined 0, details kept, the existing cluster incarnation returned', async () => {
      await heartbeat('c1', 'i1');
      await redis.hset(k.member('c1'), 'state', 'leaving');
      const [status, , ci, joined] = await heartbeat('c1', 'i1', ['state', 'alive'], 'ci-other');
      expect([status, ci, joined]).toEqual(['OK', 'ci-1', 0]);
      expect(await redis.hget(k.member('c1'), 'state')).toBe('leaving'); // details are written on join only
      await published(['member:c1:joined']);
    });

    it('rewrites the details when the member hash is gone (a new, empty Redis), as a join', async () => {
      await heartbeat('c1', 'i1');
      await redis.del(k.member('c1'));
      const [, , , joined] = await heartbeat('c1', 'i1');
      expect(joined).toBe(1);
      expect(await redis.hget(k.member('c1'), 'api_url')).toBe('http://c1:6385');
    });

    it('refuses a second live process with the same member id (ERR_DUPLICATE), changing nothing', async () => {
      await heartbeat('c1', 'i1');
      const [status, , , joined] = await heartbeat('c1', 'i2');
      expect([status, joined]).toEqual(['ERR_DUPLICATE', 0]);
      expect(await redis.hget(k.memberIncarnations(), 'c1')).toBe('i1');
      expect(await redis.hget(k.member('c1'), 'incarnation')).toBe('i1');
    });

    it('lets a new incarnation replace one whose heartbeat is older than the timeout (a restart)', async () => {
      await heartbeat('c1', 'i1');
      await age('c1', TIMEOUT_MS + 1000);
      const [status, , , joined] = await heartbeat('c1', 'i2', ['state', 'alive']);
      expect([status, joined]).toEqual(['OK', 1]);
      expect(await redis.hget(k.memberIncarnations(), 'c1')).toBe('i2');
      expect(await redis.hgetall(k.member('c1'))).toMatchObject({ incarnation: 'i2', state: 'alive' });
      expect(await redis.hget(k.member('c1'), 'api_url')).toBeNull(); // the old details were replaced, not merged
    });

    it('reports whether an operator drained the member', async () => {
      await redis.sadd(k.drained(), 'c1');
      const [, , , , drained] = await heartbeat('c1', 'i1');
      expect(drained).toBe(1);
    });
  });

  describe('removeMember-3', () => {
    it('removes the member if it still is that incarnation, and announces why', async () => {
      await heartbeat('c1', 'i1');
      await resetEvents();
      expect(await run('removeMember', [k.members(), k.memberIncarnations(), k.member('c1')], ['c1', 'i1', k.events(), 'dead'])).toBe(1);
      expect(await redis.zscore(k.members(), 'c1')).toBeNull();
      expect(await redis.hget(k.memberIncarnations(), 'c1')).toBeNull();
      expect(await redis.exists(k.member('c1'))).toBe(0);
      await published(['member:c1:dead']);
    });

    it('does nothing for another incarnation (already restarted) or an unknown member', async () => {
      await heartbeat('c1', 'i2');
      await resetEvents();
      expect(await run('removeMember', [k.members(), k.memberIncarnations(), k.member('c1')], ['c1', 'i1', k.events(), 'left'])).toBe(0);
      expect(await run('removeMember', [k.members(), k.memberIncarnations(), k.member('c9')], ['c9', 'i1', k.events(), 'left'])).toBe(0);
      expect(await redis.hget(k.memberIncarnations(), 'c1')).toBe('i2');
      expect(await redis.zscore(k.members(), 'c1')).not.toBeNull();
      await nothingPublished();
    });
  });

  // ------------------------------------------------------------------ claims

  const acquire = (me: string, inc: string, uuid = UUID) =>
    run<[string, number, string]>('acquireClaim', [k.claim(uuid), k.members(), k.memberIncarnations(), k.claimEpoch(), k.takeoverHold()], [me, inc, TIMEOUT_MS]);
  const release = (me: string, inc: string, epoch: number | string, uuid = UUID) => run<number>('releaseClaim', [k.claim(uuid)], [me, inc, epoch, k.events(), uuid]);

  describe('acquireClaim-5', () => {
    it('TAKEN: a free claim, with a new epoch from the cluster-wide counter and no previous holder', async () => {
      await heartbeat('c1', 'i1');
      expect(await acquire('c1', 'i1')).toEqual(['TAKEN', 1, '']);
      expect(await acquire('c1', 'i1', OTHER)).toEqual(['TAKEN', 2, '']);
      expect(await redis.hgetall(k.claim(UUID))).toMatchObject({ member: 'c1', incarnation: 'i1', epoch: '1' });
      expect(Number(await redis.hget(k.claim(UUID), 'since'))).toBeGreaterThan(0);
    });

    it('HELD: the caller already holds it; the epoch does not change', async () => {
      await heartbeat('c1', 'i1');
      await acquire('c1', 'i1');
      expect(await acquire('c1', 'i1')).toEqual(['HELD', 1, 'c1']);
      expect(await redis.get(k.claimEpoch())).toBe('1');
    });

    it('BUSY: a live incarnation holds it; nothing changes', async () => {
      await heartbeat('c1', 'i1');
      await heartbeat('c2', 'j1');
      await acquire('c1', 'i1');
      expect(await acquire('c2', 'j1')).toEqual(['BUSY', 1, 'c1']);
      expect(await redis.hget(k.claim(UUID), 'member')).toBe('c1');
    });

    it('TAKEN from a holder whose heartbeat is older than the timeout, with a higher epoch', async () => {
      await heartbeat('c1', 'i1');
      await heartbeat('c2', 'j1');
      await acquire('c1', 'i1');
      await age('c1', TIMEOUT_MS + 1);
      expect(await acquire('c2', 'j1')).toEqual(['TAKEN', 2, 'c1']);
      expect(await redis.hgetall(k.claim(UUID))).toMatchObject({ member: 'c2', incarnation: 'j1', epoch: '2' });
    });

    it('TAKEN from a holder whose incarnation is no longer the member’s (removed, or restarted elsewhere)', async () => {
      await heartbeat('c1', 'i1');
      await heartbeat('c2', 'j1');
      await acquire('c1', 'i1');
      await run('removeMember', [k.members(), k.memberIncarnations(), k.member('c1')], ['c1', 'i1', k.events(), 'dead']);
      expect(await acquire('c2', 'j1')).toEqual(['TAKEN', 2, 'c1']);
    });

    it('HOLD: the holder looks dead but takeovers are on hold (Redis restart or failover); nothing changes', async () => {
      await heartbeat('c1', 'i1');
      await heartbeat('c2', 'j1');
      await acquire('c1', 'i1');
      await age('c1', TIMEOUT_MS + 1);
      await redis.set(k.takeoverHold(), '1', 'PX', 60_000);
      expect(await acquire('c2', 'j1')).toEqual(['HOLD', 1, 'c1']);
      expect(await redis.hget(k.claim(UUID), 'member')).toBe('c1');
    });

    it('TAKEN despite a hold when the holder is an earlier incarnation of the caller’s own id', async () => {
      await heartbeat('c1', 'i1');
      await acquire('c1', 'i1');
      await age('c1', TIMEOUT_MS + 1);
      await heartbeat('c1', 'i2'); // restarted
      await redis.set(k.takeoverHold(), '1', 'PX', 60_000);
      expect(await acquire('c1', 'i2')).toEqual(['TAKEN', 2, 'c1']);
    });

    it.each([
      ['never heartbeated', async () => undefined],
      ['heartbeat older than the timeout', async () => { await heartbeat('c1', 'i1'); await age('c1', TIMEOUT_MS + 1); }],
      ['another incarnation is the member', async () => { await heartbeat('c1', 'i0'); }],
    ])('NOT_MEMBER when the caller itself is not a live member (%s): it must run no console', async (_why, setup) => {
      await setup();
      expect(await acquire('c1', 'i1')).toEqual(['NOT_MEMBER', 0, '']);
      expect(await redis.exists(k.claim(UUID))).toBe(0);
      expect(await redis.get(k.claimEpoch())).toBeNull();
    });

    it('epochs only grow, across nodes and takeovers', async () => {
      await heartbeat('c1', 'i1');
      await heartbeat('c2', 'j1');
      const seen: number[] = [];
      for (let i = 0; i < 5; i++) {
        await heartbeat('c1', 'i1');
        seen.push((await acquire('c1', 'i1'))[1]);
        await age('c1', TIMEOUT_MS + 1);
        await heartbeat('c2', 'j1');
        seen.push((await acquire('c2', 'j1'))[1]);
        await age('c2', TIMEOUT_MS + 1);
      }
      expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });
  });

  describe('releaseClaim-1', () => {
    it('releases a claim held with that member, incarnation and epoch, and nudges the cluster', async () => {
      await heartbeat('c1', 'i1');
      await acquire('c1', 'i1');
      await resetEvents();
      expect(await release('c1', 'i1', 1)).toBe(1);
      expect(await redis.exists(k.claim(UUID))).toBe(0);
      await published([`node:${UUID}`]);
    });

    it.each([
      ['another member', 'c2', 'i1', 1],
      ['another incarnation', 'c1', 'i2', 1],
      ['an older epoch', 'c1', 'i1', 0],
      ['a newer epoch', 'c1', 'i1', 2],
    ])('refuses %s, leaving the claim as it was', async (_what, member, inc, epoch) => {
      await heartbeat('c1', 'i1');
      await acquire('c1', 'i1');
      await resetEvents();
      expect(await release(member, inc, epoch)).toBe(0);
      expect(await redis.hgetall(k.claim(UUID))).toMatchObject({ member: 'c1', incarnation: 'i1', epoch: '1' });
      await nothingPublished();
    });

    it('does nothing for a claim that is not there', async () => {
      expect(await release('c1', 'i1', 1)).toBe(0);
    });
  });

  describe('writeConsoleStatus-2 (fenced by the claim)', () => {
    const write = (member: string, inc: string, epoch: number, fields: string[]) => run<number>('writeConsoleStatus', [k.consoleState(UUID), k.claim(UUID)], [member, inc, epoch, ...fields]);

    it('writes when the writer holds the claim with this very epoch', async () => {
      await heartbeat('c1', 'i1');
      await acquire('c1', 'i1');
      expect(await write('c1', 'i1', 1, ['state', 'running', 'url', 'tcp://127.0.0.1:10000', 'last_error', ''])).toBe(1);
      expect(await redis.hgetall(k.consoleState(UUID))).toEqual({ state: 'running', url: 'tcp://127.0.0.1:10000', last_error: '' });
      expect(await write('c1', 'i1', 1, ['state', 'stopped'])).toBe(1);
      expect(await redis.hget(k.consoleState(UUID), 'state')).toBe('stopped');
    });

    it('a former owner cannot overwrite what the new owner reports (stale epoch, other member, other incarnation, no claim)', async () => {
      await heartbeat('c1', 'i1');
      await heartbeat('c2', 'j1');
      await acquire('c1', 'i1');
      await age('c1', TIMEOUT_MS + 1);
      await acquire('c2', 'j1'); // epoch 2
      expect(await write('c2', 'j1', 2, ['state', 'running', 'conductor', 'c2'])).toBe(1);
      expect(await write('c1', 'i1', 1, ['state', 'error', 'conductor', 'c1'])).toBe(0);
      expect(await write('c2', 'j1', 1, ['state', 'error'])).toBe(0);
      expect(await write('c2', 'j9', 2, ['state', 'error'])).toBe(0);
      expect(await write('c1', 'i1', 2, ['state', 'error'])).toBe(0);
      expect(await redis.hgetall(k.consoleState(UUID))).toEqual({ state: 'running', conductor: 'c2' });
      await release('c2', 'j1', 2);
      expect(await write('c2', 'j1', 2, ['state', 'error'])).toBe(0);
    });
  });

  it('ClaimRepository.scanClaimedUuids finds every claim under its prefix and none under another', async () => {
    await heartbeat('c1', 'i1');
    await acquire('c1', 'i1', UUID);
    await acquire('c1', 'i1', OTHER);
    const mine = k;
    k = new Keys(uniquePrefix('lua-other'));
    await heartbeat('c1', 'i1');
    await acquire('c1', 'i1', '11111111-2222-4333-8444-555555555555');
    expect((await new ClaimRepository(redis, mine).scanClaimedUuids()).sort()).toEqual([OTHER, UUID].sort());
  });

  // ------------------------------------------------------------------ nodes

  const create = (uuid: string, name: string, spec = '{"x":1}', at = 1000) => run<string>('createNode', [k.node(uuid), k.nodes(), k.nodeNames()], [uuid, name, spec, at]);
  const update = (uuid: string, rev: number, name: string, spec = '{"x":2}') => run<number | string>('updateNode', [k.node(uuid), k.nodeNames(), k.nodesVersion()], [uuid, rev, spec, name, 2000, k.events()]);
  const intent = (uuid: string, enabled: boolean) => run<[number, number] | string>('setConsoleIntent', [k.node(uuid), k.consoleEnabled(), k.nodesVersion()], [uuid, enabled ? '1' : '0', 3000, k.events()]);
  const del = (uuid: string) => run<number>('deleteNode', [k.node(uuid), k.nodes(), k.nodeNames(), k.consoleEnabled(), k.consoleState(uuid), k.claim(uuid), k.nodesVersion()], [uuid, k.events()]);
  const version = async () => Number((await redis.get(k.nodesVersion())) ?? 0);

  describe('createNode-3', () => {
    it('creates the record, indexes uuid (by creation time) and name', async () => {
      expect(await create(UUID, 'n1', '{"a":1}', 1234)).toBe('OK');
      expect(await redis.hgetall(k.node(UUID))).toEqual({ spec: '{"a":1}', rev: '1', name: 'n1', enabled: '0', generation: '0', updated_at: '' });
      expect(await redis.zrange(k.nodes(), '0', '-1', 'WITHSCORES')).toEqual([UUID, '1234']);
      expect(await redis.hget(k.nodeNames(), 'n1')).toBe(UUID);
    });

    it('a node without a name takes no name', async () => {
      expect(await create(UUID, '')).toBe('OK');
      expect(await redis.hlen(k.nodeNames())).toBe(0);
    });

    it('ERR_UUID: the uuid exists; ERR_NAME: the name is taken — and nothing is written', async () => {
      await create(UUID, 'n1');
      expect(await create(UUID, 'n2', '{"new":1}')).toBe('ERR_UUID');
      expect(await create(OTHER, 'n1')).toBe('ERR_NAME');
      expect(await redis.hget(k.node(UUID), 'spec')).toBe('{"x":1}');
      expect(await redis.exists(k.node(OTHER))).toBe(0);
      expect(await redis.zcard(k.nodes())).toBe(1);
      expect(await redis.hgetall(k.nodeNames())).toEqual({ n1: UUID });
    });
  });

  describe('updateNode-3', () => {
    it('replaces the spec when the rev matches: rev + 1, version bumped, nudge published', async () => {
      await create(UUID, 'n1');
      expect(await update(UUID, 1, 'n1')).toBe(2);
      expect(await redis.hgetall(k.node(UUID))).toMatchObject({ spec: '{"x":2}', rev: '2', name: 'n1', updated_at: '2000' });
      expect(await version()).toBe(1);
      await published([`node:${UUID}`]);
    });

    it('renames: the old name is freed, the new one indexed; removing the name frees it', async () => {
      await create(UUID, 'n1');
      expect(await update(UUID, 1, 'n2')).toBe(2);
      expect(await redis.hgetall(k.nodeNames())).toEqual({ n2: UUID });
      expect(await update(UUID, 2, '')).toBe(3);
      expect(await redis.hlen(k.nodeNames())).toBe(0);
      expect(await create(OTHER, 'n1')).toBe('OK');
    });

    it('ERR_REV: changed since it was read; ERR_NAME: the name is another node’s; ERR_GONE: deleted — nothing written', async () => {
      await create(UUID, 'n1');
      await create(OTHER, 'n2');
      expect(await update(UUID, 7, 'n1')).toBe('ERR_REV');
      expect(await update(UUID, 1, 'n2')).toBe('ERR_NAME');
      expect(await update('99999999-9999-4999-8999-999999999999', 1, 'n3')).toBe('ERR_GONE');
      expect(await redis.hgetall(k.node(UUID))).toMatchObject({ spec: '{"x":1}', rev: '1', name: 'n1' });
      expect(await redis.hgetall(k.nodeNames())).toEqual({ n1: UUID, n2: OTHER });
      expect(await version()).toBe(0);
      await nothingPublished();
    });
  });

  describe('setConsoleIntent-3', () => {
    it('ERR_GONE for a node that is not there', async () => {
      expect(await intent(UUID, true)).toBe('ERR_GONE');
      expect(await redis.scard(k.consoleEnabled())).toBe(0);
    });

    it('each disabled→enabled transition bumps the generation; setting the current state changes nothing', async () => {
      await create(UUID, 'n1');
      expect(await intent(UUID, true)).toEqual([1, 1]);
      expect(await redis.smembers(k.consoleEnabled())).toEqual([UUID]);
      expect(await redis.hgetall(k.node(UUID))).toMatchObject({ enabled: '1', generation: '1', updated_at: '3000' });
      expect(await intent(UUID, true)).toEqual([0, 1]); // already enabled: Ironic answers 202 and does nothing
      expect(await intent(UUID, false)).toEqual([1, 1]); // disabling keeps the generation
      expect(await redis.scard(k.consoleEnabled())).toBe(0);
      expect(await intent(UUID, false)).toEqual([0, 1]);
      expect(await intent(UUID, true)).toEqual([1, 2]); // Nova's reset: a new generation, so the owner restarts
      expect(await version()).toBe(3); // only the three changes bumped the version
      await published([`node:${UUID}`, `node:${UUID}`, `node:${UUID}`]);
    });
  });

  describe('deleteNode-7', () => {
    it('deletes the node and everything kept about it, bumps the version and nudges', async () => {
      await heartbeat('c1', 'i1');
      await create(UUID, 'n1');
      await create(OTHER, 'n2');
      await intent(UUID, true);
      await acquire('c1', 'i1');
      await redis.hset(k.consoleState(UUID), 'state', 'running');
      await resetEvents();
      expect(await del(UUID)).toBe(1);
      for (const key of [k.node(UUID), k.consoleState(UUID), k.claim(UUID)]) expect(await redis.exists(key)).toBe(0);
      expect(await redis.zrange(k.nodes(), '0', '-1')).toEqual([OTHER]);
      expect(await redis.hgetall(k.nodeNames())).toEqual({ n2: OTHER });
      expect(await redis.scard(k.consoleEnabled())).toBe(0);
      expect(await version()).toBe(2);
      await published([`node:${UUID}`]);
    });

    it('leaves a name that now belongs to another node alone', async () => {
      await create(UUID, 'n1');
      await redis.hset(k.nodeNames(), 'n1', OTHER); // the index says n1 is someone else's
      expect(await del(UUID)).toBe(1);
      expect(await redis.hget(k.nodeNames(), 'n1')).toBe(OTHER);
    });

    it('0 for a node that is not there, changing nothing', async () => {
      expect(await del(UUID)).toBe(0);
      expect(await version()).toBe(0);
    });
  });
});
