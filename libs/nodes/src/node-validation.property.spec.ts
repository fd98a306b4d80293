import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { isSolgateError, isUuid } from '#libs/common';
import { CONSOLE_INTERFACES, isSecretKey, maskDriverInfo, PRIV_LEVELS, SECRET_MASK, WRITABLE_FIELDS, type NodeRecord } from './node.model.js';
import { applyNodePatch } from './node.service.js';
import { isValidHost, validateDriverInfo, validateNodeFields } from './node.validation.js';

/**
 * Property-based fuzzing of what reaches libs/nodes from the API and the CLI: node bodies
 * (POST), driver_info, and JSON Patch documents (PATCH). Inputs are built as JSON text and parsed
 * with JSON.parse, exactly as a request body arrives (so keys like "__proto__" are own properties).
 *
 * Properties: only the domain error (SolgateError INVALID_INPUT) is ever thrown; whatever is
 * accepted is safe for the command line (the fields ipmitool and socat get), normalized (validating
 * it again changes nothing), and never leaks a secret through the masked view.
 */

const RUNS = { numRuns: 400 };

/** Values that have broken parsers before: socat and shell syntax, option-looking strings, odd IPs. */
const NASTY = [
  '127.0.0.1,fork', 'a b', '-oProxyCommand=x', '$(reboot)', '`id`', 'host;rm -rf /', 'h\nx', 'h\0', '[fd00::1]', 'fd00::1', '::1',
  '::ffff:10.0.0.1', '[::1', 'a"b', "a'b", '\\', 'bmc.example.com', 'bmc.example.com.', '10.0.0.1', '255.255.255.255', '1.2.3', '999.1.1.1',
  'ADMINISTRATOR', 'operator', 'Callback', '', ' ', '0', '623', '65535', '65536', '-1', '1e3', '0x1f', '17', '18', '03', 'ª', 'é',
  '__proto__', 'constructor', 'toString', 'x'.repeat(300), 'a'.repeat(16), 'a'.repeat(17), 'p'.repeat(20), 'ü'.repeat(11),
];
const nastyString = fc.oneof(
  fc.constantFrom(...NASTY),
  fc.string({ maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.stringMatching(/^[A-Za-z0-9.:_@+[\]-]{1,24}$/),
);
const scalar = fc.oneof(nastyString, fc.integer({ min: -2, max: 70000 }), fc.double(), fc.boolean(), fc.constant(null));
const anyValue = fc.oneof({ weight: 4, arbitrary: scalar }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) });

/** A JSON object as a request body would be: JSON text with exactly these keys, parsed. */
function jsonObject(entries: [string, unknown][]): Record<string, unknown> {
  const text = `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v === undefined ? null : v)}`).join(',')}}`;
  return JSON.parse(text) as Record<string, unknown>;
}

const DRIVER_INFO_KEYS = ['ipmi_address', 'ipmi_port', 'ipmi_username', 'ipmi_password', 'ipmi_priv_level', 'ipmi_cipher_suite', 'ipmi_terminal_port'];
const driverInfoArb = fc
  .array(
    fc.tuple(
      fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...DRIVER_INFO_KEYS) }, { weight: 1, arbitrary: nastyString }, { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype') }),
      anyValue,
    ),
    { maxLength: 9 },
  )
  .map(jsonObject);

/** Values each field accepts (so that many generated bodies are accepted and their properties checked). */
const VALID = {
  ipmi_address: fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV6().map((a) => `[${a}]`), fc.domain()),
  ipmi_port: fc.oneof(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 65535 }).map(String)),
  ipmi_terminal_port: fc.oneof(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 65535 }).map(String)),
  ipmi_username: fc.stringMatching(/^[A-Za-z0-9_.@+-]{0,16}$/),
  ipmi_password: fc.string({ maxLength: 20 }).filter((p) => Buffer.byteLength(p) <= 20 && !/[\0\r\n]/.test(p)),
  ipmi_priv_level: fc.constantFrom(...PRIV_LEVELS, 'operator', 'User'),
  ipmi_cipher_suite: fc.oneof(fc.integer({ min: 0, max: 17 }), fc.integer({ min: 0, max: 17 }).map(String)),
};
const validDriverInfo = fc.record(VALID, { requiredKeys: ['ipmi_address'] });
/** A valid driver_info with one value swapped for a hostile one. */
const mutatedDriverInfo = fc
  .tuple(validDriverInfo, fc.oneof(fc.constantFrom(...DRIVER_INFO_KEYS), nastyString), anyValue)
  .map(([info, k, v]) => jsonObject([...Object.entries(info).filter(([key]) => key !== k), [k, v]]));

const validBody = fc.record(
  {
    uuid: fc.oneof(fc.uuid(), fc.uuid().map((u) => u.toUpperCase())),
    name: fc.stringMatching(/^[A-Za-z0-9._~-]{1,30}$/),
    driver: fc.constantFrom('ipmi', 'pxe_ipmitool_socat', 'agent_ipmitool_socat'),
    console_interface: fc.constantFrom(...CONSOLE_INTERFACES),
    driver_info: fc.oneof(validDriverInfo, mutatedDriverInfo),
    conductor_group: fc.stringMatching(/^[A-Za-z0-9_.-]{0,12}$/),
    description: fc.string({ maxLength: 100 }),
    extra: fc.dictionary(fc.stringMatching(/^[a-z_]{1,8}$/), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
    properties: fc.dictionary(fc.stringMatching(/^[a-z_]{1,8}$/), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
  },
  { requiredKeys: ['driver'] },
);
const BODY_KEYS = [...WRITABLE_FIELDS, 'console_enabled', 'unknown', '__proto__'];
const bodyArb = fc.oneof(
  // a valid body, as JSON text
  validBody.map((b) => jsonObject(Object.entries(b))),
  // a valid body with one field swapped for anything
  fc.tuple(validBody, fc.constantFrom(...BODY_KEYS), anyValue).map(([b, k, v]) => jsonObject([...Object.entries(b).filter(([key]) => key !== k), [k, v]])),
  // anything at all
  fc.array(fc.tuple(fc.oneof(fc.constantFrom(...BODY_KEYS), nastyString), anyValue), { maxLength: 10 }).map(jsonObject),
  anyValue,
);

/** Run `fn`; it must return or throw the domain error INVALID_INPUT, nothing else. */
function outcome<T>(fn: () => T): { ok: true; value: T } | { ok: false } {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (!isSolgateError(e) || e.code !== 'INVALID_INPUT') throw new Error(`threw something other than INVALID_INPUT: ${String(e)}`, { cause: e });
    return { ok: false };
  }
}

/** What the command line gets from driver_info must be plain (ipmitool's argv, socat never sees it). */
function expectCommandLineSafe(info: Record<string, unknown>): void {
  for (const key of Object.keys(info)) expect(key).toMatch(/^[A-Za-z0-9_.-]{1,64}$/);
  const a = info.ipmi_address;
  if (a !== undefined) {
    expect(typeof a).toBe('string');
    expect(isValidHost(a as string)).toBe(true);
    expect(a).toMatch(/^[A-Za-z0-9.:[\]-]+$/); // no blank, quote, comma, shell or socat syntax
    expect(a).not.toMatch(/^-/);
  }
  for (const k of ['ipmi_port', 'ipmi_terminal_port']) {
    const v = info[k];
    if (v === undefined) continue;
    expect(typeof v === 'number' || typeof v === 'string').toBe(true);
    const n = Number(v);
    expect(Number.isInteger(n) && n >= 1 && n <= 65535 && String(n) === String(Number(String(v)))).toBe(true);
  }
  if (info.ipmi_username !== undefined) expect(info.ipmi_username).toMatch(/^[A-Za-z0-9_.@+-]{0,16}$/);
  if (info.ipmi_password !== undefined) {
    expect(typeof info.ipmi_password).toBe('string');
    expect(Buffer.byteLength(info.ipmi_password as string)).toBeLessThanOrEqual(20);
    expect(info.ipmi_password).not.toMatch(/[\0\r\n]/);
  }
  if (info.ipmi_priv_level !== undefined) expect(PRIV_LEVELS).toContain(info.ipmi_priv_level);
  if (info.ipmi_cipher_suite !== undefined) {
    const n = Number(info.ipmi_cipher_suite);
    expect(Number.isInteger(n) && n >= 0 && n <= 17).toBe(true);
  }
}

describe('node bodies (POST /v1/nodes, solgate nodes create/import): property-based', () => {
  it('throw nothing but INVALID_INPUT, and what they accept is command-line safe and normalized', () => {
    let accepted = 0;
    fc.assert(
      fc.property(bodyArb, (body) => {
        const r = outcome(() => validateNodeFields(body));
        if (!r.ok) return;
        accepted++;
        const n = r.value;
        expect(isUuid(n.uuid) && n.uuid === n.uuid.toLowerCase()).toBe(true);
        expect(n.driver).toBe('ipmi');
        expect(CONSOLE_INTERFACES).toContain(n.console_interface);
        expect(n.conductor_group).toMatch(/^[a-z0-9_.-]{0,255}$/);
        if (n.name !== null) expect(isUuid(n.name)).toBe(false);
        expectCommandLineSafe(n.driver_info);
        // stored records are validated again on every PATCH: that must change nothing
        expect(validateNodeFields(structuredClone(n))).toEqual(n);
      }),
      RUNS,
    );
    expect(accepted).toBeGreaterThan(50); // the generator reaches the accepting paths, not only refusals
  });

  it('driver_info alone: only INVALID_INPUT, and the masked view keeps every key and shows no secret', () => {
    fc.assert(
      fc.property(fc.oneof(validDriverInfo, mutatedDriverInfo, driverInfoArb, anyValue), (raw) => {
        const r = outcome(() => validateDriverInfo(raw));
        if (!r.ok) return;
        expectCommandLineSafe(r.value);
        const masked = maskDriverInfo(r.value);
        expect(Object.keys(masked).sort()).toEqual(Object.keys(r.value).sort());
        for (const [k, v] of Object.entries(r.value)) {
          if (isSecretKey(k) && v !== null && v !== undefined) expect(masked[k]).toBe(SECRET_MASK);
          else expect(masked[k]).toEqual(v);
        }
        // what leaves the process as JSON carries the same keys (nothing swallowed as a prototype)
        expect(Object.keys(JSON.parse(JSON.stringify(masked))).sort()).toEqual(Object.keys(r.value).sort());
      }),
      RUNS,
    );
  });
});

describe('driver_info keys that name Object.prototype members', () => {
  it('stay plain keys through validation and masking (never a prototype)', () => {
    const protoKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty');
    fc.assert(
      fc.property(validDriverInfo, protoKey, fc.oneof(fc.dictionary(fc.constantFrom('ipmi_password', 'x'), fc.string()), fc.jsonValue({ maxDepth: 2 })), (info, key, value) => {
        const raw = jsonObject([...Object.entries(info), [key, value]]);
        const r = outcome(() => validateDriverInfo(raw));
        if (!r.ok) return;
        const masked = maskDriverInfo(r.value);
        expect(Object.getPrototypeOf(masked)).toBe(Object.prototype);
        expect(Object.keys(masked).sort()).toEqual(Object.keys(r.value).sort());
      }),
      { numRuns: 200 },
    );
  });
});

describe('JSON Patch documents (PATCH /v1/nodes/{id}, solgate nodes update): property-based', () => {
  const base = validateNodeFields({
    uuid: '6d1e2ff4-7c3c-4f8e-9a34-3f2a6a0b8d11',
    name: 'node-1',
    driver: 'ipmi',
    driver_info: { ipmi_address: '10.0.0.5', ipmi_username: 'admin', ipmi_password: 'secret', ipmi_port: 623 },
    extra: { rack: 'r1' },
  });
  const node: NodeRecord = { ...base, console_enabled: true, console_generation: 1, provision_state: 'enroll', created_at: 1, updated_at: null, rev: 1, console_rev: 1 };

  const PATHS = [
    ...WRITABLE_FIELDS.map((f) => `/${f}`),
    '/driver_info/ipmi_address', '/driver_info/ipmi_password', '/driver_info/ipmi_username', '/driver_info/ipmi_port', '/driver_info/ipmi_priv_level',
    '/extra/rack', '/extra/a/b', '/extra/__proto__/polluted', '/properties/x', '/console_enabled', '/uuid/', '/created_at', '/conductor', '/driver_internal_info/x',
    '', '/', '/name/0', '/extra/-', '/driver_info/~1x', '/driver_info/ipmi_address~0',
  ];
  const opArb = fc
    .record(
      {
        op: fc.oneof({ weight: 5, arbitrary: fc.constantFrom('add', 'replace', 'remove') }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom('move', 'copy', 'test'), anyValue) }),
        path: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...PATHS) }, { weight: 1, arbitrary: anyValue }),
        value: fc.oneof(anyValue, driverInfoArb),
        from: fc.constantFrom(...PATHS),
      },
      { requiredKeys: [] },
    )
    .map((o) => jsonObject(Object.entries(o)));
  const validOp = fc.oneof(
    fc.record({ op: fc.constantFrom('add', 'replace'), path: fc.constant('/description'), value: fc.string({ maxLength: 50 }) }),
    fc.record({ op: fc.constant('add'), path: fc.constantFrom('/extra/x', '/properties/cpus'), value: fc.jsonValue({ maxDepth: 2 }) }),
    fc.record({ op: fc.constantFrom('add', 'replace'), path: fc.constant('/driver_info/ipmi_address'), value: VALID.ipmi_address }),
    fc.record({ op: fc.constantFrom('add', 'replace'), path: fc.constant('/driver_info/ipmi_username'), value: VALID.ipmi_username }),
    fc.record({ op: fc.constant('replace'), path: fc.constant('/driver_info'), value: validDriverInfo }),
    fc.record({ op: fc.constant('remove'), path: fc.constantFrom('/name', '/description', '/extra/rack', '/conductor_group', '/driver_info/ipmi_port') }),
  );
  const opsArb = fc.oneof(
    { weight: 4, arbitrary: fc.array(validOp, { minLength: 1, maxLength: 3 }) },
    { weight: 4, arbitrary: fc.tuple(fc.array(validOp, { maxLength: 2 }), opArb).map(([a, b]) => [...a, b]) },
    { weight: 4, arbitrary: fc.array(opArb, { maxLength: 4 }) },
    { weight: 1, arbitrary: anyValue },
  );

  it('throw nothing but INVALID_INPUT; accepted patches keep the uuid and produce a valid, safe node', () => {
    let accepted = 0;
    fc.assert(
      fc.property(opsArb, (ops) => {
        const before = structuredClone(node);
        const r = outcome(() => applyNodePatch(node, ops));
        expect(node).toEqual(before); // the stored record is never mutated
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        if (!r.ok) return;
        accepted++;
        expect(r.value.uuid).toBe(node.uuid);
        expectCommandLineSafe(r.value.driver_info);
        expect(validateNodeFields(structuredClone(r.value))).toEqual(r.value);
      }),
      RUNS,
    );
    expect(accepted).toBeGreaterThan(50);
  });

  it('refuses every patch that touches a read-only field', () => {
    fc.assert(
      fc.property(fc.constantFrom('/uuid', '/console_enabled', '/created_at', '/updated_at', '/provision_state', '/conductor', '/driver_internal_info', '/last_error'), fc.constantFrom('add', 'replace', 'remove'), anyValue, (path, op, value) => {
        expect(outcome(() => applyNodePatch(node, [{ op, path, value }])).ok).toBe(false);
      }),
      { numRuns: 100 },
    );
  });
});
