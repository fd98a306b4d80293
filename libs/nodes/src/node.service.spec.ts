import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { SolgateError } from '#libs/common';
import { nodeFieldDefaults, WRITABLE_FIELDS, type NodeRecord } from './node.model.js';
import { applyNodePatch, writableView } from './node.service.js';

const UUID = '6f1f4b1c-9c44-4a36-a3c7-3b9c6c7f0e8a';

function node(over: Partial<NodeRecord> = {}): NodeRecord {
  return {
    uuid: UUID,
    name: 'node-1',
    driver: 'ipmi',
    console_interface: 'ipmitool-socat',
    driver_info: { ipmi_address: '10.0.0.5', ipmi_username: 'admin', ipmi_password: 'secret', ipmi_port: 623 },
    conductor_group: 'rack1',
    description: 'a node',
    extra: { owner: 'team-a' },
    properties: {},
    console_enabled: true,
    console_generation: 3,
    provision_state: 'enroll',
    created_at: 1,
    updated_at: null,
    rev: 7,
    console_rev: 7,
    allocated_port: null,
    ...nodeFieldDefaults(),
    ...over,
  };
}

function refused(ops: unknown, n = node()): string {
  let thrown: unknown;
  try {
    applyNodePatch(n, ops);
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(SolgateError);
  expect((thrown as SolgateError).code).toBe('INVALID_INPUT');
  return (thrown as SolgateError).message;
}

describe('applyNodePatch (Ironic JSON Patch on the writable fields)', () => {
  it.each([
    [[{ op: 'replace', path: '/driver_info/ipmi_address', value: 'bmc-2.example.net' }], { driver_info: { ipmi_address: 'bmc-2.example.net', ipmi_username: 'admin', ipmi_password: 'secret', ipmi_port: 623 } }],
    [[{ op: 'add', path: '/driver_info/ipmi_terminal_port', value: 10005 }], { driver_info: { ipmi_address: '10.0.0.5', ipmi_username: 'admin', ipmi_password: 'secret', ipmi_port: 623, ipmi_terminal_port: 10005 } }],
    [[{ op: 'remove', path: '/driver_info/ipmi_password' }], { driver_info: { ipmi_address: '10.0.0.5', ipmi_username: 'admin', ipmi_port: 623 } }],
    [[{ op: 'add', path: '/driver_info/ipmi_priv_level', value: 'user' }], { driver_info: { ipmi_address: '10.0.0.5', ipmi_username: 'admin', ipmi_password: 'secret', ipmi_port: 623, ipmi_priv_level: 'USER' } }],
    [[{ op: 'replace', path: '/name', value: 'node-2' }], { name: 'node-2' }],
    [[{ op: 'remove', path: '/name' }], { name: null }],
    [[{ op: 'remove', path: '/description' }], { description: null }],
    [[{ op: 'replace', path: '/conductor_group', value: 'Rack2' }], { conductor_group: 'rack2' }],
    [[{ op: 'remove', path: '/conductor_group' }], { conductor_group: '' }],
    [[{ op: 'remove', path: '/console_interface' }], { console_interface: 'ipmitool-socat' }],
    [[{ op: 'replace', path: '/console_interface', value: 'native-ipmi-socat' }], { console_interface: 'native-ipmi-socat' }],
    [[{ op: 'add', path: '/extra/rack', value: 'r1' }], { extra: { owner: 'team-a', rack: 'r1' } }],
    [[{ op: 'add', path: '/properties/cpus', value: 8 }], { properties: { cpus: 8 } }],
    [[{ op: 'add', path: '/extra/a~1b', value: 1 }], { extra: { owner: 'team-a', 'a/b': 1 } }],
    [[{ op: 'replace', path: '/driver', value: 'pxe_ipmitool_socat' }], { driver: 'ipmi', console_interface: 'ipmitool-socat' }],
    [
      [
        { op: 'replace', path: '/name', value: 'n2' },
        { op: 'remove', path: '/extra/owner' },
        { op: 'add', path: '/driver_info/ipmi_cipher_suite', value: 17 },
      ],
      { name: 'n2', extra: {}, driver_info: { ipmi_address: '10.0.0.5', ipmi_username: 'admin', ipmi_password: 'secret', ipmi_port: 623, ipmi_cipher_suite: 17 } },
    ],
  ])('%j', (ops, changed) => {
    const before = node();
    const out = applyNodePatch(before, ops);
    expect(out).toEqual({ ...writableView(before), ...changed });
    expect(before).toEqual(node()); // the stored node is not touched
  });

  it('adds into driver_info, extra and properties even when they were missing', () => {
    const n = node({ extra: undefined as never, properties: null as never });
    expect(applyNodePatch(n, [{ op: 'add', path: '/extra/k', value: 'v' }]).extra).toEqual({ k: 'v' });
  });

  describe('refuses, storing nothing', () => {
    it.each([
      [undefined, 'Invalid patch: expected a non-empty JSON Patch list.'],
      [null, 'Invalid patch: expected a non-empty JSON Patch list.'],
      [[], 'Invalid patch: expected a non-empty JSON Patch list.'],
      [{ op: 'replace', path: '/name', value: 'x' }, 'Invalid patch: expected a non-empty JSON Patch list.'],
      ['[{"op":"replace"}]', 'Invalid patch: expected a non-empty JSON Patch list.'],
      [[null], 'Invalid patch: every operation needs "op" and "path".'],
      [['replace'], 'Invalid patch: every operation needs "op" and "path".'],
      [[{ op: 'replace', value: 'x' }], 'Invalid patch: every operation needs "op" and "path".'],
      [[{ path: '/name', value: 'x' }], 'Invalid patch: every operation needs "op" and "path".'],
      [[{ op: 'replace', path: 5, value: 'x' }], 'Invalid patch: every operation needs "op" and "path".'],
      [[{ op: 'move', from: '/name', path: '/description' }], 'Invalid patch operation "move": add, replace or remove.'],
      [[{ op: 'copy', from: '/name', path: '/description' }], 'Invalid patch operation "copy": add, replace or remove.'],
      [[{ op: 'test', path: '/name', value: 'node-1' }], 'Invalid patch operation "test": add, replace or remove.'],
      [[{ op: 'REPLACE', path: '/name', value: 'x' }], 'Invalid patch operation "REPLACE": add, replace or remove.'],
      [[{ op: 'replace', path: '/name' }], 'Invalid patch: "replace" needs a value.'],
      [[{ op: 'add', path: '/extra/x' }], 'Invalid patch: "add" needs a value.'],
      [[{ op: 'replace', path: '/uuid', value: UUID }], "'/uuid' is an internal attribute and can not be updated"],
      [[{ op: 'remove', path: '/uuid' }], "'/uuid' is an internal attribute and can not be updated"],
      [[{ op: 'replace', path: '/console_enabled', value: false }], "'/console_enabled' is an internal attribute and can not be updated"],
      [[{ op: 'replace', path: '/provision_state', value: 'active' }], "'/provision_state' is an internal attribute and can not be updated"],
      [[{ op: 'add', path: '/driver_internal_info/x', value: 1 }], "'/driver_internal_info' is an internal attribute and can not be updated"],
      [[{ op: 'replace', path: '/last_error', value: null }], "'/last_error' is an internal attribute and can not be updated"],
      [[{ op: 'replace', path: '/color', value: 'red' }], `Cannot patch /color. Only the following can be updated: ${WRITABLE_FIELDS.filter((f) => f !== 'uuid').join(', ')}`],
      [[{ op: 'replace', path: '', value: {} }], `Cannot patch . Only the following can be updated: ${WRITABLE_FIELDS.filter((f) => f !== 'uuid').join(', ')}`],
      [[{ op: 'replace', path: '/', value: {} }], `Cannot patch /. Only the following can be updated: ${WRITABLE_FIELDS.filter((f) => f !== 'uuid').join(', ')}`],
      [[{ op: 'add', path: '/__proto__/polluted', value: 1 }], `Cannot patch /__proto__/polluted. Only the following can be updated: ${WRITABLE_FIELDS.filter((f) => f !== 'uuid').join(', ')}`],
      [[{ op: 'remove', path: '/driver' }], 'Invalid driver: a driver is required.'],
      [[{ op: 'replace', path: '/driver', value: 'redfish' }], 'Invalid driver "redfish": supported are ipmi, pxe_ipmitool_socat, agent_ipmitool_socat.'],
    ])('%j → %j', (ops, message) => {
      expect(refused(ops)).toBe(message);
    });

    it.each([
      ['/driver_info/ipmi_address', '10.0.0.5,fork!!SYSTEM:touch /tmp/x'],
      ['/driver_info/ipmi_address', 'bmc\nINJECT'],
      ['/driver_info/ipmi_address', 'bmc\0'],
      ['/driver_info/ipmi_address', 623],
      ['/driver_info/ipmi_username', 'a",fork!!SYSTEM:touch /tmp/x,"'],
      ['/driver_info/ipmi_username', 'x'.repeat(17)],
      ['/driver_info/ipmi_password', 'x'.repeat(21)],
      ['/driver_info/ipmi_password', 'pw\nline2'],
      ['/driver_info/ipmi_password', 12345],
      ['/driver_info/ipmi_port', '623;reboot'],
      ['/driver_info/ipmi_port', 70000],
      ['/driver_info/ipmi_terminal_port', '10005 '],
      ['/driver_info/ipmi_priv_level', 'ROOT'],
      ['/driver_info/ipmi_cipher_suite', '3,fork'],
      ['/driver_info/bad key', 1],
      ['/driver_info', 'not an object'],
      ['/driver_info', []],
      ['/name', 'two words'],
      ['/name', UUID],
      ['/conductor_group', 'rack:1'],
      ['/description', 'd'.repeat(4097)],
      ['/extra', 'x'],
      ['/console_interface', 'shellinabox'],
    ])('replace %s with %j (validated like a POST)', (path, value) => {
      expect(refused([{ op: 'replace', path, value }])).toMatch(/^Invalid /);
    });

    it('an operation on a missing member is refused, with the first line of the library’s reason', () => {
      expect(refused([{ op: 'replace', path: '/driver_info/no_such_key', value: 1 }])).toMatch(/^Invalid patch: .+$/);
      expect(refused([{ op: 'remove', path: '/extra/nope' }])).toMatch(/^Invalid patch: [^\n]+$/);
    });

    it('a later bad operation refuses the whole patch', () => {
      expect(
        refused([
          { op: 'replace', path: '/name', value: 'fine' },
          { op: 'replace', path: '/driver_info/ipmi_address', value: 'a b' },
        ]),
      ).toMatch(/^Invalid ipmi_address/);
    });
  });

  it('property: any list of add/replace/remove on driver_info either is refused as INVALID_INPUT or yields a valid node', () => {
    const key = fc.constantFrom('ipmi_address', 'ipmi_port', 'ipmi_username', 'ipmi_password', 'ipmi_priv_level', 'ipmi_cipher_suite', 'ipmi_terminal_port', 'x', 'a b');
    const value = fc.oneof(fc.string({ maxLength: 30 }), fc.integer({ min: -10, max: 70000 }), fc.boolean(), fc.constant(null), fc.constantFrom('10.0.0.9', 'bmc.example', 'admin', 'USER', '17', ',fork', '\n'));
    const op = fc.oneof(
      fc.record({ op: fc.constantFrom('add', 'replace'), path: key.map((k) => `/driver_info/${k}`), value }),
      fc.record({ op: fc.constant('remove'), path: key.map((k) => `/driver_info/${k}`) }),
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 5 }), (ops) => {
        let out;
        try {
          out = applyNodePatch(node(), ops);
        } catch (e) {
          expect(e).toBeInstanceOf(SolgateError);
          expect((e as SolgateError).code).toBe('INVALID_INPUT');
          return;
        }
        const di = out.driver_info;
        if (di.ipmi_address !== undefined) expect(String(di.ipmi_address)).toMatch(/^[A-Za-z0-9.:[\]-]+$/);
        if (di.ipmi_username !== undefined) expect(String(di.ipmi_username)).toMatch(/^[A-Za-z0-9_.@+-]{0,16}$/);
        if (di.ipmi_password !== undefined) expect(String(di.ipmi_password)).not.toMatch(/[\0\r\n]/);
        for (const k of ['ipmi_port', 'ipmi_terminal_port', 'ipmi_cipher_suite'] as const) if (di[k] !== undefined) expect(String(di[k])).toMatch(/^\d+$/);
        expect(out.uuid).toBe(UUID);
      }),
      { numRuns: 300 },
    );
  });
});
