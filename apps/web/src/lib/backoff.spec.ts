import { describe, expect, it } from '@jest/globals';
import { DEFAULT_RECONNECT, reconnectDelayMs } from './backoff.js';

describe('reconnect backoff', () => {
  it('reconnects at once after a move, then backs off exponentially up to the cap', () => {
    const noJitter = () => 0;
    expect(reconnectDelayMs(1, true, DEFAULT_RECONNECT, noJitter)).toBe(0);
    expect([1, 2, 3, 4, 5, 6, 7, 10].map((a) => reconnectDelayMs(a, false, DEFAULT_RECONNECT, noJitter))).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
    expect(reconnectDelayMs(2, true, DEFAULT_RECONNECT, noJitter)).toBe(1000);
  });

  it('draws jitter below the nominal delay, never above the cap', () => {
    for (let a = 1; a < 30; a++) {
      const d = reconnectDelayMs(a, false, DEFAULT_RECONNECT, Math.random);
      expect(d).toBeLessThanOrEqual(DEFAULT_RECONNECT.maxMs);
      expect(d).toBeGreaterThanOrEqual(Math.min(DEFAULT_RECONNECT.maxMs, 500 * 2 ** (a - 1)) * 0.8 - 1);
    }
  });
});
