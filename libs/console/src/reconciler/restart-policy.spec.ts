import { describe, expect, it } from '@jest/globals';
import { DEFAULT_BACKOFF } from '#libs/common';
import { RestartPolicy, type FailureFacts, type RestartDecision } from './restart-policy.js';

const policy = new RestartPolicy(DEFAULT_BACKOFF); // 100 ms doubling to 30 s, healthy after 10 s, error after 5
const facts = (over: Partial<FailureFacts>): FailureFacts => ({ failures: 0, terminal: false, closing: false, ...over });

const table: Array<[string, Partial<FailureFacts>, RestartDecision]> = [
  ['first failure: restarting after 100 ms', { failures: 0 }, { failures: 1, state: 'restarting', delayMs: 100 }],
  ['second failure in a row: 200 ms', { failures: 1 }, { failures: 2, state: 'restarting', delayMs: 200 }],
  ['fourth: 800 ms, still restarting', { failures: 3 }, { failures: 4, state: 'restarting', delayMs: 800 }],
  ['fifth quick failure: error (errorAfter), retried after 1.6 s', { failures: 4, uptimeMs: 50 }, { failures: 5, state: 'error', delayMs: 1600 }],
  ['twelfth: capped at 30 s, still retried (intent is never dropped)', { failures: 11 }, { failures: 12, state: 'error', delayMs: 30_000 }],
  ['the hundredth: the cap, retried all the same', { failures: 99 }, { failures: 100, state: 'error', delayMs: 30_000 }],
  ['ran longer than the minimum uptime: counts as healthy, back to the first delay', { failures: 7, uptimeMs: 10_000 }, { failures: 1, state: 'restarting', delayMs: 100 }],
  ['ran just under the minimum uptime: a failure in a row', { failures: 1, uptimeMs: 9_999 }, { failures: 2, state: 'restarting', delayMs: 200 }],
  ['terminal (invalid driver_info, port held by another node): error at once, wait the cap', { failures: 0, terminal: true }, { failures: 1, state: 'error', delayMs: 30_000 }],
  ['shutting down: no restart', { failures: 0, closing: true }, { failures: 1, state: 'restarting', delayMs: null }],
  ['shutting down after many failures: no restart either', { failures: 9, closing: true }, { failures: 10, state: 'error', delayMs: null }],
];

describe('RestartPolicy (PM2-like, never gives up)', () => {
  it.each(table)('%s', (_what, f, expected) => {
    expect(policy.next(facts(f))).toEqual(expected);
  });

  it('follows its own backoff settings', () => {
    const p = new RestartPolicy({ initialDelayMs: 10, maxDelayMs: 50, factor: 3, minUptimeMs: 1000, errorAfter: 2 });
    expect([0, 1, 2, 3].map((failures) => p.next(facts({ failures })))).toEqual([
      { failures: 1, state: 'restarting', delayMs: 10 },
      { failures: 2, state: 'error', delayMs: 30 },
      { failures: 3, state: 'error', delayMs: 50 },
      { failures: 4, state: 'error', delayMs: 50 },
    ]);
  });
});
