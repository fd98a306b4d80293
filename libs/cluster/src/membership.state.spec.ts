import { describe, expect, it } from '@jest/globals';
import { leaseValid, MembershipState as S, nextMembershipState, type MembershipEvent } from './membership.state.js';

const start: MembershipEvent = { type: 'start' };
const registered: MembershipEvent = { type: 'registered' };
const expired: MembershipEvent = { type: 'leaseExpired', reason: 'no heartbeat for 4000 ms' };
const leave: MembershipEvent = { type: 'leave' };
const stop: MembershipEvent = { type: 'stop' };

/** Every (state, event) pair: the state after it. */
const table: Array<[S, MembershipEvent, S]> = [
  [S.Idle, start, S.Joining],
  [S.Idle, registered, S.Idle],
  [S.Idle, expired, S.Idle],
  [S.Idle, leave, S.Idle],
  [S.Idle, stop, S.Stopped],
  [S.Joining, start, S.Joining],
  [S.Joining, registered, S.Member],
  [S.Joining, expired, S.Joining],
  [S.Joining, leave, S.Leaving],
  [S.Joining, stop, S.Stopped],
  [S.Member, start, S.Member],
  [S.Member, registered, S.Member],
  [S.Member, expired, S.Fenced],
  [S.Member, leave, S.Leaving],
  [S.Member, stop, S.Stopped],
  [S.Fenced, start, S.Fenced],
  [S.Fenced, registered, S.Member],
  [S.Fenced, expired, S.Fenced],
  [S.Fenced, leave, S.Leaving],
  [S.Fenced, stop, S.Stopped],
  [S.Leaving, start, S.Leaving],
  [S.Leaving, registered, S.Leaving],
  [S.Leaving, expired, S.Leaving],
  [S.Leaving, leave, S.Leaving],
  [S.Leaving, stop, S.Stopped],
  [S.Stopped, start, S.Stopped],
  [S.Stopped, registered, S.Stopped],
  [S.Stopped, expired, S.Stopped],
  [S.Stopped, leave, S.Stopped],
  [S.Stopped, stop, S.Stopped],
];

describe('membership state machine', () => {
  it.each(table)('%s + %j → %s', (from, event, to) => {
    expect(nextMembershipState(from, event)).toBe(to);
  });

  it('covers every state with every event', () => {
    for (const s of Object.values(S)) for (const e of [start, registered, expired, leave, stop]) expect(table.some(([a, b]) => a === s && b === e)).toBe(true);
  });

  it('leaseValid is pure: a member before its deadline, nothing else', () => {
    expect(leaseValid(S.Member, 999, 1000)).toBe(true);
    expect(leaseValid(S.Member, 1000, 1000)).toBe(false);
    for (const s of [S.Idle, S.Joining, S.Fenced, S.Leaving, S.Stopped]) expect(leaseValid(s, 0, 1000)).toBe(false);
  });
});
