import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { isUuid, newIncarnation, newUuid } from './ids.js';

describe('ids', () => {
  it('newUuid gives distinct canonical v4 UUIDs', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newUuid()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it.each(['6f1f4b1c-9c44-4a36-a3c7-3b9c6c7f0e8a', '6F1F4B1C-9C44-4A36-A3C7-3B9C6C7F0E8A', '00000000-0000-0000-0000-000000000000'])('isUuid(%j)', (v) => {
    expect(isUuid(v)).toBe(true);
  });

  it.each(['', 'node-1', '6f1f4b1c9c444a36a3c73b9c6c7f0e8a', '{6f1f4b1c-9c44-4a36-a3c7-3b9c6c7f0e8a}', '6f1f4b1c-9c44-4a36-a3c7-3b9c6c7f0e8', '6f1f4b1c-9c44-4a36-a3c7-3b9c6c7f0e8az', ' 6f1f4b1c-9c44-4a36-a3c7-3b9c6c7f0e8a', '6f1f4b1c-9c44-4a36-a3c7-3b9c6c7f0e8g'])(
    'not isUuid(%j)',
    (v) => expect(isUuid(v)).toBe(false),
  );

  it('property: isUuid accepts exactly fast-check’s UUIDs in either case', () => {
    fc.assert(fc.property(fc.uuid(), fc.boolean(), (u, upper) => expect(isUuid(upper ? u.toUpperCase() : u)).toBe(true)));
    fc.assert(fc.property(fc.string({ maxLength: 40 }), (s) => expect(isUuid(s)).toBe(/^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(s))));
  });

  it('newIncarnation gives 12 hex characters, fresh each time (they name Redis connections: no ":")', () => {
    const a = new Set(Array.from({ length: 1000 }, () => newIncarnation()));
    expect(a.size).toBe(1000);
    for (const i of a) expect(i).toMatch(/^[0-9a-f]{12}$/);
  });
});
