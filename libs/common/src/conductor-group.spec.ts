import { describe, expect, it } from '@jest/globals';
import { isValidGroup, normalizeGroup } from './conductor-group.js';

describe('conductor groups', () => {
  it.each([
    ['', ''],
    ['rack1', 'rack1'],
    ['Rack1', 'rack1'],
    ['RACK-A_1.b', 'rack-a_1.b'],
    ['rack*', 'rack*'], // selector globs keep their wildcards
  ])('normalizeGroup(%j) = %j', (given, expected) => {
    expect(normalizeGroup(given)).toBe(expected);
  });

  it.each(['', 'rack1', 'Rack1', 'a.b_c-d', 'x'.repeat(255)])('accepts %j', (g) => expect(isValidGroup(g)).toBe(true));
  it.each(['rack 1', 'rack/1', 'rack:1', 'räck', 'x'.repeat(256), 'a\nb', 'a,b'])('refuses %j', (g) => expect(isValidGroup(g)).toBe(false));
});
