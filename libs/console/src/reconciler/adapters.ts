import type { ClaimRepository, MembershipService } from '#libs/cluster';
import { systemClock, type Clock } from '#libs/common';
import type { ConsolePortRepository, ConsoleStatusRepository, NodeRecord } from '#libs/nodes';
import type { ClusterMembership, ConsoleClaims, ConsolePortAllocator, ConsoleStatuses } from './ports.js';

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
    refreshView: () => m.refreshView(),
  };
}

export function claimsPort(claims: ClaimRepository, m: MembershipService, heartbeatTimeoutMs: number): ConsoleClaims {
  return {
    acquire: (uuid) => claims.acquire(uuid, m.memberId, m.incarnation, heartbeatTimeoutMs),
    heldEpochs: (uuids) => claims.heldEpochs(uuids, m.memberId, m.incarnation),
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
