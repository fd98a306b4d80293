import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { ManualClock } from '#libs/common';
import type { MemberDetails, MemberView } from './member.model.js';
import type { HeartbeatResult } from './membership.repository.js';
import { MembershipService, type MembershipStore } from './membership.service.js';
import { MembershipState } from './membership.state.js';

const details: MemberDetails = { apiUrl: 'http://127.0.0.1:6385', consoleAddress: '127.0.0.1', group: '', hostname: 'h', pid: 1, version: '0' };

/** Redis as the membership sees it: heartbeats can fail, come back as duplicates, or report a new dataset. */
class FakeStore implements MembershipStore {
  fail = false;
  duplicateOf: string | undefined;
  clusterIncarnation = 'ci-1';
  runId = 'run-1';
  drained = false;
  beats: string[] = [];
  removed: string[] = [];
  holds = 0;
  states: string[] = [];
  private registered = new Set<string>();

  async heartbeat(id: string, incarnation: string): Promise<HeartbeatResult> {
    if (this.fail) throw new Error('Connection is closed.');
    if (this.duplicateOf) return { status: 'ERR_DUPLICATE', redisNowMs: 0, clusterIncarnation: '', joined: false, drained: false };
    this.beats.push(incarnation);
    const joined = !this.registered.has(incarnation);
    this.registered.add(incarnation);
    return { status: 'OK', redisNowMs: 0, clusterIncarnation: this.clusterIncarnation, joined, drained: this.drained };
  }
  async remove(_id: string, incarnation: string) {
    this.removed.push(incarnation);
    if (this.duplicateOf === incarnation) this.duplicateOf = undefined;
    return true;
  }
  async setState(_id: string, _inc: string, state: string) {
    this.states.push(state);
  }
  /** The run id each hold named (undefined: a new, empty dataset). */
  holdRunIds: (string | undefined)[] = [];
  async holdTakeovers(_ms: number, instance?: { runId: string }) {
    this.holds++;
    this.holdRunIds.push(instance?.runId);
    return true;
  }
  members: MemberView[] = [];
  async snapshot() {
    return { nowMs: 0, members: this.members.map((m) => ({ ...m })), takeoverHold: false };
  }
  async incarnationOf() {
    return this.duplicateOf ?? null;
  }
  async clientId() {
    return '7';
  }
  async redisRunId() {
    return this.runId;
  }
  async connections() {
    return [];
  }
}

function setup(opts: { interval?: number; timeout?: number } = {}) {
  const clock = new ManualClock(10_000);
  const store = new FakeStore();
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(c, _e, cb) {
      for (const l of String(c).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  const lease = { grants: [] as number[], revokes: 0, grant(d: number) { this.grants.push(d); }, revoke() { this.revokes++; } };
  const m = new MembershipService(
    { memberId: 'c1', details, heartbeatIntervalMs: opts.interval ?? 1000, heartbeatTimeoutMs: opts.timeout ?? 5000, vnodes: 160 },
    store,
    pino({ level: 'debug', base: { member: 'c1' } }, sink),
    lease,
    clock,
  );
  const events: string[] = [];
  for (const e of ['joined', 'fenced', 'drained', 'newDataset']) m.on(e, () => events.push(e));
  /** Advance the clock in small steps, letting the heartbeat's promises settle in between. */
  const run = async (ms: number, step = 50) => {
    for (let t = 0; t < ms; t += step) {
      clock.advance(Math.min(step, ms - t));
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    }
  };
  return { clock, store, m, events, lease, lines, run };
}

const member = (id: string, incarnation: string, state: MemberView['state'] = 'alive'): MemberView => ({
  ...details,
  id,
  incarnation,
  state,
  drained: false,
  lastHeartbeatMs: 0,
  joinedAtMs: 0,
  alive: state !== 'dead',
});

describe('MembershipService', () => {
  it('a member seen dead that Redis lists alive again (it went back in time) stays out of the ring and is removed again', async () => {
    const { m, store, lines } = setup();
    store.members = [member('c1', 'i1'), member('c2', 'j1')];
    await m.refreshView();
    expect(m.view.members.map((x) => x.id)).toEqual(['c1', 'c2']);
    m.noteCrashed('c2', 'j1'); // our failure detector proved it dead
    store.members = [member('c1', 'i1'), member('c2', 'j1', 'dead')];
    await m.refreshView();
    store.members = [member('c1', 'i1'), member('c2', 'j1')]; // an older copy of Redis: registered and alive
    await m.refreshView();
    expect(m.view.members.map((x) => x.id)).toEqual(['c1']);
    expect(store.removed).toEqual(['j1']);
    expect(lines.some((l) => l.msg === 'a conductor found dead is listed again (Redis went back in time): removing it again' && l.ghost === 'c2')).toBe(true);
    // a new incarnation of c2 (it restarted) is a member like any other
    store.members = [member('c1', 'i1'), member('c2', 'j2')];
    await m.refreshView();
    expect(m.view.members.map((x) => x.id)).toEqual(['c1', 'c2']);
    expect(store.removed).toEqual(['j1']);
  });

  it('a live member that an older copy shows absent, or under an older incarnation, is not a ghost when it is back', async () => {
    const { m, store } = setup();
    store.members = [member('c1', 'i1'), member('c2', 'j2')];
    await m.refreshView();
    store.members = [member('c1', 'i1')]; // the copy predates c2
    await m.refreshView();
    store.members = [member('c1', 'i1'), member('c2', 'j1', 'dead')]; // ... or lists its dead predecessor
    await m.refreshView();
    store.members = [member('c1', 'i1'), member('c2', 'j2', 'dead')]; // ... or reads it dead (someone else removed it; it re-registers)
    await m.refreshView();
    store.members = [member('c1', 'i1'), member('c2', 'j2')]; // c2 heartbeats again
    await m.refreshView();
    expect(m.view.members.map((x) => x.id)).toEqual(['c1', 'c2']);
    expect(store.removed).toEqual([]);
  });

  it('joins on the first heartbeat, then renews the lease every interval', async () => {
    const { m, events, lease, run, store } = setup();
    expect(m.membershipState).toBe(MembershipState.Idle);
    m.start();
    await run(10);
    expect(m.membershipState).toBe(MembershipState.Member);
    expect(events).toEqual(['joined']);
    expect(m.leaseValid()).toBe(true);
    await run(3000);
    expect(store.beats.length).toBe(4);
    expect(lease.grants.at(-1)! - lease.grants[0]).toBeGreaterThanOrEqual(2950);
    m.stop();
  });

  it('leaseValid() is a pure query: past the deadline it answers false without fencing; the lease timer fences', async () => {
    const { m, events, store, run, clock } = setup();
    m.start();
    await run(10);
    store.fail = true;
    const inc = m.incarnation;
    // no timers run here: the clock jumps past the deadline (as after a pause)
    clock.jump(4500);
    expect(m.leaseValid()).toBe(false);
    expect(m.leaseValid()).toBe(false);
    expect(m.membershipState).toBe(MembershipState.Member);
    expect(events).toEqual(['joined']);
    await run(10);
    expect(m.membershipState).toBe(MembershipState.Fenced);
    expect(events).toEqual(['joined', 'fenced']);
    expect(m.incarnation).not.toBe(inc);
    m.stop();
  });

  it('fences when heartbeats fail for the lease (timeout − interval), revokes the lease file, and rejoins under a new incarnation', async () => {
    const { m, events, store, lease, run } = setup();
    m.start();
    await run(10);
    const first = m.incarnation;
    store.fail = true;
    await run(3900);
    expect(m.membershipState).toBe(MembershipState.Member);
    await run(200);
    expect(m.membershipState).toBe(MembershipState.Fenced);
    expect(m.leaseValid()).toBe(false);
    expect(lease.revokes).toBeGreaterThanOrEqual(2);
    store.fail = false;
    await run(300);
    expect(m.membershipState).toBe(MembershipState.Member);
    expect(events).toEqual(['joined', 'fenced', 'joined']);
    expect(store.beats.at(-1)).not.toBe(first);
    m.stop();
  });

  it('a heartbeat that comes back after the deadline (the process was paused) fences before renewing', async () => {
    const { m, events, store, run, clock } = setup();
    m.start();
    await run(10);
    // paused: the clock moves 6 s with no timer running, then everything resumes at once
    clock.jump(6000);
    await run(10);
    expect(events.slice(0, 2)).toEqual(['joined', 'fenced']);
    await run(500);
    expect(events).toEqual(['joined', 'fenced', 'joined']);
    expect(store.beats.length).toBeGreaterThanOrEqual(2);
    m.stop();
  });

  it('a stale registration of a fenced incarnation is removed; another live process with the same id is refused', async () => {
    const { m, store, run, lines } = setup();
    store.duplicateOf = 'older';
    m.start();
    await run(400);
    // 'older' is not one of ours and FakeStore lists no connections: a crashed predecessor, removed
    expect(store.removed).toEqual(['older']);
    expect(m.membershipState).toBe(MembershipState.Member);
    expect(lines.some((l) => l.msg === 'removing a dead previous incarnation of this member')).toBe(true);
    m.stop();
  });

  it('graceful leave: leaving announced, lease revoked, no more heartbeats; leave() removes the member', async () => {
    const { m, store, lease, run } = setup();
    m.start();
    await run(10);
    const revokes = lease.revokes;
    await m.announceLeaving();
    expect(m.membershipState).toBe(MembershipState.Leaving);
    expect(store.states).toEqual(['leaving']);
    expect(lease.revokes).toBe(revokes + 1);
    expect(m.leaseValid()).toBe(false);
    const beats = store.beats.length;
    await run(3000);
    expect(store.beats.length).toBe(beats);
    await m.leave();
    expect(m.membershipState).toBe(MembershipState.Stopped);
    expect(store.removed).toEqual([m.incarnation]);
  });

  it('stop clears every timer', async () => {
    const { m, run, clock } = setup();
    m.start();
    await run(10);
    m.stop();
    expect(clock.pending).toBe(0);
  });

  it('reports drain changes, holds takeovers on a new dataset or a new Redis, and says so', async () => {
    const { m, store, events, run } = setup();
    m.start();
    await run(10);
    store.drained = true;
    await run(1000);
    expect(events).toContain('drained');
    expect(m.isDrained).toBe(true);
    store.clusterIncarnation = 'ci-2';
    await run(1000);
    expect(events).toContain('newDataset');
    expect(store.holds).toBe(1);
    store.runId = 'run-2';
    m.onReconnect();
    expect(m.identityChecked).toBe(false);
    await run(1000);
    expect(m.identityChecked).toBe(true);
    expect(store.holds).toBe(2);
    // a new Redis instance holds once per instance, named by its run id (Redis keeps who held it)
    expect(store.holdRunIds).toEqual([undefined, 'run-2']);
    m.stop();
  });

  it('logs its own member id once per line (the logger carries it)', async () => {
    const { m, run, lines } = setup();
    m.start();
    await run(10);
    m.stop();
    const joined = lines.find((l) => l.msg === 'joined the cluster')!;
    expect(joined).toMatchObject({ member: 'c1', incarnation: m.incarnation });
  });
});
