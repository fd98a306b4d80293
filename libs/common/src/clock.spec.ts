import { describe, expect, it } from '@jest/globals';
import { ironicTimestamp, monotonicMs, sleep } from './clock.js';

describe('clock', () => {
  it('monotonicMs never goes backwards', () => {
    let last = monotonicMs();
    for (let i = 0; i < 10_000; i++) {
      const now = monotonicMs();
      expect(now).toBeGreaterThanOrEqual(last);
      last = now;
    }
  });

  it('sleep resolves after the delay, or at once when aborted (and leaves no timer)', async () => {
    const t0 = monotonicMs();
    await sleep(20);
    expect(monotonicMs() - t0).toBeGreaterThanOrEqual(19);
    const ac = new AbortController();
    const t1 = monotonicMs();
    const long = sleep(60_000, ac.signal);
    ac.abort();
    await long;
    expect(monotonicMs() - t1).toBeLessThan(1000);
    await sleep(60_000, ac.signal); // already aborted: at once
  });

  it.each([
    [0, '1970-01-01T00:00:00+00:00'],
    [1_700_000_000_123, '2023-11-14T22:13:20+00:00'],
    [null, null],
    [undefined, null],
    [Number.NaN, null],
    [Infinity, null],
  ])('ironicTimestamp(%p) = %p', (ms, s) => expect(ironicTimestamp(ms)).toBe(s));
});
