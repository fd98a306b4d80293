import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import HashRing from 'hashring';
import { balance, movement, Ring } from './ring.js';

/** Any realistic vnode count; the default's balance is checked where config and ring meet (libs/cluster). */
const VNODES = 160;

/** Deterministic uuid-shaped keys: the same every run, so balance figures do not wobble. */
const uuidKeys = (n: number, seed = 'solgate') =>
  Array.from({ length: n }, (_, i) => createHash('md5').update(`${seed}-${i}`).digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5'));
const keys = uuidKeys(20_000);
const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `conductor-${i + from}`);

describe('Ring', () => {
  it('is independent of the order members are given in', () => {
    const a = new Ring(['c', 'a', 'b'], 40);
    const b = new Ring(['b', 'c', 'a'], 40);
    for (const k of keys.slice(0, 500)) expect(a.owner(k)).toBe(b.owner(k));
  });

  it('has no owner when empty', () => {
    expect(new Ring([], 40).owner('x')).toBeUndefined();
  });

  it('balances better with more vnodes', () => {
    expect(balance(new Ring(ids(10), 160), keys).maxOverMean).toBeLessThan(balance(new Ring(ids(10), 8), keys).maxOverMean);
  });

  it('moves only the leaving member’s keys, none between survivors', () => {
    const before = new Ring(ids(10), VNODES);
    const after = new Ring(ids(9), VNODES); // conductor-9 leaves
    const m = movement(before, after, keys);
    expect(m.betweenSurvivors).toBe(0);
    const owned = keys.filter((k) => before.owner(k) === 'conductor-9').length;
    expect(m.moved).toBe(owned);
  });

  it('moves about 1/N of the keys, all to the newcomer, when a member joins', () => {
    const before = new Ring(ids(10), VNODES);
    const after = new Ring(ids(11), VNODES);
    const m = movement(before, after, keys);
    expect(m.betweenSurvivors).toBe(0);
    for (const k of keys) if (before.owner(k) !== after.owner(k)) expect(after.owner(k)).toBe('conductor-10');
    expect(m.moved / keys.length).toBeGreaterThan(0.5 / 11);
    expect(m.moved / keys.length).toBeLessThan(1.5 / 11);
  });

  it('places every key exactly where hashring’s own get() does (the lookup skips only its LRU)', () => {
    const members = ids(7);
    const ring = new Ring(members, VNODES);
    const reference = new HashRing([...members].sort(), 'md5', { 'vnode count': VNODES });
    for (const k of keys.slice(0, 5000)) expect(ring.owner(k)).toBe(reference.get(k));
  });
});
