import { describe, expect, it } from '@jest/globals';
import { ownEntry } from './lookup.js';

describe('ownEntry', () => {
  const table: Record<string, number> = { a: 1, zero: 0 };
  it('returns own entries, falsy ones included', () => {
    expect(ownEntry(table, 'a')).toBe(1);
    expect(ownEntry(table, 'zero')).toBe(0);
  });
  it('never reads the prototype', () => {
    for (const k of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf', 'missing']) expect(ownEntry(table, k)).toBeUndefined();
  });
});
