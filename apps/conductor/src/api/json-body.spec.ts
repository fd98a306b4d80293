import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { jsonNestingExceeds } from './json-body.js';

const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

describe('jsonNestingExceeds', () => {
  it('counts arrays and objects, not brackets inside strings or after escapes', () => {
    expect(jsonNestingExceeds(Buffer.from(deep(32)), 32)).toBe(false);
    expect(jsonNestingExceeds(Buffer.from(deep(33)), 32)).toBe(true);
    expect(jsonNestingExceeds(Buffer.from(JSON.stringify({ s: '[[[[{{{{'.repeat(20), t: 'a\\"[[[[[[' })), 3)).toBe(false);
    expect(jsonNestingExceeds(Buffer.from('{"a":{"b":{"c":[1,{"d":2}]}}}'), 4)).toBe(true);
    expect(jsonNestingExceeds(Buffer.from('{"a":{"b":{"c":[1,{"d":2}]}}}'), 5)).toBe(false);
  });

  it('agrees with the real depth of any JSON value', () => {
    const depthOf = (v: unknown): number => (typeof v === 'object' && v !== null ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0);
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 10 }), (v, limit) => {
        expect(jsonNestingExceeds(Buffer.from(JSON.stringify(v)), limit)).toBe(depthOf(v) > limit);
      }),
    );
  });
});
