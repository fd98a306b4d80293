import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { ClaimRepository } from '#libs/cluster';
import { Keys, loadLuaScripts, RecordProblems, registerLuaScripts, runScript } from '#libs/redis';
import { uniquePrefix } from '../../support/fixtures.js';
import { RedisServer } from '../../support/redis-server.js';
import { waitFor } from '../../support/wait.js';

/**
 * Every branch of every Lua script (libs/redis/lua) against a real redis-server, each test under its
 * own key prefix (BullMQ's way): the fast tier for the cluster's atomic operations, which otherwise
 * run only inside forked conductors. Each script is called with the KEYS and ARGV its header lists,
 * as its repository calls it. `npm run test:lua` runs it alone.
 */
const TIMEOUT_MS = 5000;
const UUID = '6f1f4b1c-9c44-4a36-a3c7-3b9c6c7f0e8a';
const OTHER = '0b4e5a4c-3d2e-4f10-9a8b-7c6d5e4f3a2b';
const THIRD = '11111111-2222-4333-8444-555555555555';
/** node-changes length for the tests (the repositories keep NODE_CHANGES_KEPT). */
const KEPT = 100;

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
  /** Every key under the current prefix with its content (to show a refused call wrote nothing). */
  const snapshot = async () => {
    const out: Record<string, unknown> = {};
    for (const key of (await redis.keys(`${k.prefix}:*`)).sort()) {
      const type = await redis.type(key);
      if (type === 'hash') out[key] = await redis.hgetall(key);
      else if (type === 'zset') out[key] = await redis.zrange(key, '0', '-1', 'WITHSCORES');
      else if (type === 'set') out[key] = (await redis.smembers(key)).sort();
      else if (type === 'string') out[key] = await redis.get(key);
      else out[key] = type;
    }
    return out;
  };

  it('the scripts tested here are every script in libs/redis/lua', () => {
    expect(loadLuaScripts().map((s) => `${s.name}-${s.numberOfKeys ?? 'N'}`)).toEqual([
      'acquireClaim-5',
      'acquireLease-2',
      'allocateConsolePort-6',
      'appendConsoleLogs-N',
      'createNode-7',
      'deleteNode-14',
      'heartbeatMember-5',
      'publishClusterSettings-3',
      'publishConsoleViewers-3',
      'readClaimEpochs-0',
      'reassertClaim-5',
      'releaseLease-1',
      'removeMember-3',
      'setConsoleIntent-4',
      'updateNode-7',
      'writeConsoleStatus-2',
    ]);
  });

  // ------------------------------------------------------------------ membership

  const DETAILS = ['api_url', 'http://c1:6385', 'group', '', 'state', 'alive'];
  const heartbeat = (id: string, inc: string, { fields = DETAILS, newCi = 'ci-1', hbClient = '' }: { fields?: string[]; newCi?: string; hbClient?: string } = {}) =>
    run<[string, number, string, number, number]>(
      'heartbeatMember',
      [k.members(), k.memberIncarnations(), k.member(id), k.clusterIncarnation(), k.drained()],
      [id, inc, TIMEOUT_MS, newCi, k.events(), hbClient, ...fields],
    );

  /** Make `id`'s last heartbeat `ageMs` old (by Redis's clock). */
  const age = async (id: string, ageMs: number) => redis.zadd(k.members(), (await redisNow()) - ageMs, id);

  describe('heartbeatMember-5', () => {
    it('registers a new member: stamps Redis TIME, writes its details and connection id, creates the cluster incarnation, announces the join', async () => {
      const before = await redisNow();
      const [status, now, ci, joined, drained] = await heartbeat('c1', 'i1', { hbClient: '42' });
      expect([status, ci, joined, drained]).toEqual(['OK', 'ci-1', 1, 0]);
      expect(Number(now)).toBeGreaterThanOrEqual(before);
      expect(Number(await redis.zscore(k.members(), 'c1'))).toBe(Number(now));
      expect(await redis.hget(k.memberIncarnations(), 'c1')).toBe('i1');
      expect(await redis.hgetall(k.member('c1'))).toEqual({
        api_url: 'http://c1:6385',
        group: '',
        state: 'alive',
        incarnation: 'i1',
        joined_at: String(now),
        heartbeat_at: String(now),
        hb_client: '42',
      });
      expect(await redis.get(k.clusterIncarnation())).toBe('ci-1');
      await published(['member:c1:joined']);
    });

    it('joins without detail fields: only what the script stamps is written', async () => {
      const [status, now, , joined] = await heartbeat('c1', 'i1', { fields: [] });
      expect([status, joined]).toEqual(['OK', 1]);
      expect(await redis.hgetall(k.member('c1'))).toEqual({ incarnation: 'i1', joined_at: String(now), heartbeat_at: String(now), hb_client: '' });
    });

    it('renews: a later stamp and the new connection id, joined 0, details kept, the existing cluster incarnation returned, nothing announced', async () => {
      const [, first] = await heartbeat('c1', 'i1', { hbClient: '7' });
      await redis.hset(k.member('c1'), 'state', 'leaving');
      await resetEvents();
      const [status, now, ci, joined] = await heartbeat('c1', 'i1', { fields: ['state', 'alive'], newCi: 'ci-other', hbClient: '8' });
      expect([status, ci, joined]).toEqual(['OK', 'ci-1', 0]);
      expect(Number(now)).toBeGreaterThanOrEqual(Number(first));
      expect(await redis.hgetall(k.member('c1'))).toMatchObject({ state: 'leaving', joined_at: String(first), heartbeat_at: String(now), hb_client: '8' }); // details are written on join only
      expect(await redis.get(k.clusterIncarnation())).toBe('ci-1');
      await nothingPublished();
    });

    it('creates the cluster incarnation again when it is missing (a new, empty Redis)', async () => {
      await heartbeat('c1', 'i1');
      await redis.del(k.clusterIncarnation());
      const [, , ci] = await heartbeat('c1', 'i1', { newCi: 'ci-2' });
      expect(ci).toBe('ci-2');
      expect(await redis.get(k.clusterIncarnation())).toBe('ci-2');
    });

    it('rewrites the details when the member hash is gone (a new, empty Redis), as a join', async () => {
      await heartbeat('c1', 'i1');
      await redis.del(k.member('c1'));
      await resetEvents();
      const [, , , joined] = await heartbeat('c1', 'i1');
      expect(joined).toBe(1);
      expect(await redis.hget(k.member('c1'), 'api_url')).toBe('http://c1:6385');
      await published(['member:c1:joined']);
    });

    it('a member the failure detector listed as dead rejoins with the same incarnation: its details are replaced', async () => {
      await heartbeat('c1', 'i1');
      await run('removeMember', [k.members(), k.memberIncarnations(), k.member('c1')], ['c1', 'i1', k.events(), 'dead']);
      const [status, , , joined] = await heartbeat('c1', 'i1');
      expect([status, joined]).toEqual(['OK', 1]);
      const member = await redis.hgetall(k.member('c1'));
      expect(member).toMatchObject({ state: 'alive', incarnation: 'i1' });
      expect(member.departed_at).toBeUndefined();
      expect(await redis.hget(k.memberIncarnations(), 'c1')).toBe('i1');
    });

    it('refuses a second live process with the same member id (ERR_DUPLICATE), changing nothing', async () => {
      await heartbeat('c1', 'i1');
      const before = await snapshot();
      await resetEvents();
      const [status, , ci, joined, drained] = await heartbeat('c1', 'i2', { fields: ['state', 'other'] });
      expect([status, ci, joined, drained]).toEqual(['ERR_DUPLICATE', '', 0, 0]);
      expect(await snapshot()).toEqual(before);
      await nothingPublished();
    });

    it('lets a new incarnation replace one whose heartbeat is older than the timeout (a restart)', async () => {
      await heartbeat('c1', 'i1');
      await age('c1', TIMEOUT_MS + 1000);
      const [status, , , joined] = await heartbeat('c1', 'i2', { fields: ['state', 'alive'] });
      expect([status, joined]).toEqual(['OK', 1]);
      expect(await redis.hget(k.memberIncarnations(), 'c1')).toBe('i2');
      expect(await redis.hgetall(k.member('c1'))).toMatchObject({ incarnation: 'i2', state: 'alive' });
      expect(await redis.hget(k.member('c1'), 'api_url')).toBeNull(); // the old details were replaced, not merged
    });

    it('reports whether an operator drained the member', async () => {
      await redis.sadd(k.drained(), 'c1');
      const [, , , , drained] = await heartbeat('c1', 'i1');
      expect(drained).toBe(1);
      await redis.srem(k.drained(), 'c1');
      expect((await heartbeat('c1', 'i1'))[4]).toBe(0);
    });
  });

  const remove = (id: string, inc: string, reason: 'left' | 'dead') => run<number>('removeMember', [k.members(), k.memberIncarnations(), k.member(id)], [id, inc, k.events(), reason]);

  describe('removeMember-3', () => {
    it("'dead': the incarnation is unregistered at once but the member stays listed (state dead, last heartbeat kept), and the cluster is told", async () => {
      const [, now] = await heartbeat('c1', 'i1', { hbClient: '9' });
      await resetEvents();
      const before = await redisNow();
      expect(await remove('c1', 'i1', 'dead')).toBe(1);
      expect(await redis.hget(k.memberIncarnations(), 'c1')).toBeNull();
      expect(Number(await redis.zscore(k.members(), 'c1'))).toBe(Number(now));
      const member = await redis.hgetall(k.member('c1'));
      expect(member).toMatchObject({ state: 'dead', hb_client: '', api_url: 'http://c1:6385', incarnation: 'i1' });
      expect(Number(member.departed_at)).toBeGreaterThanOrEqual(before);
      await published(['member:c1:dead']);
    });

    it("'left': the member is forgotten (heartbeat, incarnation and details)", async () => {
      await heartbeat('c1', 'i1');
      await heartbeat('c2', 'j1');
      await resetEvents();
      expect(await remove('c1', 'i1', 'left')).toBe(1);
      expect(await redis.zscore(k.members(), 'c1')).toBeNull();
      expect(await redis.hget(k.memberIncarnations(), 'c1')).toBeNull();
      expect(await redis.exists(k.member('c1'))).toBe(0);
      expect(await redis.zscore(k.members(), 'c2')).not.toBeNull(); // the others stay
      await published(['member:c1:left']);
    });

    it('does nothing for another incarnation (already restarted) or an unknown member', async () => {
      await heartbeat('c1', 'i2');
      const before = await snapshot();
      await resetEvents();
      expect(await remove('c1', 'i1', 'left')).toBe(0);
      expect(await remove('c1', 'i1', 'dead')).toBe(0);
      expect(await remove('c9', 'i1', 'left')).toBe(0);
      expect(await snapshot()).toEqual(before);
      await nothingPublished();
    });
  });

  // ------------------------------------------------------------------ claims and console state

  const acquire = (me: string, inc: string, uuid = UUID, floor = 0) =>
    run<[string, number, string]>('acquireClaim', [k.claim(uuid), k.members(), k.memberIncarnations(), k.claimEpoch(), k.takeoverHold()], [me, inc, TIMEOUT_MS, floor]);
  const reassert = (me: string, inc: string, epoch: number, uuid = UUID) =>
    run<[string, number]>('reassertClaim', [k.claim(uuid), k.members(), k.memberIncarnations(), k.claimEpoch(), k.node(uuid)], [me, inc, epoch, TIMEOUT_MS]);

  describe('acquireClaim-5', () => {
    it('TAKEN: a free claim, with a new epoch from the cluster-wide counter and no previous holder', async () => {
      await heartbeat('c1', 'i1');
      const before = await redisNow();
      expect(await acquire('c1', 'i1')).toEqual(['TAKEN', 1, '']);
      expect(await acquire('c1', 'i1', OTHER)).toEqual(['TAKEN', 2, '']);
      expect(await redis.hgetall(k.claim(UUID))).toMatchObject({ member: 'c1', incarnation: 'i1', epoch: '1' });
      expect(Number(await redis.hget(k.claim(UUID), 'since'))).toBeGreaterThanOrEqual(before);
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
      const before = await snapshot();
      expect(await acquire('c2', 'j1')).toEqual(['BUSY', 1, 'c1']);
      expect(await snapshot()).toEqual(before);
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
      await remove('c1', 'i1', 'dead');
      expect(await acquire('c2', 'j1')).toEqual(['TAKEN', 2, 'c1']);
    });

    it('HOLD: the holder looks dead but takeovers are on hold (Redis restart or failover); nothing changes', async () => {
      await heartbeat('c1', 'i1');
      await heartbeat('c2', 'j1');
      await acquire('c1', 'i1');
      await age('c1', TIMEOUT_MS + 1);
      await redis.set(k.takeoverHold(), '1', 'PX', 60_000);
      const before = await snapshot();
      expect(await acquire('c2', 'j1')).toEqual(['HOLD', 1, 'c1']);
      expect(await snapshot()).toEqual(before);
    });

    it('TAKEN despite a hold when the holder is an earlier incarnation of the caller’s own id', async () => {
      await heartbeat('c1', 'i1');
      await acquire('c1', 'i1');
      await age('c1', TIMEOUT_MS + 1);
      await heartbeat('c1', 'i2'); // restarted
      await redis.set(k.takeoverHold(), '1', 'PX', 60_000);
      expect(await acquire('c1', 'i2')).toEqual(['TAKEN', 2, 'c1']);
      expect(await redis.hgetall(k.claim(UUID))).toMatchObject({ member: 'c1', incarnation: 'i2', epoch: '2' });
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

    it('never hands out an epoch at or below the caller’s floor (a failover lost the newest INCRs), and lifts the counter', async () => {
      await heartbeat('c1', 'i1');
      await redis.set(k.claimEpoch(), '3'); // the counter went back from 40 to 3
      expect(await acquire('c1', 'i1', UUID, 40)).toEqual(['TAKEN', 41, '']);
      expect(await redis.get(k.claimEpoch())).toBe('41');
      expect(await acquire('c1', 'i1', OTHER, 10)).toEqual(['TAKEN', 42, '']); // a floor below the counter changes nothing
    });

    it('HOLD: a free claim is not taken while takeovers are on hold (the running console’s claim may have been lost)', async () => {
      await heartbeat('c1', 'i1');
      await redis.set(k.takeoverHold(), '1', 'PX', 60_000);
      const before = await snapshot();
      expect(await acquire('c1', 'i1')).toEqual(['HOLD', 0, '']);
      expect(await snapshot()).toEqual(before);
    });
  });

  describe('reassertClaim-5', () => {
    const enrolled = () => redis.hset(k.node(UUID), 'uuid', UUID);

    it('HELD: the claim is the caller’s with that epoch; nothing changes', async () => {
      await heartbeat('c1', 'i1');
      await enrolled();
      await acquire('c1', 'i1');
      const before = await snapshot();
      expect(await reassert('c1', 'i1', 1)).toEqual(['HELD', 1]);
      expect(await snapshot()).toEqual(before);
    });

    it('REASSERTED: the claim reads older (another holder, or our own older epoch): written back, counter lifted', async () => {
      await heartbeat('c1', 'i1');
      await enrolled();
      await redis.hset(k.claim(UUID), 'member', 'c2', 'incarnation', 'j0', 'epoch', '5');
      await redis.set(k.claimEpoch(), '5');
      expect(await reassert('c1', 'i1', 9)).toEqual(['REASSERTED', 9]);
      expect(await redis.hgetall(k.claim(UUID))).toMatchObject({ member: 'c1', incarnation: 'i1', epoch: '9' });
      expect(await redis.get(k.claimEpoch())).toBe('9');
      await redis.hset(k.claim(UUID), 'epoch', '7');
      expect(await reassert('c1', 'i1', 9)).toEqual(['REASSERTED', 9]);
    });

    it('REASSERTED: the claim reads free while the counter is below the epoch (Redis went back before it was taken)', async () => {
      await heartbeat('c1', 'i1');
      await enrolled();
      await redis.set(k.claimEpoch(), '2');
      expect(await reassert('c1', 'i1', 9)).toEqual(['REASSERTED', 9]);
      expect(await redis.get(k.claimEpoch())).toBe('9');
    });

    it.each([
      ['held by someone with a higher epoch', async () => { await redis.hset(k.claim(UUID), 'member', 'c2', 'incarnation', 'j1', 'epoch', '10'); }],
      ['held by someone with the same epoch', async () => { await redis.hset(k.claim(UUID), 'member', 'c2', 'incarnation', 'j1', 'epoch', '9'); }],
      ['free, the counter at the epoch or above (released or taken normally)', async () => { await redis.set(k.claimEpoch(), '12'); }],
    ])('LOST: %s; nothing changes', async (_why, setup) => {
      await heartbeat('c1', 'i1');
      await enrolled();
      await setup();
      const before = await snapshot();
      expect((await reassert('c1', 'i1', 9))[0]).toBe('LOST');
      expect(await snapshot()).toEqual(before);
    });

    it('LOST when the node is gone, NOT_MEMBER when the caller is not a live member; nothing changes', async () => {
      await heartbeat('c1', 'i1');
      let before = await snapshot();
      expect(await reassert('c1', 'i1', 9)).toEqual(['LOST', 0]);
      expect(await snapshot()).toEqual(before);
      await enrolled();
      await age('c1', TIMEOUT_MS + 1);
      before = await snapshot();
      expect(await reassert('c1', 'i1', 9)).toEqual(['NOT_MEMBER', 0]);
      expect(await reassert('c1', 'i0', 9)).toEqual(['NOT_MEMBER', 0]);
      expect(await snapshot()).toEqual(before);
    });
  });

  const writeStatus = (member: string, inc: string, epoch: number, fields: string[], { release = false, uuid = UUID } = {}) =>
    run<number>('writeConsoleStatus', [k.consoleState(uuid), k.claim(uuid)], [member, inc, epoch, release ? '1' : '0', k.events(), uuid, ...fields]);

  describe('readClaimEpochs-0', () => {
    it('per claim: its epoch when held by exactly this member and incarnation, else 0; -1 for a key of another type; nothing changes', async () => {
      await heartbeat('c1', 'i1');
      await heartbeat('c2', 'j1');
      await acquire('c1', 'i1', UUID); // epoch 1
      await acquire('c2', 'j1', OTHER); // epoch 2
      await redis.set(k.claim(THIRD), 'not a hash');
      const free = '99999999-2222-4333-8444-555555555555';
      const before = await snapshot();
      const read = (member: string, inc: string) => run<number[]>('readClaimEpochs', [], [member, inc, ...[UUID, OTHER, THIRD, free].map((u) => k.claim(u))]);
      expect(await read('c1', 'i1')).toEqual([1, 0, -1, 0]);
      expect(await read('c2', 'j1')).toEqual([0, 2, -1, 0]);
      expect(await read('c1', 'i2')).toEqual([0, 0, -1, 0]); // another incarnation of the same id holds nothing
      expect(await snapshot()).toEqual(before);
      // as the reconciler calls it: the repository, which reports the unreadable key
      const problems = new RecordProblems(60_000);
      const seen: string[] = [];
      problems.onReport = (p) => void seen.push(p.key);
      const repo = new ClaimRepository(redis, k, problems);
      expect(await repo.heldEpochs([UUID, OTHER, THIRD, free], 'c1', 'i1')).toEqual([1, 0, 0, 0]);
      expect(seen).toEqual([k.claim(THIRD)]);
    });
  });

  describe('writeConsoleStatus-2 (fenced by the claim)', () => {
    it('writes when the writer holds the claim with this very epoch, and wakes API calls waiting for the owner', async () => {
      await heartbeat('c1', 'i1');
      await acquire('c1', 'i1');
      await resetEvents();
      expect(await writeStatus('c1', 'i1', 1, ['state', 'running', 'url', 'tcp://127.0.0.1:10000', 'last_error', ''])).toBe(1);
      expect(await redis.hgetall(k.consoleState(UUID))).toEqual({ state: 'running', url: 'tcp://127.0.0.1:10000', last_error: '' });
      expect(await writeStatus('c1', 'i1', 1, ['state', 'stopped'])).toBe(1);
      expect(await redis.hgetall(k.consoleState(UUID))).toEqual({ state: 'stopped', url: 'tcp://127.0.0.1:10000', last_error: '' }); // a patch, not a replacement
      expect(await redis.hgetall(k.claim(UUID))).toMatchObject({ member: 'c1', epoch: '1' }); // kept
      await published([`console:${UUID}`, `console:${UUID}`]);
    });

    it('release: writes, gives the claim up in the same step and nudges the node’s next owner', async () => {
      await heartbeat('c1', 'i1');
      await heartbeat('c2', 'j1');
      await acquire('c1', 'i1');
      await resetEvents();
      expect(await writeStatus('c1', 'i1', 1, ['state', 'stopped'], { release: true })).toBe(1);
      expect(await redis.hgetall(k.consoleState(UUID))).toEqual({ state: 'stopped' });
      expect(await redis.exists(k.claim(UUID))).toBe(0);
      await published([`node:${UUID}`]);
      expect(await acquire('c2', 'j1')).toEqual(['TAKEN', 2, '']); // at once, without waiting for c1 to look dead
    });

    it('a former owner cannot overwrite what the new owner reports, nor release its claim (stale epoch, other member, other incarnation, no claim)', async () => {
      await heartbeat('c1', 'i1');
      await heartbeat('c2', 'j1');
      await acquire('c1', 'i1');
      await age('c1', TIMEOUT_MS + 1);
      await acquire('c2', 'j1'); // epoch 2
      expect(await writeStatus('c2', 'j1', 2, ['state', 'running', 'conductor', 'c2'])).toBe(1);
      const before = await snapshot();
      await resetEvents();
      for (const release of [false, true]) {
        expect(await writeStatus('c1', 'i1', 1, ['state', 'error', 'conductor', 'c1'], { release })).toBe(0);
        expect(await writeStatus('c2', 'j1', 1, ['state', 'error'], { release })).toBe(0);
        expect(await writeStatus('c2', 'j9', 2, ['state', 'error'], { release })).toBe(0);
        expect(await writeStatus('c1', 'i1', 2, ['state', 'error'], { release })).toBe(0);
      }
      expect(await snapshot()).toEqual(before);
      await nothingPublished();
      await redis.del(k.claim(UUID));
      expect(await writeStatus('c2', 'j1', 2, ['state', 'error'])).toBe(0);
      expect(await redis.hget(k.consoleState(UUID), 'state')).toBe('running');
    });
  });

  describe('appendConsoleLogs-N (one call for many nodes’ console log batches)', () => {
    const append = (entries: Array<{ uuid: string; trim: [string, string]; offset: number; data: string | Buffer }>) =>
      runScript<unknown[]>(
        redis,
        'appendConsoleLogs',
        entries.map((e) => k.consoleLog(e.uuid)),
        entries.flatMap((e) => [...e.trim, String(e.offset), e.data]),
      );
    const entries = async (uuid: string) => (await redis.xrangeBuffer(k.consoleLog(uuid), '-', '+')).map(([, f]) => [f[1]!.toString(), f[3]!]);

    it('appends one entry per key, binary-safe, with its offset; returns the ids in order', async () => {
      const bytes = Buffer.from([0, 0xff, 0x0d, 0x0a, 0x7e]);
      const ids = await append([
        { uuid: UUID, trim: ['MAXLEN', '1'], offset: 0, data: 'boot\r\n' },
        { uuid: OTHER, trim: ['MAXLEN', '1'], offset: 7, data: bytes },
      ]);
      expect(ids).toHaveLength(2);
      expect(ids.every((id) => typeof id === 'string' && /^\d+-\d+$/.test(id))).toBe(true);
      expect(await entries(UUID)).toEqual([['0', Buffer.from('boot\r\n')]]);
      expect(await entries(OTHER)).toEqual([['7', bytes]]);
    });

    it('the same key twice in one call keeps their order; MINID trims what is older than the id given', async () => {
      const [first] = (await append([{ uuid: UUID, trim: ['MAXLEN', '1000'], offset: 0, data: 'a' }])) as string[];
      const ids = (await append([
        { uuid: UUID, trim: ['MAXLEN', '1000'], offset: 1, data: 'b' },
        { uuid: UUID, trim: ['MAXLEN', '1000'], offset: 2, data: 'c' },
      ])) as string[];
      expect((await entries(UUID)).map(([o]) => o)).toEqual(['0', '1', '2']);
      // approximate trimming keeps whole macro nodes: only an exact check would show the cut, so check the bound
      await append([{ uuid: UUID, trim: ['MINID', ids[1]!], offset: 3, data: 'd' }]);
      const kept = (await entries(UUID)).map(([o]) => o);
      expect(kept.slice(-2)).toEqual(['2', '3']);
      expect(kept.length).toBeLessThanOrEqual(4);
      expect(first).toBeDefined();
    });

    it('an append that fails (a key of another type) is an error in its slot; the others are written', async () => {
      await redis.set(k.consoleLog(OTHER), 'not a stream');
      const r = await append([
        { uuid: UUID, trim: ['MAXLEN', '10'], offset: 0, data: 'x' },
        { uuid: OTHER, trim: ['MAXLEN', '10'], offset: 0, data: 'y' },
        { uuid: THIRD, trim: ['MAXLEN', '10'], offset: 0, data: 'z' },
      ]);
      expect(typeof r[0]).toBe('string');
      expect(r[1]).toBeInstanceOf(Error);
      expect(String(r[1])).toMatch(/WRONGTYPE/);
      expect(typeof r[2]).toBe('string');
      expect(await redis.get(k.consoleLog(OTHER))).toBe('not a stream');
      expect(await entries(THIRD)).toEqual([['0', Buffer.from('z')]]);
    });
  });

  describe('publishConsoleViewers-3 (fenced by the claim’s incarnation)', () => {
    const viewers = (inc: string, list: string[]) =>
      run<number>('publishConsoleViewers', [k.consoleState(UUID), k.claim(UUID), k.consoleViewers(UUID)], [inc, list.length, JSON.stringify({ incarnation: inc, viewers: list })]);

    it('publishes the count into the console status (stamped with the incarnation) and the list into its own key', async () => {
      await heartbeat('c1', 'i1');
      await acquire('c1', 'i1');
      await writeStatus('c1', 'i1', 1, ['state', 'running']);
      expect(await viewers('i1', ['alice', 'bob'])).toBe(1);
      expect(await redis.hgetall(k.consoleState(UUID))).toEqual({ state: 'running', viewers: '2', viewers_by: 'i1' });
      expect(JSON.parse((await redis.get(k.consoleViewers(UUID)))!)).toEqual({ incarnation: 'i1', viewers: ['alice', 'bob'] });
      expect(await viewers('i1', [])).toBe(1);
      expect(await redis.hget(k.consoleState(UUID), 'viewers')).toBe('0');
    });

    it('0 and nothing written for an incarnation that does not hold the claim, or when nobody does', async () => {
      expect(await viewers('i1', ['alice'])).toBe(0);
      expect(await redis.exists(k.consoleState(UUID), k.consoleViewers(UUID))).toBe(0);
      await heartbeat('c1', 'i1');
      await acquire('c1', 'i1');
      await age('c1', TIMEOUT_MS + 1);
      await heartbeat('c2', 'j1');
      await acquire('c2', 'j1');
      await viewers('j1', ['carol']);
      const before = await snapshot();
      expect(await viewers('i1', ['alice', 'bob'])).toBe(0); // the former owner
      expect(await snapshot()).toEqual(before);
    });
  });

  it('ClaimRepository.scanClaimedUuids finds every claim under its prefix and none under another', async () => {
    await heartbeat('c1', 'i1');
    await acquire('c1', 'i1', UUID);
    await acquire('c1', 'i1', OTHER);
    const mine = k;
    k = new Keys(uniquePrefix('lua-other'));
    await heartbeat('c1', 'i1');
    await acquire('c1', 'i1', THIRD);
    expect((await new ClaimRepository(redis, mine).scanClaimedUuids()).sort()).toEqual([OTHER, UUID].sort());
  });

  // ------------------------------------------------------------------ leases

  const LEASE = 'ironic-sync';
  const acquireLease = (token: string, holder: string, ttlMs = 60_000) => run<[string, string, string]>('acquireLease', [k.lease(LEASE), k.leaseEpoch(LEASE)], [token, holder, ttlMs]);
  const releaseLease = (token: string) => run<number>('releaseLease', [k.lease(LEASE)], [token]);

  describe('acquireLease-2', () => {
    it('TAKEN: a free lease, with a new epoch and the ttl set', async () => {
      expect(await acquireLease('t1', 'c1', 30_000)).toEqual(['TAKEN', '1', 'c1']);
      expect(await redis.hgetall(k.lease(LEASE))).toEqual({ token: 't1', holder: 'c1', epoch: '1' });
      const ttl = await redis.pttl(k.lease(LEASE));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(30_000);
    });

    it('RENEWED: the holder’s token resets the ttl, keeping the epoch', async () => {
      await acquireLease('t1', 'c1');
      await redis.pexpire(k.lease(LEASE), 1000);
      expect(await acquireLease('t1', 'c1', 60_000)).toEqual(['RENEWED', '1', 'c1']);
      expect(await redis.pttl(k.lease(LEASE))).toBeGreaterThan(1000);
      expect(await redis.get(k.leaseEpoch(LEASE))).toBe('1');
    });

    it('BUSY: another token holds it; the holder’s epoch and name are returned and nothing changes', async () => {
      await acquireLease('t1', 'c1');
      const before = await snapshot();
      expect(await acquireLease('t2', 'c2')).toEqual(['BUSY', '1', 'c1']);
      expect(await snapshot()).toEqual(before);
    });

    it('TAKEN with a higher epoch once the holder’s lease has expired', async () => {
      await acquireLease('t1', 'c1', 50);
      await waitFor(async () => (await redis.exists(k.lease(LEASE))) === 0 || undefined, { timeoutMs: 5000, what: 'the lease to expire' });
      expect(await acquireLease('t2', 'c2')).toEqual(['TAKEN', '2', 'c2']);
      expect(await redis.hgetall(k.lease(LEASE))).toEqual({ token: 't2', holder: 'c2', epoch: '2' });
    });
  });

  describe('releaseLease-1', () => {
    it('releases a lease the token holds, so a successor takes it at once with a higher epoch', async () => {
      await acquireLease('t1', 'c1');
      expect(await releaseLease('t1')).toBe(1);
      expect(await redis.exists(k.lease(LEASE))).toBe(0);
      expect(await acquireLease('t2', 'c2')).toEqual(['TAKEN', '2', 'c2']);
    });

    it('0 for another token (the lease is kept) or a lease that is not there', async () => {
      expect(await releaseLease('t1')).toBe(0);
      await acquireLease('t1', 'c1');
      expect(await releaseLease('t2')).toBe(0);
      expect(await redis.hgetall(k.lease(LEASE))).toEqual({ token: 't1', holder: 'c1', epoch: '1' });
    });
  });

  // ------------------------------------------------------------------ cluster settings

  const settings = (me: string, vnodes = 64, timeoutMs = TIMEOUT_MS, range = '10000:10100') =>
    run<[string, string, string, string, string]>('publishClusterSettings', [k.clusterSettings(), k.members(), k.memberIncarnations()], [me, vnodes, timeoutMs, range]);
  /** Make the published settings `ageMs` old. */
  const ageSettings = async (ageMs: number) => redis.hset(k.clusterSettings(), 'written_at', (await redisNow()) - ageMs);

  describe('publishClusterSettings-3', () => {
    it('PUBLISHED: none were published, the caller’s are now (with who wrote them, and when)', async () => {
      const before = await redisNow();
      expect(await settings('c1')).toEqual(['PUBLISHED', '64', String(TIMEOUT_MS), '10000:10100', 'c1']);
      const h = await redis.hgetall(k.clusterSettings());
      expect(h).toMatchObject({ ring_vnodes: '64', heartbeat_timeout_ms: String(TIMEOUT_MS), port_range: '10000:10100', written_by: 'c1' });
      expect(Number(h.written_at)).toBeGreaterThanOrEqual(before);
    });

    it('SAME: the caller’s values are the published ones (whoever published them); nothing is written', async () => {
      await heartbeat('c1', 'i1');
      await settings('c1');
      const before = await snapshot();
      expect(await settings('c2')).toEqual(['SAME', '64', String(TIMEOUT_MS), '10000:10100', 'c1']);
      expect(await settings('c1')).toEqual(['SAME', '64', String(TIMEOUT_MS), '10000:10100', 'c1']);
      expect(await snapshot()).toEqual(before);
    });

    it.each([
      ['ring_vnodes', [128, TIMEOUT_MS, '10000:10100']],
      ['heartbeat_timeout_ms', [64, 9000, '10000:10100']],
      ['port_range', [64, TIMEOUT_MS, '20000:20100']],
    ] as const)('MISMATCH (%s differs): another live conductor runs with the published values; they are returned and nothing is written', async (_field, [vnodes, timeoutMs, range]) => {
      await heartbeat('c1', 'i1');
      await settings('c1');
      await ageSettings(TIMEOUT_MS + 1000);
      const before = await snapshot();
      expect(await settings('c2', vnodes, timeoutMs, range)).toEqual(['MISMATCH', '64', String(TIMEOUT_MS), '10000:10100', 'c1']);
      expect(await snapshot()).toEqual(before);
    });

    it('MISMATCH: published moments ago by another conductor (two starting together with different values), even if it looks dead', async () => {
      await settings('c1'); // c1 never heartbeated
      expect(await settings('c2', 128)).toEqual(['MISMATCH', '64', String(TIMEOUT_MS), '10000:10100', 'c1']);
      expect(await redis.hget(k.clusterSettings(), 'ring_vnodes')).toBe('64');
    });

    it('REPLACED: the published values differ and nobody else is alive by them (a whole cluster restarted with new settings)', async () => {
      await heartbeat('c1', 'i1');
      await settings('c1');
      await age('c1', TIMEOUT_MS + 1000); // c1 is gone
      await ageSettings(TIMEOUT_MS + 1000);
      const before = await redisNow();
      expect(await settings('c2', 128, 9000, '20000:20100')).toEqual(['REPLACED', '128', '9000', '20000:20100', 'c2']);
      const h = await redis.hgetall(k.clusterSettings());
      expect(h).toMatchObject({ ring_vnodes: '128', heartbeat_timeout_ms: '9000', port_range: '20000:20100', written_by: 'c2' });
      expect(Number(h.written_at)).toBeGreaterThanOrEqual(before);
    });

    it('REPLACED: the caller itself published the old values moments ago (it restarted with new ones) and is the only member', async () => {
      await heartbeat('c1', 'i1');
      await settings('c1');
      expect(await settings('c1', 128)).toEqual(['REPLACED', '128', String(TIMEOUT_MS), '10000:10100', 'c1']);
    });

    it('REPLACED: a member whose incarnation is unregistered (crashed, confirmed dead) does not count as alive', async () => {
      await heartbeat('c1', 'i1');
      await settings('c1');
      await ageSettings(TIMEOUT_MS + 1000);
      await remove('c1', 'i1', 'dead'); // still listed with a fresh heartbeat, but not live
      expect((await settings('c2', 128))[0]).toBe('REPLACED');
    });

    it('liveness is judged by the published heartbeat timeout, not the caller’s', async () => {
      await heartbeat('c1', 'i1');
      await settings('c1'); // timeout 5 s
      await ageSettings(TIMEOUT_MS + 1000);
      await age('c1', TIMEOUT_MS + 1000); // dead by 5 s, alive by the caller's 60 s
      expect(await settings('c2', 64, 60_000)).toEqual(['REPLACED', '64', '60000', '10000:10100', 'c2']);
    });
  });

  // ------------------------------------------------------------------ nodes

  type CreateOpts = { name?: string; spec?: string; at?: number; instance?: string; fixed?: number | ''; kept?: number };
  const create = (uuid: string, { name = '', spec = '{"x":1}', at = 1000, instance = '', fixed = '', kept = KEPT }: CreateOpts = {}) =>
    run<string | [string, string]>(
      'createNode',
      [k.node(uuid), k.nodes(), k.nodeNames(), k.nodeInstances(), k.nodesVersion(), k.nodeChanges(), k.consolePorts()],
      [uuid, name, spec, at, instance, kept, fixed],
    );
  type UpdateOpts = { name?: string; spec?: string; instance?: string; consoleChanged?: boolean; fixed?: number | ''; oldFixed?: number | '' };
  const update = (uuid: string, rev: number, { name = '', spec = '{"x":2}', instance = '', consoleChanged = false, fixed = '', oldFixed = '' }: UpdateOpts = {}) =>
    run<number | string | [string, string]>(
      'updateNode',
      [k.node(uuid), k.nodeNames(), k.nodesVersion(), k.nodeInstances(), k.nodeChanges(), k.consolePorts(), k.consolePortsFree()],
      [uuid, rev, spec, name, 2000, k.events(), instance, consoleChanged ? '1' : '0', KEPT, fixed, oldFixed],
    );
  const intent = (uuid: string, enabled: boolean, kept = KEPT) =>
    run<[number, number] | string>('setConsoleIntent', [k.node(uuid), k.consoleEnabled(), k.nodesVersion(), k.nodeChanges()], [uuid, enabled ? '1' : '0', 3000, k.events(), kept]);
  const del = (uuid: string) =>
    run<number>(
      'deleteNode',
      [
        k.node(uuid),
        k.nodes(),
        k.nodeNames(),
        k.consoleEnabled(),
        k.consoleState(uuid),
        k.claim(uuid),
        k.nodesVersion(),
        k.nodeInstances(),
        k.nodeChanges(),
        k.consolePorts(),
        k.consolePortsFree(),
        k.consoleLog(uuid),
        k.consoleAudit(uuid),
        k.consoleViewers(uuid),
      ],
      [uuid, k.events(), KEPT],
    );
  const version = async () => Number((await redis.get(k.nodesVersion())) ?? 0);
  /** node-changes as uuid → the nodes version of its last change. */
  const changes = async () => {
    const flat = await redis.zrange(k.nodeChanges(), '0', '-1', 'WITHSCORES');
    const out: Record<string, number> = {};
    for (let i = 0; i < flat.length; i += 2) out[flat[i]] = Number(flat[i + 1]);
    return out;
  };
  const freePorts = async () => (await redis.zrange(k.consolePortsFree(), '0', '-1')).map(Number);

  // ------------------------------------------------------------------ console ports

  /** The console port range of these tests: [start, stop). */
  const RANGE = [20000, 20010] as const;
  const allocate = (uuid: string, { range = RANGE as readonly [number, number], fixed = '' as number | '', kept = KEPT } = {}) =>
    run<[string, number, string?]>(
      'allocateConsolePort',
      [k.node(uuid), k.consolePorts(), k.consolePortPool(), k.consolePortsFree(), k.nodesVersion(), k.nodeChanges()],
      [uuid, range[0], range[1], fixed, kept],
    );

  describe('createNode-7', () => {
    it('creates the record and indexes uuid (by creation time), name and instance; logs the change; publishes nothing', async () => {
      await resetEvents();
      expect(await create(UUID, { name: 'n1', spec: '{"a":1}', at: 1234, instance: 'inst-1' })).toBe('OK');
      expect(await redis.hgetall(k.node(UUID))).toEqual({ spec: '{"a":1}', rev: '1', crev: '1', name: 'n1', instance: 'inst-1', enabled: '0', generation: '0', updated_at: '' });
      expect(await redis.zrange(k.nodes(), '0', '-1', 'WITHSCORES')).toEqual([UUID, '1234']);
      expect(await redis.hgetall(k.nodeNames())).toEqual({ n1: UUID });
      expect(await redis.hgetall(k.nodeInstances())).toEqual({ 'inst-1': UUID });
      expect(await redis.hlen(k.consolePorts())).toBe(0);
      expect(await version()).toBe(1);
      expect(await changes()).toEqual({ [UUID]: 1 });
      await nothingPublished(); // readers find new nodes through the nodes version
    });

    it('a node without a name or instance takes neither', async () => {
      expect(await create(UUID)).toBe('OK');
      expect(await redis.hgetall(k.node(UUID))).toMatchObject({ name: '', instance: '' });
      expect(await redis.exists(k.nodeNames(), k.nodeInstances())).toBe(0);
    });

    it('a fixed console port (ipmi_terminal_port) is taken for the node', async () => {
      expect(await create(UUID, { fixed: 10005 })).toBe('OK');
      expect(await redis.hgetall(k.consolePorts())).toEqual({ '10005': UUID });
      expect(await redis.hget(k.node(UUID), 'port')).toBe('10005');
    });

    it('ERR_UUID, ERR_NAME, ERR_INSTANCE, ERR_PORT (with the holder): nothing is written', async () => {
      await create(UUID, { name: 'n1', instance: 'inst-1', fixed: 10005 });
      const before = await snapshot();
      expect(await create(UUID, { name: 'n2', spec: '{"new":1}' })).toBe('ERR_UUID');
      expect(await create(OTHER, { name: 'n1' })).toBe('ERR_NAME');
      expect(await create(OTHER, { name: 'n2', instance: 'inst-1' })).toBe('ERR_INSTANCE');
      expect(await create(OTHER, { name: 'n2', instance: 'inst-2', fixed: 10005 })).toEqual(['ERR_PORT', UUID]);
      expect(await snapshot()).toEqual(before);
    });

    it('node-changes keeps only the newest entries, each scored by the nodes version of its change', async () => {
      await create(UUID, { kept: 2 });
      await create(OTHER, { kept: 2 });
      await create(THIRD, { kept: 2 });
      expect(await version()).toBe(3);
      expect(await changes()).toEqual({ [OTHER]: 2, [THIRD]: 3 });
    });
  });

  describe('updateNode-7', () => {
    it('replaces the spec when the rev matches: rev + 1, version bumped, change logged, nudge published', async () => {
      await create(UUID, { name: 'n1' });
      await resetEvents();
      expect(await update(UUID, 1, { name: 'n1' })).toBe(2);
      expect(await redis.hgetall(k.node(UUID))).toMatchObject({ spec: '{"x":2}', rev: '2', crev: '1', name: 'n1', updated_at: '2000' });
      expect(await version()).toBe(2);
      expect(await changes()).toEqual({ [UUID]: 2 });
      await published([`node:${UUID}`]);
    });

    it('bumps crev (which restarts a running console) only when a console field changed', async () => {
      await create(UUID);
      expect(await update(UUID, 1, { consoleChanged: true })).toBe(2);
      expect(await redis.hget(k.node(UUID), 'crev')).toBe('2');
      expect(await update(UUID, 2)).toBe(3);
      expect(await redis.hget(k.node(UUID), 'crev')).toBe('2');
    });

    it('a node written before crev existed counts console revisions from its rev', async () => {
      await create(UUID);
      await update(UUID, 1);
      await update(UUID, 2);
      await redis.hdel(k.node(UUID), 'crev');
      expect(await update(UUID, 3)).toBe(4);
      expect(await redis.hget(k.node(UUID), 'crev')).toBe('3');
      await redis.hdel(k.node(UUID), 'crev');
      expect(await update(UUID, 4, { consoleChanged: true })).toBe(5);
      expect(await redis.hget(k.node(UUID), 'crev')).toBe('5');
    });

    it('renames: the old name is freed, the new one indexed; removing the name frees it', async () => {
      await create(UUID, { name: 'n1' });
      expect(await update(UUID, 1, { name: 'n2' })).toBe(2);
      expect(await redis.hgetall(k.nodeNames())).toEqual({ n2: UUID });
      expect(await update(UUID, 2, { name: '' })).toBe(3);
      expect(await redis.hlen(k.nodeNames())).toBe(0);
      expect(await create(OTHER, { name: 'n1' })).toBe('OK');
      expect(await create(THIRD, { name: 'n2' })).toBe('OK');
    });

    it('sets, changes and removes the instance_uuid; an old instance entry now another node’s is left alone', async () => {
      await create(UUID);
      expect(await update(UUID, 1, { instance: 'inst-1' })).toBe(2);
      expect(await redis.hgetall(k.nodeInstances())).toEqual({ 'inst-1': UUID });
      expect(await redis.hget(k.node(UUID), 'instance')).toBe('inst-1');
      expect(await update(UUID, 2, { instance: 'inst-2' })).toBe(3);
      expect(await redis.hgetall(k.nodeInstances())).toEqual({ 'inst-2': UUID });
      expect(await update(UUID, 3)).toBe(4);
      expect(await redis.hlen(k.nodeInstances())).toBe(0);
      expect(await update(UUID, 4, { instance: 'inst-3' })).toBe(5);
      await redis.hset(k.nodeInstances(), 'inst-3', OTHER); // the index says inst-3 is someone else's
      expect(await update(UUID, 5, { instance: 'inst-4' })).toBe(6);
      expect(await redis.hgetall(k.nodeInstances())).toEqual({ 'inst-3': OTHER, 'inst-4': UUID });
    });

    it('ERR_REV, ERR_NAME, ERR_INSTANCE, ERR_PORT (with the holder), ERR_GONE: nothing is written or published', async () => {
      await create(UUID, { name: 'n1', instance: 'inst-1' });
      await create(OTHER, { name: 'n2', instance: 'inst-2', fixed: 10007 });
      const before = await snapshot();
      await resetEvents();
      expect(await update(UUID, 7, { name: 'n1' })).toBe('ERR_REV');
      expect(await update(UUID, 1, { name: 'n2' })).toBe('ERR_NAME');
      expect(await update(UUID, 1, { name: 'n1', instance: 'inst-2' })).toBe('ERR_INSTANCE');
      expect(await update(UUID, 1, { name: 'n1', instance: 'inst-1', fixed: 10007 })).toEqual(['ERR_PORT', OTHER]);
      expect(await update(UUID, 1, { name: 'n3', instance: 'inst-3', fixed: 10007 })).toEqual(['ERR_PORT', OTHER]); // checked first: no half-done rename
      expect(await update(THIRD, 1, { name: 'n3' })).toBe('ERR_GONE');
      expect(await snapshot()).toEqual(before);
      await nothingPublished();
    });

    it('a new fixed console port is taken (out of the free ports) and the port held before goes back to the free ports', async () => {
      await create(UUID, { fixed: 10001 });
      await redis.zadd(k.consolePortsFree(), 10002, 10002); // released earlier by another node
      expect(await update(UUID, 1, { fixed: 10002, oldFixed: 10001 })).toBe(2);
      expect(await redis.hgetall(k.consolePorts())).toEqual({ '10002': UUID });
      expect(await redis.hget(k.node(UUID), 'port')).toBe('10002');
      expect(await freePorts()).toEqual([10001]);
    });

    it('keeping the same fixed port changes nothing about ports; a port held by the node itself is no conflict', async () => {
      await create(UUID, { fixed: 10001 });
      expect(await update(UUID, 1, { fixed: 10001, oldFixed: 10001 })).toBe(2);
      expect(await redis.hgetall(k.consolePorts())).toEqual({ '10001': UUID });
      await redis.hdel(k.node(UUID), 'port'); // the node forgot its port, the index did not
      expect(await update(UUID, 2, { fixed: 10001, oldFixed: 10001 })).toBe(3);
      expect(await redis.hget(k.node(UUID), 'port')).toBe('10001');
      expect(await freePorts()).toEqual([]);
    });

    it('removing the fixed port gives it back (the next start allocates one from the range)', async () => {
      await create(UUID, { fixed: 10001 });
      expect(await update(UUID, 1, { oldFixed: 10001 })).toBe(2);
      expect(await redis.hlen(k.consolePorts())).toBe(0);
      expect(await redis.hget(k.node(UUID), 'port')).toBeNull();
      expect(await freePorts()).toEqual([10001]);
    });

    it('a port allocated from the range is kept by an update that touches no fixed port', async () => {
      await create(UUID);
      await allocate(UUID);
      expect(await update(UUID, 1)).toBe(2);
      expect(await redis.hget(k.node(UUID), 'port')).toBe(String(RANGE[0]));
      expect(await redis.hgetall(k.consolePorts())).toEqual({ [RANGE[0]]: UUID });
    });

    it('a fixed port set on a node holding a range port frees the range port', async () => {
      await create(UUID);
      await allocate(UUID);
      expect(await update(UUID, 1, { fixed: 10050 })).toBe(2);
      expect(await redis.hgetall(k.consolePorts())).toEqual({ '10050': UUID });
      expect(await freePorts()).toEqual([RANGE[0]]);
    });
  });

  describe('setConsoleIntent-4', () => {
    it('ERR_GONE for a node that is not there; nothing written', async () => {
      expect(await intent(UUID, true)).toBe('ERR_GONE');
      expect(await snapshot()).toEqual({});
    });

    it('ERR_TYPE for a damaged record (the key is not a hash); nothing written or published', async () => {
      await redis.set(k.node(UUID), 'not a hash');
      const before = await snapshot();
      await resetEvents();
      expect(await intent(UUID, true)).toBe('ERR_TYPE');
      expect(await intent(UUID, false)).toBe('ERR_TYPE');
      expect(await snapshot()).toEqual(before);
      await nothingPublished();
    });

    it('each disabled→enabled transition bumps the generation; setting the current state changes nothing', async () => {
      await create(UUID, { name: 'n1' });
      await resetEvents();
      expect(await intent(UUID, true)).toEqual([1, 1]);
      expect(await redis.smembers(k.consoleEnabled())).toEqual([UUID]);
      expect(await redis.hgetall(k.node(UUID))).toMatchObject({ enabled: '1', generation: '1', updated_at: '3000' });
      expect(await intent(UUID, true)).toEqual([0, 1]); // already enabled: Ironic answers 202 and does nothing
      expect(await intent(UUID, false)).toEqual([1, 1]); // disabling keeps the generation
      expect(await redis.scard(k.consoleEnabled())).toBe(0);
      expect(await intent(UUID, false)).toEqual([0, 1]);
      expect(await intent(UUID, true)).toEqual([1, 2]); // Nova's reset: a new generation, so the owner restarts
      expect(await version()).toBe(4); // the creation and the three changes
      expect(await changes()).toEqual({ [UUID]: 4 });
      await published([`node:${UUID}`, `node:${UUID}`, `node:${UUID}`]);
    });

    it('node-changes keeps only the newest entries', async () => {
      await create(UUID);
      await create(OTHER);
      expect(await intent(UUID, true, 1)).toEqual([1, 1]);
      expect(await changes()).toEqual({ [UUID]: 3 });
    });
  });

  describe('deleteNode-14', () => {
    it('deletes the node and everything kept about it, frees its name, instance and port, logs the change and nudges', async () => {
      await heartbeat('c1', 'i1');
      await create(UUID, { name: 'n1', instance: 'inst-1', fixed: 10003 });
      await create(OTHER, { name: 'n2', instance: 'inst-2', fixed: 10004 });
      await intent(UUID, true);
      await intent(OTHER, true);
      await acquire('c1', 'i1');
      await writeStatus('c1', 'i1', 1, ['state', 'running']);
      await resetEvents();
      expect(await del(UUID)).toBe(1);
      for (const key of [k.node(UUID), k.consoleState(UUID), k.claim(UUID)]) expect(await redis.exists(key)).toBe(0);
      expect(await redis.zrange(k.nodes(), '0', '-1')).toEqual([OTHER]);
      expect(await redis.hgetall(k.nodeNames())).toEqual({ n2: OTHER });
      expect(await redis.hgetall(k.nodeInstances())).toEqual({ 'inst-2': OTHER });
      expect(await redis.hgetall(k.consolePorts())).toEqual({ '10004': OTHER });
      expect(await freePorts()).toEqual([10003]);
      expect(await redis.smembers(k.consoleEnabled())).toEqual([OTHER]);
      expect(await version()).toBe(5);
      expect(await changes()).toEqual({ [OTHER]: 4, [UUID]: 5 });
      await published([`node:${UUID}`]);
      // the name, instance and port are anyone's again
      expect(await create(THIRD, { name: 'n1', instance: 'inst-1', fixed: 10003 })).toBe('OK');
    });

    it('a port allocated from the range goes back to the free ports and is the next one handed out', async () => {
      await create(UUID);
      await create(OTHER);
      await create(THIRD);
      expect(await allocate(UUID)).toEqual(['OK', RANGE[0]]);
      expect(await allocate(OTHER)).toEqual(['OK', RANGE[0] + 1]);
      expect(await del(UUID)).toBe(1);
      expect(await freePorts()).toEqual([RANGE[0]]);
      expect(await allocate(THIRD)).toEqual(['OK', RANGE[0]]);
    });

    it('leaves a name, instance or port that now belongs to another node alone', async () => {
      await create(UUID, { name: 'n1', instance: 'inst-1', fixed: 10003 });
      await redis.hset(k.nodeNames(), 'n1', OTHER); // the indexes say they are someone else's
      await redis.hset(k.nodeInstances(), 'inst-1', OTHER);
      await redis.hset(k.consolePorts(), '10003', OTHER);
      expect(await del(UUID)).toBe(1);
      expect(await redis.hgetall(k.nodeNames())).toEqual({ n1: OTHER });
      expect(await redis.hgetall(k.nodeInstances())).toEqual({ 'inst-1': OTHER });
      expect(await redis.hgetall(k.consolePorts())).toEqual({ '10003': OTHER });
      expect(await freePorts()).toEqual([]);
    });

    it('deletes a damaged record (a key of another type), freeing whatever the indexes give it, however large they are', async () => {
      await create(OTHER, { name: 'n2', instance: 'inst-2', fixed: 10009 });
      await redis.set(k.node(UUID), 'garbage');
      await redis.zadd(k.nodes(), 5, UUID);
      await redis.sadd(k.consoleEnabled(), UUID);
      await redis.hset(k.nodeNames(), 'n1', UUID, 'n1-alias', UUID);
      await redis.hset(k.nodeInstances(), 'inst-1', UUID);
      await redis.hset(k.consolePorts(), '10001', UUID, '10002', UUID);
      // more entries than one HSCAN page (1000): the scan must follow its cursor to the end
      const filler: string[] = [];
      for (let i = 0; i < 2500; i++) filler.push(`filler-${i}`, THIRD);
      await redis.hset(k.nodeNames(), ...filler);
      await redis.hset(k.nodeNames(), 'zz-last', UUID);
      await resetEvents();
      expect(await del(UUID)).toBe(1);
      expect(await redis.exists(k.node(UUID))).toBe(0);
      const names = await redis.hgetall(k.nodeNames());
      expect(Object.entries(names).filter(([, u]) => u === UUID)).toEqual([]);
      expect(names.n2).toBe(OTHER);
      expect(Object.keys(names)).toHaveLength(2501);
      expect(await redis.hgetall(k.nodeInstances())).toEqual({ 'inst-2': OTHER });
      expect(await redis.hgetall(k.consolePorts())).toEqual({ '10009': OTHER });
      expect(await freePorts()).toEqual([10001, 10002]);
      expect(await redis.zrange(k.nodes(), '0', '-1')).toEqual([OTHER]);
      expect(await redis.scard(k.consoleEnabled())).toBe(0);
      expect((await changes())[UUID]).toBe(await version());
      await published([`node:${UUID}`]);
    });

    it('removes the console history with the node (log, audit trail, viewers), and another node’s stays', async () => {
      await create(UUID);
      await create(OTHER, { name: 'n2' });
      for (const u of [UUID, OTHER]) {
        await redis.xadd(k.consoleLog(u), '*', 'o', '0', 'd', 'boot');
        await redis.xadd(k.consoleAudit(u), '*', 'e', 'attach');
        await redis.set(k.consoleViewers(u), '{"viewers":[]}');
      }
      expect(await del(UUID)).toBe(1);
      expect(await redis.exists(k.consoleLog(UUID), k.consoleAudit(UUID), k.consoleViewers(UUID))).toBe(0);
      expect(await redis.exists(k.consoleLog(OTHER), k.consoleAudit(OTHER), k.consoleViewers(OTHER))).toBe(3);
    });

    it('0 for a node that is not there, changing nothing and publishing nothing', async () => {
      await create(OTHER, { name: 'n2' });
      await redis.hset(k.nodeNames(), 'stale', UUID); // an index entry alone is no node
      const before = await snapshot();
      await resetEvents();
      expect(await del(UUID)).toBe(0);
      expect(await snapshot()).toEqual(before);
      await nothingPublished();
    });
  });

  describe('allocateConsolePort-6', () => {
    it('ERR_GONE for a node that is not there; nothing written', async () => {
      expect(await allocate(UUID)).toEqual(['ERR_GONE', 0]);
      expect(await snapshot()).toEqual({});
    });

    it('first use: the range’s first port, recorded on the node and in the ports index; the cursor moves; the change is logged', async () => {
      await create(UUID);
      expect(await allocate(UUID)).toEqual(['OK', 20000]);
      expect(await redis.hget(k.node(UUID), 'port')).toBe('20000');
      expect(await redis.hgetall(k.consolePorts())).toEqual({ '20000': UUID });
      expect(await redis.hgetall(k.consolePortPool())).toEqual({ start: '20000', stop: '20010', next: '20001' });
      expect(await version()).toBe(2);
      expect(await changes()).toEqual({ [UUID]: 2 });
    });

    it('sticky: a node keeps its port (across disable/enable); asking again writes nothing', async () => {
      await create(UUID);
      await create(OTHER);
      await allocate(UUID);
      await intent(UUID, true);
      await intent(UUID, false);
      await intent(UUID, true);
      const before = await snapshot();
      expect(await allocate(UUID)).toEqual(['OK', 20000]);
      expect(await allocate(UUID)).toEqual(['OK', 20000]);
      expect(await snapshot()).toEqual(before);
      expect(await allocate(OTHER)).toEqual(['OK', 20001]);
    });

    it('the cursor skips ports already held (a fixed port inside the range)', async () => {
      await create(UUID);
      await create(OTHER, { fixed: 20001 });
      await create(THIRD);
      expect(await allocate(UUID)).toEqual(['OK', 20000]);
      expect(await allocate(THIRD)).toEqual(['OK', 20002]);
      expect(await redis.hget(k.consolePortPool(), 'next')).toBe('20003');
      expect(await redis.hgetall(k.consolePorts())).toEqual({ '20000': UUID, '20001': OTHER, '20002': THIRD });
    });

    it('released ports are handed out again, lowest first, before the cursor moves', async () => {
      const uuids = Array.from({ length: 5 }, (_, i) => `00000000-0000-4000-8000-00000000000${i}`);
      for (const u of uuids) await create(u);
      for (const u of uuids.slice(0, 3)) await allocate(u); // 20000, 20001, 20002
      await del(uuids[2]);
      await del(uuids[0]);
      expect(await freePorts()).toEqual([20000, 20002]);
      expect(await allocate(uuids[3])).toEqual(['OK', 20000]);
      expect(await allocate(uuids[4])).toEqual(['OK', 20002]);
      await create(THIRD);
      expect(await allocate(THIRD)).toEqual(['OK', 20003]);
      expect(await freePorts()).toEqual([]);
    });

    it('a released port that is outside the range or held again is dropped, not handed out', async () => {
      await create(UUID);
      await create(OTHER);
      await create(THIRD);
      await allocate(UUID); // 20000
      await allocate(OTHER); // 20001
      await redis.zadd(k.consolePortsFree(), 20001, 20001, 30000, 30000);
      expect(await allocate(THIRD)).toEqual(['OK', 20002]);
      expect(await freePorts()).toEqual([]);
      expect(await redis.hgetall(k.consolePorts())).toEqual({ '20000': UUID, '20001': OTHER, '20002': THIRD });
    });

    it('EXHAUSTED when every port of the range is held (nothing given to the node); a port released later is handed out', async () => {
      await create(UUID);
      await create(OTHER);
      await create(THIRD);
      const small = { range: [20000, 20002] as const };
      expect(await allocate(UUID, small)).toEqual(['OK', 20000]);
      expect(await allocate(OTHER, small)).toEqual(['OK', 20001]);
      const v = await version();
      expect(await allocate(THIRD, small)).toEqual(['EXHAUSTED', 0]);
      expect(await allocate(THIRD, small)).toEqual(['EXHAUSTED', 0]);
      expect(await redis.hget(k.node(THIRD), 'port')).toBeNull();
      expect(await redis.hget(k.consolePortPool(), 'next')).toBe('20002');
      expect(await version()).toBe(v);
      await del(UUID);
      expect(await allocate(THIRD, small)).toEqual(['OK', 20000]);
    });

    it('a new range: a port inside it is kept, one outside it is given back; the cursor restarts at the new start, skipping held ports', async () => {
      await create(UUID);
      await create(OTHER);
      await allocate(UUID); // 20000
      await allocate(OTHER); // 20001
      await del(OTHER);
      await create(OTHER);
      await create(THIRD);
      expect(await allocate(OTHER)).toEqual(['OK', 20001]); // from the free ports
      await redis.zadd(k.consolePortsFree(), 20003, 20003); // a free port of the old range
      const next = { range: [20001, 20005] as const };
      expect(await allocate(OTHER, next)).toEqual(['OK', 20001]);
      expect(await allocate(UUID, next)).toEqual(['OK', 20002]);
      expect(await redis.hgetall(k.consolePortPool())).toEqual({ start: '20001', stop: '20005', next: '20003' });
      expect(await redis.hgetall(k.consolePorts())).toEqual({ '20001': OTHER, '20002': UUID });
      expect(await freePorts()).toEqual([]); // the old range's free ports were forgotten with it
      expect(await allocate(THIRD, next)).toEqual(['OK', 20003]);
    });

    it('fixed: a free fixed port is taken (out of the free ports) and a range port held before is given back', async () => {
      await create(UUID);
      await allocate(UUID); // 20000
      await redis.zadd(k.consolePortsFree(), 20007, 20007);
      expect(await allocate(UUID, { fixed: 20007 })).toEqual(['OK', 20007]);
      expect(await redis.hget(k.node(UUID), 'port')).toBe('20007');
      expect(await redis.hgetall(k.consolePorts())).toEqual({ '20007': UUID });
      expect(await freePorts()).toEqual([20000]);
      expect((await changes())[UUID]).toBe(await version());
      const before = await snapshot();
      expect(await allocate(UUID, { fixed: 20007 })).toEqual(['OK', 20007]); // sticky: nothing written
      expect(await snapshot()).toEqual(before);
    });

    it('fixed: a port outside the range is allowed', async () => {
      await create(UUID);
      expect(await allocate(UUID, { fixed: 10005 })).toEqual(['OK', 10005]);
      expect(await redis.hgetall(k.consolePorts())).toEqual({ '10005': UUID });
    });

    it('CONFLICT: the fixed port is held by another node (its uuid returned); nothing written', async () => {
      await create(OTHER, { fixed: 10005 });
      await create(UUID);
      await allocate(UUID);
      const before = await snapshot();
      expect(await allocate(UUID, { fixed: 10005 })).toEqual(['CONFLICT', 10005, OTHER]);
      expect(await snapshot()).toEqual(before);
    });

    it('a former fixed port outside the range is given back when the node falls back to the range', async () => {
      await create(UUID, { fixed: 10005 });
      expect(await allocate(UUID)).toEqual(['OK', 20000]);
      expect(await redis.hgetall(k.consolePorts())).toEqual({ '20000': UUID });
      expect(await redis.hget(k.node(UUID), 'port')).toBe('20000');
    });

    it('a port the ports index gives to another node is not the node’s: it gets another and leaves that one alone', async () => {
      await create(UUID);
      await create(OTHER);
      await allocate(OTHER); // 20000
      await redis.hset(k.node(UUID), 'port', 20000); // a damaged record claims it too
      expect(await allocate(UUID)).toEqual(['OK', 20001]);
      expect(await redis.hgetall(k.consolePorts())).toEqual({ '20000': OTHER, '20001': UUID });
      expect(await freePorts()).toEqual([]);
    });

    it('node-changes keeps only the newest entries', async () => {
      await create(UUID);
      await create(OTHER);
      await allocate(UUID, { kept: 1 });
      expect(await changes()).toEqual({ [UUID]: 3 });
    });
  });
});
