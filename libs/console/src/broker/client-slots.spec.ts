import { describe, expect, it } from '@jest/globals';
import { ClientSlots } from './client-slots.js';

describe('ClientSlots (the conductor-wide cap on TCP console clients)', () => {
  it('hands out at most max slots, counts refusals, and takes released slots back', () => {
    const s = new ClientSlots(2);
    expect([s.tryTake(), s.tryTake(), s.tryTake()]).toEqual([true, true, false]);
    expect({ open: s.open, refused: s.refused }).toEqual({ open: 2, refused: 1 });
    s.release();
    expect(s.tryTake()).toBe(true);
    s.release();
    s.release();
    s.release(); // one release too many never goes below zero
    expect(s.open).toBe(0);
  });

  it('refuses a cap that is not a positive integer', () => {
    expect(() => new ClientSlots(0)).toThrow();
    expect(() => new ClientSlots(1.5)).toThrow();
  });
});
