import { Ring } from '#libs/ring';
import { isRingMember, type ClusterSnapshot, type MemberView } from './member.model.js';

/**
 * An immutable view of the cluster at one Redis instant: live members and one ring per conductor
 * group (a node maps only onto live conductors of its own group).
 */
export class ClusterView {
  private readonly rings = new Map<string, Ring>();
  private readonly byId = new Map<string, MemberView>();

  constructor(
    readonly snapshot: ClusterSnapshot,
    readonly vnodes: number,
    /** The previous view: rings whose members did not change are reused (their owner memo stays warm). */
    previous?: ClusterView,
  ) {
    const groups = new Map<string, string[]>();
    for (const m of snapshot.members) {
      this.byId.set(m.id, m);
      if (!isRingMember(m)) continue;
      const ids = groups.get(m.group) ?? [];
      ids.push(m.id);
      groups.set(m.group, ids);
    }
    for (const [group, ids] of groups) {
      const old = previous?.rings.get(group);
      const sorted = [...ids].sort();
      const same = old && old.vnodes === vnodes && old.members.length === sorted.length && old.members.every((m, i) => m === sorted[i]);
      this.rings.set(group, same ? old : new Ring(sorted, vnodes));
    }
  }

  static empty(vnodes: number): ClusterView {
    return new ClusterView({ nowMs: 0, members: [], takeoverHold: false }, vnodes);
  }

  /** The member id that should run `uuid`'s console, or undefined when its group has no live conductor. */
  ownerOf(uuid: string, group: string): string | undefined {
    return this.rings.get(group)?.owner(uuid);
  }

  ring(group: string): Ring | undefined {
    return this.rings.get(group);
  }

  groups(): string[] {
    return [...this.rings.keys()].sort();
  }

  member(id: string): MemberView | undefined {
    return this.byId.get(id);
  }

  /** Whether `id` is alive with exactly this incarnation (a console it reports is real). */
  isLive(id: string | null | undefined, incarnation: string | null | undefined): boolean {
    if (!id || !incarnation) return false;
    const m = this.byId.get(id);
    return !!m && m.alive && m.incarnation === incarnation;
  }

  get members(): MemberView[] {
    return this.snapshot.members;
  }

  /** A stable fingerprint of what decides ownership, to skip work when nothing changed. */
  get ringKey(): string {
    return [...this.rings.entries()].map(([g, r]) => `${g}=${r.members.join(',')}`).sort().join(';');
  }
}
