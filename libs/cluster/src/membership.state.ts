/**
 * The membership life cycle of one conductor process, as data: the states, the events that move
 * between them, and one pure transition table. MembershipService applies it (membership.service.ts)
 * and is the only place that logs and emits on a change.
 *
 *   idle ──start──► joining ──registered──► member ──leaseExpired──► fenced ──registered──► member
 *                      │                      │                         │
 *                      └──────────────────────┴────── leave ────────────┴──► leaving
 *   any ──stop──► stopped
 */
export enum MembershipState {
  /** Built, not started. */
  Idle = 'idle',
  /** Started, not registered yet: heartbeating until Redis accepts this incarnation. */
  Joining = 'joining',
  /** Registered with a valid lease: may run consoles. */
  Member = 'member',
  /** The lease lapsed: every console must stop; heartbeats go on under a fresh incarnation. */
  Fenced = 'fenced',
  /** Graceful leave: out of the ring, handing consoles over; no heartbeats any more. */
  Leaving = 'leaving',
  /** Stopped: no heartbeats, no timers. */
  Stopped = 'stopped',
}

export type MembershipEvent =
  | { type: 'start' }
  /** A heartbeat under the current incarnation succeeded while not (yet) a member. */
  | { type: 'registered' }
  /** The lease deadline passed without a successful heartbeat (lease timer, or a late heartbeat). */
  | { type: 'leaseExpired'; reason: string }
  | { type: 'leave' }
  | { type: 'stop' };

/** The state after `event` in `state` (unchanged when the event does not apply). */
export function nextMembershipState(state: MembershipState, event: MembershipEvent): MembershipState {
  if (event.type === 'stop') return MembershipState.Stopped;
  switch (state) {
    case MembershipState.Idle:
      return event.type === 'start' ? MembershipState.Joining : state;
    case MembershipState.Joining:
    case MembershipState.Fenced:
      if (event.type === 'registered') return MembershipState.Member;
      if (event.type === 'leave') return MembershipState.Leaving;
      return state;
    case MembershipState.Member:
      if (event.type === 'leaseExpired') return MembershipState.Fenced;
      if (event.type === 'leave') return MembershipState.Leaving;
      return state;
    case MembershipState.Leaving:
    case MembershipState.Stopped:
      return state;
  }
}

/** May a conductor run consoles now? Pure: a lapsed lease is fenced by the lease timer, not by asking. */
export function leaseValid(state: MembershipState, nowMs: number, leaseDeadlineMs: number): boolean {
  return state === MembershipState.Member && nowMs < leaseDeadlineMs;
}

/** Heartbeating states (the heartbeat loop runs in these). */
export const heartbeating = (state: MembershipState) =>
  state === MembershipState.Joining || state === MembershipState.Member || state === MembershipState.Fenced;
