/** What a conductor advertises about itself. */
export interface MemberDetails {
  apiUrl: string;
  consoleAddress: string;
  group: string;
  hostname: string;
  pid: number;
  version: string;
}

/** alive (heartbeating), leaving (stopping on purpose), dead (its crash was detected; kept listed until it rejoins). */
export type MemberState = 'alive' | 'leaving' | 'dead';

/** One member as the cluster sees it at a given Redis time. */
export interface MemberView extends MemberDetails {
  id: string;
  incarnation: string;
  state: MemberState;
  /** An operator drained it: it stays a member but owns nothing until undrained. */
  drained: boolean;
  lastHeartbeatMs: number;
  joinedAtMs: number;
  /** Registered (not crashed) and a heartbeat within the timeout, by Redis's clock. */
  alive: boolean;
}

export interface ClusterSnapshot {
  /** Redis TIME when the snapshot was read, ms. */
  nowMs: number;
  members: MemberView[];
  takeoverHold: boolean;
}

/** Whether a member takes part in the ring (owns nodes). */
export const isRingMember = (m: MemberView) => m.alive && m.state === 'alive' && !m.drained;

/** Redis connection name: lets CLIENT LIST tell whose connection is whose (see failure-detector.ts). */
export function connectionName(prefix: string, memberId: string, incarnation: string, role: string): string {
  return `solgate:${prefix}:${memberId}:${incarnation}:${role}`;
}

export function parseConnectionName(name: string): { prefix: string; memberId: string; incarnation: string; role: string } | undefined {
  const parts = name.split(':');
  if (parts.length !== 5 || parts[0] !== 'solgate') return undefined;
  return { prefix: parts[1], memberId: parts[2], incarnation: parts[3], role: parts[4] };
}
