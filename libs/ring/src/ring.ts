import HashRing from 'hashring';

/**
 * A consistent hash ring over member ids (ketama points via the `hashring` package). Built from the
 * *sorted* ids so every conductor that sees the same live set computes the same owners, and
 * adding or removing one member moves only the keys that member gains or loses.
 */
export class Ring {
  readonly members: readonly string[];
  private readonly ring: HashRing | undefined;
  /** Our own memo: hashring's LRU is global to the ring and small; owners never change for a built ring. */
  private readonly memo = new Map<string, string>();

  constructor(memberIds: Iterable<string>, readonly vnodes: number) {
    this.members = [...new Set(memberIds)].sort();
    this.ring = this.members.length > 0 ? new HashRing([...this.members], 'md5', { 'vnode count': vnodes, 'max cache size': 1 }) : undefined;
  }

  /** The member that owns `key`, or undefined when the ring is empty. */
  owner(key: string): string | undefined {
    if (!this.ring) return undefined;
    let o = this.memo.get(key);
    if (o === undefined) {
      o = lookup(this.ring, key);
      if (this.memo.size > 200_000) this.memo.clear();
      this.memo.set(key, o);
    }
    return o;
  }

  get size(): number {
    return this.members.length;
  }
}

/** hashring's documented lookup without its LRU (`get` puts every key through it: we memo ourselves). */
interface HashRingInternals {
  ring: { server: string }[];
  find(hashValue: number): number;
  hashValue(key: string): number;
}

function lookup(ring: HashRing, key: string): string {
  const r = ring as unknown as Partial<HashRingInternals>;
  if (!Array.isArray(r.ring) || typeof r.find !== 'function' || typeof r.hashValue !== 'function') return ring.get(key);
  return r.ring[r.find(r.hashValue(key))]?.server ?? ring.get(key);
}

export interface BalanceReport {
  members: number;
  keys: number;
  perMember: Record<string, number>;
  maxOverMean: number;
}

/** How evenly a ring spreads keys: max/mean load over the members (1.0 is perfect). */
export function balance(ring: Ring, keys: Iterable<string>): BalanceReport {
  const perMember: Record<string, number> = Object.fromEntries(ring.members.map((m) => [m, 0]));
  let n = 0;
  for (const k of keys) {
    const o = ring.owner(k);
    if (o !== undefined) perMember[o]++;
    n++;
  }
  const counts = Object.values(perMember);
  const mean = counts.length ? n / counts.length : 0;
  return { members: ring.size, keys: n, perMember, maxOverMean: mean ? Math.max(...counts) / mean : 0 };
}

/** How many keys change owner between two rings. */
export function movement(before: Ring, after: Ring, keys: Iterable<string>): { moved: number; keys: number; betweenSurvivors: number } {
  let moved = 0;
  let n = 0;
  let betweenSurvivors = 0;
  const afterSet = new Set(after.members);
  const beforeSet = new Set(before.members);
  for (const k of keys) {
    n++;
    const a = before.owner(k);
    const b = after.owner(k);
    if (a !== b) {
      moved++;
      if (a !== undefined && b !== undefined && afterSet.has(a) && beforeSet.has(b)) betweenSurvivors++;
    }
  }
  return { moved, keys: n, betweenSurvivors };
}
