import type { ClaimRepository, MembershipService } from '#libs/cluster';
import { systemClock, type Clock } from '#libs/common';
import type { ConsolePortRepository, ConsoleStatusRepository, NodeRecord } from '#libs/nodes';
import type { ClaimCheck, ClusterMembership, ConsoleClaims, ConsolePortAllocator, ConsoleStatuses } from './ports.js';

/** The reconciler's Redis-backed ports, over the repositories, as this conductor's current incarnation. */

export function membershipPort(m: MembershipService): ClusterMembership {
  return {
    get memberId() {
      return m.memberId;
    },
    get isDrained() {
      return m.isDrained;
    },
    get identityChecked() {
      return m.identityChecked;
    },
    leaseValid: () => m.leaseValid(),
    ownerOf: (uuid, group) => m.view.ownerOf(uuid, group),
    takeoverHold: () => m.view.snapshot.takeoverHold,
    refreshView: () => m.refreshView(),
  };
}

export function claimsPort(claims: ClaimRepository, m: MembershipService, heartbeatTimeoutMs: number): ConsoleClaims {
  return {
    acquire: (uuid) => claims.acquire(uuid, m.memberId, m.incarnation, heartbeatTimeoutMs),
    async confirmHeld(held) {
      // the common case in one Lua call per 1,000 nodes: the claim is ours with that very epoch
      const epochs = await claims.heldEpochs(held.map((h) => h.uuid), m.memberId, m.incarnation);
      const odd = held.filter((h, i) => epochs[i] !== h.epoch);
      const checked = new Map<string, ClaimCheck>();
      if (odd.length > 0) {
        const all = await claims.getMany(odd.map((h) => h.uuid));
        await Promise.all(
          odd.map(async ({ uuid, epoch }, i) => {
            const c = all[i];
            // only a Redis that went back in time shows a lower epoch (or none while the counter is below ours)
            if (c && c.epoch > epoch) return checked.set(uuid, 'lost');
            const r = await claims.reassert(uuid, m.memberId, m.incarnation, epoch, heartbeatTimeoutMs);
            checked.set(uuid, r === 'HELD' ? 'held' : r === 'REASSERTED' ? 'reasserted' : r === 'NOT_MEMBER' ? 'unknown' : 'lost');
          }),
        );
      }
      return held.map((h) => checked.get(h.uuid) ?? 'held');
    },
  };
}

export function statusesPort(statuses: ConsoleStatusRepository, m: MembershipService, clock: Clock = systemClock): ConsoleStatuses {
  return {
    write: (uuid, epoch, patch, opts) => statuses.write(uuid, { member: m.memberId, incarnation: m.incarnation, epoch }, { ...patch, updated_at: clock.wallMs() }, opts),
  };
}

export function portsPort(ports: ConsolePortRepository, range: { start: number; stop: number }): ConsolePortAllocator {
  return { allocate: (node: NodeRecord) => ports.allocate(node, range) };
}
