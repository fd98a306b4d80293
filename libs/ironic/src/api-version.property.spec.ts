import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { atLeast, fieldTooNew, negotiate, NODE_FIELD_MIN_VERSION, patchTooNew, parseVersion, type ApiVersion } from './api-version.js';

/**
 * Property-based fuzzing of the microversion checks every node write goes through before anything
 * is validated: the version header, a POST body's fields newer than the version, a JSON Patch's paths
 * newer than the version. Whatever the client sends, they answer (a version, a field name or
 * nothing) and never throw: a throw there is a 500 instead of Ironic's 406 or the 400 that follows.
 */
const PROTO_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'];
const KNOWN = Object.keys(NODE_FIELD_MIN_VERSION);
const key = fc.oneof(fc.constantFrom(...KNOWN, ...PROTO_NAMES, 'uuid', 'driver', 'extra'), fc.string({ maxLength: 12 }));
const versionArb = fc.integer({ min: 1, max: 99 }).map((minor): ApiVersion => ({ major: 1, minor }));
const anyValue = fc.oneof(fc.constant(null), fc.constant(''), fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 2 }));

describe('microversion checks: property-based', () => {
  it('negotiate: any header gives a version within range or a refusal, never a throw', () => {
    const header = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.tuple(fc.integer({ min: -2, max: 3 }), fc.integer({ min: -5, max: 200 })).map(([a, b]) => `${a}.${b}`),
      fc.constantFrom('latest', 'LATEST', ' 1.78 ', '1.', '.1', '1.1.1', '01.078', '1e1.5', '1.0x10', 'NaN.NaN', '9007199254740993.1'),
    );
    fc.assert(
      fc.property(fc.option(header, { nil: undefined }), (h) => {
        const n = negotiate(h);
        if (n.ok) {
          expect(Number.isSafeInteger(n.version.major) && Number.isSafeInteger(n.version.minor)).toBe(true);
          expect(atLeast(n.version, '1.1')).toBe(true);
        } else expect(['invalid', 'unsupported']).toContain(n.kind);
      }),
      { numRuns: 500 },
    );
  });

  it('fieldTooNew: any body, any version: a known newer field or nothing', () => {
    fc.assert(
      fc.property(fc.dictionary(key, anyValue, { maxKeys: 6 }), versionArb, (body, version) => {
        const f = fieldTooNew(body, version);
        if (f !== undefined) {
          expect(KNOWN).toContain(f);
          expect(atLeast(version, NODE_FIELD_MIN_VERSION[f])).toBe(false);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('patchTooNew: any list of operations, any version: a known newer field or nothing', () => {
    const path = fc.oneof(
      key.map((k) => `/${k}`),
      fc.tuple(key, key).map(([a, b]) => `/${a}/${b}`),
      fc.string({ maxLength: 12 }),
      fc.constantFrom('', '/', '//', '/~1', '/~0'),
    );
    const op = fc.oneof(
      fc.record({ op: fc.constantFrom('add', 'replace', 'remove', 'test', 'move', 'copy', 'nope'), path, value: anyValue }, { requiredKeys: ['op'] }),
      anyValue,
      fc.constant(undefined),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 5 }), versionArb, (ops, version) => {
        const f = patchTooNew(ops, version);
        if (f !== undefined) expect(KNOWN).toContain(f);
      }),
      { numRuns: 500 },
    );
  });

  it('a patch or body naming an Object.prototype member is not a field of some version (it was a TypeError: 500)', () => {
    const v = parseVersion('1.1')!;
    for (const name of PROTO_NAMES) {
      expect(patchTooNew([{ op: 'add', path: `/${name}`, value: 1 }], v)).toBeUndefined();
      expect(fieldTooNew(JSON.parse(`{"${name}": 1}`) as Record<string, unknown>, v)).toBeUndefined();
    }
  });
});
