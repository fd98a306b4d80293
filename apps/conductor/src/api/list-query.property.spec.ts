import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { isSolgateError } from '#libs/common';
import { MAX_LIMIT, NODE_QUERY_FIELDS, parseNodeListQuery, type ApiVersion, type NodeListQuery } from '#libs/ironic';

/**
 * Property-based fuzzing of the node list query (GET /v1/nodes, /v1/nodes/detail): any query
 * string, at any microversion, must give a parsed query or Ironic's 400/406 (SolgateError
 * INVALID_INPUT / NOT_ACCEPTABLE), never anything else (a 500), and what goes on to Redis must be
 * sane: a limit within 1..MAX_LIMIT, a UUID marker, a known sort key and direction, known fields.
 * The subject is the controller's parser, parseNodeListQuery (#libs/ironic).
 */

/** A query as Express hands it over: a value is a string, or an array when a parameter repeats. */
type RawQuery = Record<string, string | string[]>;
type Outcome = { ok: true; q: NodeListQuery } | { ok: false; error: unknown };

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function listQuery(raw: RawQuery, detail: boolean, version: ApiVersion = { major: 1, minor: 78 }): Outcome {
  try {
    return { ok: true, q: parseNodeListQuery(raw, version, detail ? 'nodes/detail' : 'nodes') };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The properties every answer must have. */
function expectSane(o: Outcome): void {
  if (!o.ok) {
    expect(isSolgateError(o.error) && (o.error.code === 'INVALID_INPUT' || o.error.code === 'NOT_ACCEPTABLE')).toBe(true);
    return;
  }
  const { limit, marker, sortDir, sortKey, fields } = o.q;
  expect(Number.isSafeInteger(limit) && limit > 0 && limit <= MAX_LIMIT).toBe(true);
  if (marker !== undefined) expect(UUID_RE.test(marker)).toBe(true);
  expect(['asc', 'desc']).toContain(sortDir);
  expect(typeof sortKey).toBe('string');
  for (const f of fields ?? []) expect(NODE_QUERY_FIELDS).toContain(f);
}

const FIELDS = ['uuid', 'name', 'console_enabled', 'driver_info', 'conductor', 'links', 'nope', '', ' ', '__proto__', 'constructor'];
const stringValue = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('', '0', '1', '-1', '1.5', ' 7 ', '0x10', '1e3', '1_000', 'NaN', 'Infinity', '9007199254740993', '1e300', '99999999999999999999', 'true', 'True', 'yes', 'on', '[]', '{}', 'asc', 'desc', 'name', 'id'),
  fc.subarray(FIELDS, { minLength: 1 }).map((f) => f.join(',')),
  fc.uuid(),
);
/** Every parameter Ironic's node list knows, and some it does not (prototype names included). */
const PARAMS = [
  'limit', 'marker', 'fields', 'detail', 'sort_key', 'sort_dir', 'instance_uuid', 'associated', 'maintenance', 'retired',
  'provision_state', 'driver', 'resource_class', 'fault', 'conductor_group', 'conductor', 'owner', 'lessee', 'project',
  'description_contains', 'shard', 'sharded', 'chassis_uuid', 'unknown', 'constructor', 'toString', 'hasOwnProperty',
]; // prettier-ignore
/** Express's parsed query: no prototype, like node:querystring's result. */
const rawQuery = (value: fc.Arbitrary<string | string[]>) =>
  fc.dictionary(fc.constantFrom(...PARAMS), value, { maxKeys: 5 }).map((d) => Object.assign(Object.create(null) as RawQuery, d));
const versionArb = fc.integer({ min: 1, max: 96 }).map((minor): ApiVersion => ({ major: 1, minor }));

describe('node list query strings: property-based', () => {
  it('single-valued parameters at any microversion: a query or a 400/406, and only a sane limit, marker, sort and fields reach Redis', () => {
    fc.assert(
      fc.property(rawQuery(stringValue), fc.boolean(), versionArb, (raw, detail, version) => {
        expectSane(listQuery(raw, detail, version));
      }),
      { numRuns: 500 },
    );
  });

  it('a limit beyond any real page size is capped at MAX_LIMIT, never passed on to Redis', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom('9007199254740993', '99999999999999999999', '4294967296', '1_000_000'), fc.bigInt({ min: 1n, max: 10n ** 40n }).map(String)), (limit) => {
        const o = listQuery({ limit }, false);
        expectSane(o);
        expect(o.ok && o.q.limit).toBe(Math.min(MAX_LIMIT, Number(limit.replace(/_/g, ''))));
      }),
      { numRuns: 100 },
    );
    // not an integer for Python's int(): Ironic's 400
    for (const limit of ['1e300', '1.5', '0x10', 'Infinity', 'NaN', '']) expect(listQuery({ limit }, false)).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
  });

  it('a repeated parameter (?fields=a&fields=b, ?marker=a&marker=b) is a 400, never a 500', () => {
    fc.assert(
      fc.property(rawQuery(fc.oneof(stringValue, fc.array(stringValue, { minLength: 2, maxLength: 3 }))), fc.boolean(), (raw, detail) => {
        const o = listQuery(raw, detail);
        expectSane(o);
        if (Object.values(raw).some(Array.isArray)) expect(o.ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('a parameter named after an Object.prototype member is unexpected, as any unknown one', () => {
    for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf'])
      expect(listQuery(Object.assign(Object.create(null) as RawQuery, { [name]: 'x' }), false)).toMatchObject({
        ok: false,
        error: { code: 'INVALID_INPUT', message: `Unexpected arguments: ${name}` },
      });
  });
});
