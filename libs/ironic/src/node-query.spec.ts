import { describe, expect, it } from '@jest/globals';
import { isSolgateError } from '#libs/common';
import { nodeFieldDefaults, validateNodeFields, type NodeRecord } from '#libs/nodes';
import { parseVersion } from './api-version.js';
import { compareSortable, matchesFilters, MAX_LIMIT, nextLink, pageAfter, parseNodeListQuery, sortValue, type SortableNode } from './node-query.js';
import { nodeDocument } from './node-view.js';
import { STOPPED_STATUS } from '#libs/nodes';
import { normalizeUuidLike, parseQueryArgs } from './query-args.js';

const V = parseVersion('1.82')!;
const err = (fn: () => unknown): { code: string; message: string } => {
  try {
    fn();
  } catch (e) {
    if (isSolgateError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected an error');
};

const rec = (name: string, over: Partial<NodeRecord> = {}): NodeRecord => ({
  ...validateNodeFields({ name, driver: 'ipmi' }),
  ...nodeFieldDefaults(),
  console_enabled: false,
  console_generation: 0,
  provision_state: 'enroll',
  created_at: 0,
  updated_at: null,
  rev: 1,
  console_rev: 1,
  ...over,
});

describe('parseQueryArgs (Ironic args.validate)', () => {
  it('converts each type and refuses unknown or repeated parameters', () => {
    const spec = { a: 'boolean', b: 'integer', c: 'string_list', d: 'uuid' } as const;
    expect(parseQueryArgs({ a: 'Yes', b: ' +1_000 ', c: 'X, y,,x', d: '{6F0F4A8E3C524D0A9D7E2B4B0A1C9E11}' }, spec)).toEqual({
      a: true,
      b: 1000,
      c: ['x', 'y'],
      d: '6f0f4a8e-3c52-4d0a-9d7e-2b4b0a1c9e11',
    });
    expect(err(() => parseQueryArgs({ z: '1', y: '2' }, spec)).message).toBe('Unexpected arguments: y, z');
    expect(err(() => parseQueryArgs({ b: ['1', '2'] }, spec)).message).toBe("Expected string for b: ['1', '2']");
    expect(err(() => parseQueryArgs({ b: '1.5' }, spec)).message).toBe('Expected an integer for b: 1.5');
    expect(err(() => parseQueryArgs({ d: 'x' }, spec)).message).toBe('Expected UUID for d: x');
  });

  it('accepts what oslo’s is_uuid_like accepts', () => {
    expect(normalizeUuidLike('urn:uuid:6F0F4A8E-3C52-4D0A-9D7E-2B4B0A1C9E11')).toBe('6f0f4a8e-3c52-4d0a-9d7e-2b4b0a1c9e11');
    expect(normalizeUuidLike('6f0f4a8e-3c52-4d0a-9d7e-2b4b0a1c9e1')).toBeUndefined();
  });
});

describe('parseNodeListQuery', () => {
  it('defaults as Ironic: id ascending, max_limit, the default fields', () => {
    expect(parseNodeListQuery({}, V, 'nodes')).toEqual({
      resource: 'nodes',
      filters: {},
      limit: MAX_LIMIT,
      marker: undefined,
      sortKey: 'id',
      sortDir: 'asc',
      fields: ['instance_uuid', 'maintenance', 'power_state', 'provision_state', 'uuid', 'name'],
      detailParam: undefined,
    });
    expect(parseNodeListQuery({ detail: 'true' }, V, 'nodes').fields).toBeUndefined();
    expect(parseNodeListQuery({}, V, 'nodes/detail').fields).toBeUndefined();
    expect(parseNodeListQuery({ limit: '5000' }, V, 'nodes').limit).toBe(MAX_LIMIT);
  });

  it('checks in Ironic’s order: argument types before version gates before limits', () => {
    expect(err(() => parseNodeListQuery({ limit: '-1', driver: 'x' }, parseVersion('1.10')!, 'nodes')).code).toBe('NOT_ACCEPTABLE');
    expect(err(() => parseNodeListQuery({ limit: 'x', driver: 'x' }, parseVersion('1.10')!, 'nodes')).message).toBe('Expected an integer for limit: x');
    expect(err(() => parseNodeListQuery({ limit: '0', sort_key: 'bogus' }, V, 'nodes')).message).toBe('Limit must be positive');
  });
});

describe('matchesFilters / sorting / paging', () => {
  const a = rec('a', { instance_uuid: '6f0f4a8e-3c52-4d0a-9d7e-2b4b0a1c9e11', resource_class: 'gold' });
  const b = rec('b', { maintenance: true, owner: 'p' });
  const c = rec('c', { resource_class: 'gold', lessee: 'p', shard: 's1' });

  it('applies every filter', () => {
    const names = (f: object, owner: string | null = 'c1') => [a, b, c].filter((n) => matchesFilters(n, f, () => owner)).map((n) => n.name);
    expect(names({ associated: true })).toEqual(['a']);
    expect(names({ maintenance: false, resource_class: 'gold' })).toEqual(['a', 'c']);
    expect(names({ project: 'p' })).toEqual(['b', 'c']);
    expect(names({ shard: ['s1'] })).toEqual(['c']);
    expect(names({ sharded: false })).toEqual(['a', 'b']);
    expect(names({ conductor: 'c1' })).toEqual(['a', 'b', 'c']);
    expect(names({ conductor: 'c1' }, null)).toEqual([]);
    expect(names({ fault: 'power failure' })).toEqual([]);
  });

  it('sorts NULL first ascending, ties by id, and pages after a marker by keyset', () => {
    const s = [a, b, c].map((n, id): SortableNode => ({ node: n, id, value: sortValue(n, 'resource_class') }));
    const asc = [...s].sort((x, y) => compareSortable(x, y, 'asc')).map((x) => x.node.name);
    expect(asc).toEqual(['b', 'a', 'c']);
    const desc = [...s].sort((x, y) => compareSortable(x, y, 'desc'));
    expect(desc.map((x) => x.node.name)).toEqual(['c', 'a', 'b']);
    expect(pageAfter(desc, s[0], 5, 'desc').map((x) => x.node.name)).toEqual(['b']);
    expect(pageAfter(desc, undefined, 2, 'desc').map((x) => x.node.name)).toEqual(['c', 'a']);
  });

  it('builds next links that keep every filter', () => {
    const q = parseNodeListQuery({ maintenance: 'false', fault: 'power failure', limit: '2' }, V, 'nodes');
    expect(nextLink('http://h:1', q, 'U')).toBe(
      'http://h:1/v1/nodes?sort_key=id&sort_dir=asc&maintenance=False&fault=power%20failure&fields=instance_uuid,maintenance,power_state,provision_state,uuid,name&limit=2&marker=U',
    );
  });
});

describe('nodeDocument with fields', () => {
  it('orders as Ironic: uuid, asked fields, links, API fields; computes only those', () => {
    const ctx = { base: 'http://h', version: V, conductor: 'c1', status: STOPPED_STATUS, consoleServing: false };
    const doc = nodeDocument(rec('n'), ctx, ['conductor', 'driver', 'uuid', 'chassis_uuid', 'name']);
    expect(Object.keys(doc)).toEqual(['uuid', 'driver', 'name', 'links', 'conductor', 'chassis_uuid']);
    expect(doc).toMatchObject({ driver: 'ipmi', name: 'n', conductor: 'c1', chassis_uuid: null });
    expect(Object.keys(nodeDocument(rec('n'), ctx, []))).toEqual(['links']);
    expect(Object.keys(nodeDocument(rec('n'), ctx)).slice(-9)).toEqual(['traits', 'vendor_interface', 'links', 'conductor', 'allocation_uuid', 'chassis_uuid', 'ports', 'states', 'portgroups', 'volume'].slice(-9));
    expect(nodeDocument(rec('n'), { ...ctx, version: parseVersion('1.49')! }, ['owner', 'name'])).toEqual({ name: 'n', links: expect.any(Array) });
  });
});
