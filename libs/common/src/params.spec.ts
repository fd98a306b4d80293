import { describe, expect, it } from '@jest/globals';
import { parseIntegerParam } from './params.js';

describe('parseIntegerParam', () => {
  it('reads plain decimal integers within bounds; absent is undefined', () => {
    expect(parseIntegerParam('limit', '25', { max: 1000 })).toBe(25);
    expect(parseIntegerParam('limit', '0')).toBe(0);
    expect(parseIntegerParam('limit', undefined)).toBeUndefined();
    expect(parseIntegerParam('offset', '-3', { min: -10 })).toBe(-3);
  });

  it.each([['99999999999999999999'], ['1e9'], ['0x10'], [' 5'], ['5 '], ['-1'], ['1001'], [''], ['1.5'], ['NaN'], ['Infinity']])('refuses %j with a 400 naming the parameter', (v) => {
    expect(() => parseIntegerParam('limit', v, { max: 1000 })).toThrow(/^Invalid limit .*: an integer between 0 and 1000\.$/);
  });

  it('refuses a repeated parameter (an array) and other types', () => {
    expect(() => parseIntegerParam('limit', ['1', '2'])).toThrow(/Invalid limit/);
    expect(() => parseIntegerParam('limit', { a: '1' })).toThrow(/Invalid limit/);
  });
});
