import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { DEFAULT_RING_VNODES } from '#libs/config';
import { balance, Ring } from '#libs/ring';
import { ClusterView } from './cluster-view.js';
import { isRingMember, type ClusterSnapshot, type MemberView } from './member.model.js';

function member(id: string, over: Partial<MemberView> = {}): MemberView {
  return {
    id,
    incarnation: `${id}-inc`,
    state: 'alive',
    drained: false,
    lastHeartbeatMs: 1000,
    joinedAtMs: 0,
    alive: true,
    apiUrl: `http://${id}:6385`,
    consoleAddress: '127.0.0.1',
    group: '',
    hostname: id,
    pid: 1,
    version: '0',
    ...over,
  };
}
const snapshot = (...members: MemberView[]): ClusterSnapshot => ({ nowMs: 2000, members, takeoverHold: false });
const uuidKeys = (n: number) =>
  Array.from({ length: n }, (_, i) => createHash('md5').update(`solgate-${i}`).digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5'));
const UUIDS = uuidKeys(2000);

describe('ClusterView', () => {
  it('owners come from the ring of the node’s own group, built from sorted live member ids', () => {
    const v = new ClusterView(snapshot(member('c2'), member('c1'), member('r1', { group: 'rack1' })), 40);
    const ring = new Ring(['c1', 'c2'], 40);
    for (const u of UUIDS.slice(0, 200)) {
      expect(v.ownerOf(u, '')).toBe(ring.owner(u));
      expect(v.ownerOf(u, 'rack1')).toBe('r1');
    }
    expect(v.groups()).toEqual(['', 'rack1']);
    expect(v.ownerOf(UUIDS[0], 'rack2')).toBeUndefined(); // no live conductor in the group
  });

  it.each([
    ['dead (heartbeat too old)', { alive: false }],
    ['leaving (handing over)', { state: 'leaving' as const }],
    ['drained by an operator', { drained: true }],
  ])('a member that is %s owns nothing but is still known', (_what, over) => {
    const v = new ClusterView(snapshot(member('c1'), member('c2', over)), 40);
    expect(isRingMember(v.member('c2')!)).toBe(false);
    for (const u of UUIDS.slice(0, 200)) expect(v.ownerOf(u, '')).toBe('c1');
    expect(v.member('c2')).toBeDefined();
    expect(v.members.map((m) => m.id)).toEqual(['c1', 'c2']);
  });

  it('isLive: the member is alive with exactly that incarnation', () => {
    const v = new ClusterView(snapshot(member('c1'), member('c2', { alive: false })), 40);
    expect(v.isLive('c1', 'c1-inc')).toBe(true);
    expect(v.isLive('c1', 'older-inc')).toBe(false);
    expect(v.isLive('c2', 'c2-inc')).toBe(false);
    expect(v.isLive('c3', 'x')).toBe(false);
    expect(v.isLive(null, 'c1-inc')).toBe(false);
    expect(v.isLive('c1', undefined)).toBe(false);
  });

  it('ringKey changes exactly when ownership can change', () => {
    const a = new ClusterView(snapshot(member('c1'), member('c2')), 40);
    const sameMembersOtherDetails = new ClusterView(snapshot(member('c2', { lastHeartbeatMs: 9999, apiUrl: 'http://x' }), member('c1')), 40);
    const drained = new ClusterView(snapshot(member('c1'), member('c2', { drained: true })), 40);
    const regrouped = new ClusterView(snapshot(member('c1'), member('c2', { group: 'g' })), 40);
    expect(sameMembersOtherDetails.ringKey).toBe(a.ringKey);
    expect(drained.ringKey).not.toBe(a.ringKey);
    expect(regrouped.ringKey).not.toBe(a.ringKey);
  });

  it('reuses the previous view’s ring for a group whose members did not change (its owner memo stays warm)', () => {
    const a = new ClusterView(snapshot(member('c1'), member('r1', { group: 'rack1' })), 40);
    const b = new ClusterView(snapshot(member('c1'), member('r1', { group: 'rack1' }), member('r2', { group: 'rack1' })), 40, a);
    expect(b.ring('')).toBe(a.ring(''));
    expect(b.ring('rack1')).not.toBe(a.ring('rack1'));
    const c = new ClusterView(snapshot(member('c1')), 80, b);
    expect(c.ring('')).not.toBe(b.ring('')); // other vnodes: a new ring
  });

  it('an empty view owns nothing', () => {
    const v = ClusterView.empty(40);
    expect(v.ownerOf(UUIDS[0], '')).toBeUndefined();
    expect(v.groups()).toEqual([]);
    expect(v.ringKey).toBe('');
  });

  it('the default vnode count keeps 10 members within 1.10 and 30 within 1.15 (max/mean over 100,000 nodes)', () => {
    const many = uuidKeys(100_000);
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `conductor-${i}`);
    expect(balance(new Ring(ids(10), DEFAULT_RING_VNODES), many).maxOverMean).toBeLessThanOrEqual(1.1);
    expect(balance(new Ring(ids(30), DEFAULT_RING_VNODES), many).maxOverMean).toBeLessThanOrEqual(1.15);
  });
});
