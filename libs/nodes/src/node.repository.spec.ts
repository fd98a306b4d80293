import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { readNodeHash, unreadableNode } from './node.repository.js';

const UUID = '6f1d8a52-3c1e-4c55-9a8e-0d6a4f3b2c10';
const spec = (over: Record<string, unknown> = {}) =>
  JSON.stringify({ uuid: UUID, name: 'n1', driver: 'ipmi', console_interface: 'ipmitool-socat', driver_info: { ipmi_password: 'pw-Secret' }, conductor_group: '', description: null, extra: {}, properties: {}, provision_state: 'enroll', created_at: 1, ...over });
const hash = (over: Record<string, string> = {}) => ({ spec: spec(), rev: '3', name: 'n1', enabled: '1', generation: '2', updated_at: '', ...over });

const problemOf = (h: Record<string, string>, uuid = UUID) => {
  const r = readNodeHash(h, uuid);
  return r && 'problem' in r ? r.problem : undefined;
};

describe('readNodeHash (reading a node record defensively)', () => {
  it('reads a good record', () => {
    const r = readNodeHash(hash(), UUID);
    expect(r && 'node' in r && r.node).toMatchObject({ uuid: UUID, console_enabled: true, console_generation: 2, rev: 3, updated_at: null });
  });

  it('treats an empty hash as no record', () => {
    expect(readNodeHash({}, UUID)).toBeUndefined();
    expect(readNodeHash(null, UUID)).toBeUndefined();
  });

  it.each([
    ['no spec', hash({ spec: '' }), 'the hash has no spec field'],
    ['bad JSON', hash({ spec: '{"uuid": "x", "driver_info": {"ipmi_password": "pw-Secret"' }), 'spec is not valid JSON (58 bytes)'],
    ['an array', hash({ spec: '[]' }), 'spec is not a JSON object'],
    ['null', hash({ spec: 'null' }), 'spec is not a JSON object'],
    ['no uuid', hash({ spec: spec({ uuid: 7 }) }), 'spec has no valid uuid'],
    ['another node', hash({ spec: spec({ uuid: '00000000-0000-4000-8000-000000000000' }) }), 'spec belongs to another node (00000000-0000-4000-8000-000000000000)'],
    ['driver_info a string', hash({ spec: spec({ driver_info: 'x' }) }), 'spec.driver_info is not an object'],
    ['extra an array', hash({ spec: spec({ extra: [] }) }), 'spec.extra is not an object'],
    ['driver missing', hash({ spec: spec({ driver: undefined }) }), 'spec.driver is not a string'],
    ['name a number', hash({ spec: spec({ name: 3 }) }), 'spec.name is not a string'],
    ['created_at a string', hash({ spec: spec({ created_at: 'x' }) }), 'spec.created_at is not a number'],
    ['rev not a number', hash({ rev: 'abc' }), 'rev, crev, generation, port or updated_at is not a number'],
    ['generation negative', hash({ generation: '-1' }), 'rev, crev, generation, port or updated_at is not a number'],
    ['console port out of range', hash({ port: '70000' }), 'rev, crev, generation, port or updated_at is not a number'],
  ])('refuses %s, saying why without quoting it', (_what, h, problem) => {
    expect(problemOf(h)).toBe(problem);
    expect(problem).not.toContain('pw-Secret');
  });

  it('never throws and never quotes the record, whatever the hash holds', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('spec', 'rev', 'generation', 'updated_at', 'enabled', 'name'), fc.string()), fc.string(), (h, secret) => {
        const withSecret = { ...h, spec: h.spec === undefined ? undefined : `${h.spec}${secret}` } as Record<string, string>;
        const r = readNodeHash(withSecret, UUID);
        if (r && 'problem' in r && secret.length > 12) expect(r.problem).not.toContain(secret);
      }),
    );
  });

  it('stands an unreadable record in with a stub that can be shown and deleted but never run', () => {
    const n = unreadableNode(UUID, hash({ rev: '9' }), 'spec is not valid JSON (3 bytes)');
    expect(n).toMatchObject({ uuid: UUID, name: 'n1', console_enabled: false, console_interface: 'no-console', driver_info: {}, rev: 9 });
    expect(n.record_error).toMatch(/unreadable \(spec is not valid JSON \(3 bytes\)\)/);
  });
});
