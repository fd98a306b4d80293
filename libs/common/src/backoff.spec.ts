import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';

describe('backoffDelayMs', () => {
  it.each([
    [0, 100],
    [1, 100],
    [2, 200],
    [3, 400],
    [4, 800],
    [9, 25_600],
    [10, 30_000],
    [11, 30_000],
    [1000, 30_000],
  ])('after %i failures in a row waits %i ms (default policy)', (failures, ms) => {
    expect(backoffDelayMs(DEFAULT_BACKOFF, failures)).toBe(ms);
  });

  it('property: never below the initial delay, never above the cap, never shorter than the previous one', () => {
    const policy = fc.record<BackoffPolicy>({
      initialDelayMs: fc.integer({ min: 1, max: 10_000 }),
      maxDelayMs: fc.integer({ min: 10_000, max: 600_000 }),
      factor: fc.double({ min: 1, max: 4, noNaN: true }),
      minUptimeMs: fc.constant(10_000),
      errorAfter: fc.constant(5),
    });
    fc.assert(
      fc.property(policy, fc.integer({ min: 1, max: 200 }), (p, n) => {
        const d = backoffDelayMs(p, n);
        expect(d).toBeGreaterThanOrEqual(p.initialDelayMs);
        expect(d).toBeLessThanOrEqual(p.maxDelayMs);
        expect(d).toBeGreaterThanOrEqual(backoffDelayMs(p, n - 1));
        expect(Number.isFinite(d)).toBe(true);
      }),
    );
  });

  it('the default policy: 0.1 s doubling to 30 s, error after 5 quick failures, healthy after 10 s up', () => {
    expect(DEFAULT_BACKOFF).toEqual({ initialDelayMs: 100, maxDelayMs: 30_000, factor: 2, minUptimeMs: 10_000, errorAfter: 5 });
  });
});
