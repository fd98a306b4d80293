import { describe, expect, it } from '@jest/globals';
import { errorMessage, invalidInput, isSolgateError, SolgateError } from './errors.js';

describe('errors', () => {
  it('SolgateError carries a stable code, a message and details', () => {
    const e = invalidInput('Invalid x.', { field: 'x' });
    expect(e).toBeInstanceOf(SolgateError);
    expect(e).toBeInstanceOf(Error);
    expect({ code: e.code, message: e.message, details: e.details, name: e.name }).toEqual({ code: 'INVALID_INPUT', message: 'Invalid x.', details: { field: 'x' }, name: 'SolgateError' });
    expect(isSolgateError(e)).toBe(true);
    expect(isSolgateError(new Error('x'))).toBe(false);
    expect(isSolgateError({ code: 'INVALID_INPUT', message: 'forged' })).toBe(false);
  });

  it.each([
    [new Error('boom'), 'boom'],
    [new SolgateError('CONFLICT', 'taken'), 'taken'],
    ['a string', 'a string'],
    [42, '42'],
    [undefined, 'undefined'],
    [null, 'null'],
  ])('errorMessage(%p) = %p', (e, m) => expect(errorMessage(e)).toBe(m));
});
