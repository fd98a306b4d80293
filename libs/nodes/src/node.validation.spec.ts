import { isIP } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { SolgateError } from '#libs/common';
import { nodeFieldDefaults } from './node.model.js';
import { IPMI_USERNAME_RE, isValidHost, parseIronicBoolean, resolveDriver, validateDriverInfo, validateName, validateNodeFields } from './node.validation.js';

/**
 * The edge every value crosses before it can reach a command line (CVE-2026-42510's surface):
 * everything refused here must be refused with INVALID_INPUT and nothing partially accepted.
 */

/** Characters socat's address syntax, a shell, or a line-oriented file give a meaning to. */
const SOCAT_SYNTAX = [':', ',', '!', '!!', ';', '"', "'", '\\', '(', ')', '{', '}', '[', ']', '|', '&', '$', '`', '<', '>', ' ', '\t', '*', '?', '=', '%', '#', '~'];
const LINE_BREAKS = ['\n', '\r', '\r\n', '\0', '\u2028', '\u0085'];

function invalid(f: () => unknown): SolgateError {
  let thrown: unknown;
  try {
    f();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(SolgateError);
  expect((thrown as SolgateError).code).toBe('INVALID_INPUT');
  return thrown as SolgateError;
}

describe('validateDriverInfo', () => {
  it('accepts a full, valid driver_info and returns a copy (null removed, priv level upper-cased)', () => {
    const given = {
      ipmi_address: 'bmc-1.example.net',
      ipmi_port: 623,
      ipmi_username: 'admin@x.y+z-1',
      ipmi_password: 'p@ss w0rd,!:;"(){}',
      ipmi_priv_level: 'operator',
      ipmi_cipher_suite: '17',
      ipmi_terminal_port: '10005',
      ipmi_bridging: null,
      deploy_kernel: 'anything at all: never on a command line',
    };
    const out = validateDriverInfo(given);
    expect(out).toEqual({ ...given, ipmi_priv_level: 'OPERATOR', ipmi_bridging: undefined });
    expect('ipmi_bridging' in out).toBe(false);
    expect(out).not.toBe(given);
    expect(given.ipmi_priv_level).toBe('operator'); // the input is not changed
  });

  it.each([undefined, null])('treats %p as empty', (v) => expect(validateDriverInfo(v)).toEqual({}));

  it.each([['a string'], [42], [true], [[]], [['ipmi_address']]])('refuses a driver_info that is not an object: %j', (v) => {
    expect(invalid(() => validateDriverInfo(v)).message).toBe('Invalid driver_info: must be an object.');
  });

  describe('ipmi_address', () => {
    it.each(['10.0.0.5', '::1', 'fd00::1', '[fd00::1]', 'bmc', 'bmc-1.rack-2.example.net', 'bmc.example.net.', 'a'.repeat(63) + '.b'])('accepts %j', (a) => {
      expect(validateDriverInfo({ ipmi_address: a }).ipmi_address).toBe(a);
    });

    it.each(SOCAT_SYNTAX.map((c) => [`10.0.0.5${c}fork`]))('refuses a socat syntax character: %j', (a) => {
      expect(invalid(() => validateDriverInfo({ ipmi_address: a })).message).toMatch(/^Invalid ipmi_address .*: must be a host name or an IPv4\/IPv6 address\.$/s);
    });

    it.each(LINE_BREAKS.map((c) => [`bmc${c}evil`]))('refuses a line break or NUL: %j', (a) => {
      invalid(() => validateDriverInfo({ ipmi_address: a }));
    });

    it.each([
      ['', 'empty'],
      ['-oProxyCommand=x', 'an option'],
      ['-H', 'an option'],
      ['a'.repeat(64), 'a label over 63 characters'],
      [`${'a'.repeat(60)}.`.repeat(5), 'over 253 characters'],
      ['1.2.3', 'all-numeric, not an IP'],
      ['256.1.1.1', 'all-numeric, not an IP'],
      ['bmc_1', 'an underscore'],
      ['-bmc', 'a leading hyphen'],
      ['bmc-', 'a trailing hyphen'],
      ['[bmc]', 'brackets around a name'],
      ['bmc..example', 'an empty label'],
    ])('refuses %j (%s)', (a) => {
      invalid(() => validateDriverInfo({ ipmi_address: a }));
    });

    it.each([[623], [true], [{}], [['10.0.0.5']]])('refuses a non-string: %j', (a) => {
      invalid(() => validateDriverInfo({ ipmi_address: a }));
    });
  });

  describe.each(['ipmi_port', 'ipmi_terminal_port'])('%s', (field) => {
    it.each([1, 623, 65535, '1', '623', '65535'])('accepts %j, keeping its JSON type', (p) => {
      expect(validateDriverInfo({ [field]: p })[field]).toBe(p);
    });

    it.each([0, 65536, -1, 1.5, '0', '65536', '623 ', ' 623', '+623', '0x26f', '6e2', '623,fork', '623\n', '', 'abc', true, {}, [623], Number.NaN, Infinity])(
      'refuses %j',
      (p) => {
        expect(invalid(() => validateDriverInfo({ [field]: p })).message).toMatch(new RegExp(`^Invalid ${field} .*: must be an integer port between 1 and 65535\\.$`));
      },
    );
  });

  describe('ipmi_username', () => {
    it.each(['', 'admin', 'ADMIN_1', 'a.b@c+d-e', 'x'.repeat(16)])('accepts %j', (u) => expect(validateDriverInfo({ ipmi_username: u }).ipmi_username).toBe(u));

    it.each([...SOCAT_SYNTAX, ...LINE_BREAKS, '/', 'é'].map((c) => [`adm${c}in`]))('refuses %j', (u) => {
      expect(invalid(() => validateDriverInfo({ ipmi_username: u })).message).toMatch(/^Invalid ipmi_username .*: at most 16 characters from A-Z a-z 0-9 _ \. @ \+ -\.$/s);
    });

    it.each(['x'.repeat(17), 42, ['admin'], { name: 'admin' }, true])('refuses %j (too long or not a string)', (u) => {
      invalid(() => validateDriverInfo({ ipmi_username: u }));
    });

    it('agrees with IPMI_USERNAME_RE on any string', () => {
      fc.assert(
        fc.property(fc.string({ maxLength: 24 }), (u) => {
          let ok = true;
          try {
            validateDriverInfo({ ipmi_username: u });
          } catch {
            ok = false;
          }
          expect(ok).toBe(u === '' || IPMI_USERNAME_RE.test(u));
        }),
      );
    });
  });

  describe('ipmi_password', () => {
    it.each(['', 'secret', 'p,a:s!s;w"o\'r(d)$`|&', 'x'.repeat(20), '€'.repeat(6)])('accepts %j (it travels in a 0600 file, never a command line)', (p) => {
      expect(validateDriverInfo({ ipmi_password: p }).ipmi_password).toBe(p);
    });

    it.each([
      ['x'.repeat(21), 'over 20 bytes'],
      ['€'.repeat(7), 'over 20 bytes in UTF-8 (21)'],
      ['pass\nword', 'a newline'],
      ['pass\rword', 'a carriage return'],
      ['pass\0word', 'a NUL'],
    ])('refuses %j (%s)', (p) => {
      expect(invalid(() => validateDriverInfo({ ipmi_password: p })).message).toBe(
        'Invalid ipmi_password: IPMI 2.0 passwords are at most 20 bytes, without NUL or line breaks.',
      );
    });

    it.each([123456, true, ['pw'], { pw: 1 }])('refuses a non-string %j, without echoing it', (p) => {
      expect(invalid(() => validateDriverInfo({ ipmi_password: p })).message).toBe('Invalid ipmi_password: must be a string.');
    });

    it('never puts the password into an error message', () => {
      fc.assert(
        fc.property(fc.string({ minLength: 21, maxLength: 40 }).map((s) => `S3cr3t-${s}`), (p) => {
          expect(invalid(() => validateDriverInfo({ ipmi_password: p })).message).not.toContain(p);
        }),
        { numRuns: 50 },
      );
    });
  });

  describe('ipmi_priv_level', () => {
    it.each([
      ['ADMINISTRATOR', 'ADMINISTRATOR'],
      ['administrator', 'ADMINISTRATOR'],
      ['Operator', 'OPERATOR'],
      ['user', 'USER'],
      ['CALLBACK', 'CALLBACK'],
    ])('%j → %j', (given, stored) => expect(validateDriverInfo({ ipmi_priv_level: given }).ipmi_priv_level).toBe(stored));

    it.each(['ROOT', 'OEM', '', 'ADMINISTRATOR ', 'ADMINISTRATOR,fork', 4, ['USER']])('refuses %j', (v) => {
      expect(invalid(() => validateDriverInfo({ ipmi_priv_level: v })).message).toMatch(/^Invalid ipmi_priv_level .*: one of ADMINISTRATOR, OPERATOR, USER, CALLBACK\.$/);
    });
  });

  describe('ipmi_cipher_suite', () => {
    it.each([0, 3, 17, '3', '17'])('accepts %j', (v) => expect(validateDriverInfo({ ipmi_cipher_suite: v }).ipmi_cipher_suite).toBe(v));
    it.each([18, -1, 2.5, '18', '003', '3 ', 'x', '', true, [3]])('refuses %j', (v) => {
      expect(invalid(() => validateDriverInfo({ ipmi_cipher_suite: v })).message).toMatch(/^Invalid ipmi_cipher_suite .*: an integer from 0 to 17\.$/);
    });
  });

  describe('other keys', () => {
    it('keeps unknown keys with any value (they never reach a command line)', () => {
      const v = { deploy_kernel: 'x,fork!!SYSTEM:touch /tmp/x', 'a.b-c_d': { nested: [1, '\n'] } };
      expect(validateDriverInfo(v)).toEqual(v);
    });

    it.each(['', 'bad key', 'a:b', 'a,b', 'a\nb', 'k'.repeat(65), 'ключ'])('refuses the key %j', (k) => {
      expect(invalid(() => validateDriverInfo({ [k]: 1 })).message).toBe(`Invalid driver_info key ${JSON.stringify(k)}.`);
    });

    it('refuses a driver_info over 64 KiB', () => {
      expect(invalid(() => validateDriverInfo({ blob: 'x'.repeat(64 * 1024) })).message).toBe('Invalid driver_info: larger than 64 KiB.');
    });
  });

  it('property: whatever it accepts, the known fields hold no socat syntax, line break or NUL', () => {
    const risky = fc.constantFrom(...SOCAT_SYNTAX, ...LINE_BREAKS, 'a', '1', '.', '-', '_', '@', '+');
    const value = fc.oneof(fc.array(risky, { maxLength: 12 }).map((a) => a.join('')), fc.string({ maxLength: 12 }), fc.integer(), fc.boolean(), fc.constant(null));
    const info = fc.record(
      { ipmi_address: value, ipmi_port: value, ipmi_username: value, ipmi_priv_level: value, ipmi_cipher_suite: value, ipmi_terminal_port: value },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(info, (i) => {
        let out: Record<string, unknown>;
        try {
          out = validateDriverInfo(i);
        } catch (e) {
          expect((e as SolgateError).code).toBe('INVALID_INPUT');
          return;
        }
        for (const k of ['ipmi_address', 'ipmi_port', 'ipmi_username', 'ipmi_priv_level', 'ipmi_cipher_suite', 'ipmi_terminal_port']) {
          const v = out[k];
          if (v === undefined) continue;
          expect(String(v)).toMatch(/^[A-Za-z0-9_.@+\-:[\]]*$/); // only an IPv6 address brings ':' and '[ ]'
          if (k !== 'ipmi_address') expect(String(v)).not.toMatch(/[:[\]]/);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('isValidHost', () => {
  it('property: accepts exactly IPs and RFC 1123 names that are not all digits', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 4 }), (labels) => {
        const name = labels.join('.');
        // all-digit labels are no name; four of them in range are an IPv4 address (e.g. 0.0.0.0)
        expect(isValidHost(name)).toBe(!/^\d+(\.\d+)*$/.test(name) || isIP(name) === 4);
      }),
    );
    fc.assert(fc.property(fc.ipV4(), (ip) => expect(isValidHost(ip)).toBe(true)));
    fc.assert(fc.property(fc.ipV6(), (ip) => expect(isValidHost(ip) && isValidHost(`[${ip}]`)).toBe(true)));
  });
});

describe('validateName', () => {
  it.each([undefined, null])('%p means no name', (v) => expect(validateName(v)).toBeNull());
  it.each(['node-1', 'a.b_c~d', 'x'.repeat(255)])('accepts %j', (n) => expect(validateName(n)).toBe(n));
  it.each(['', 'a b', 'a/b', 'a:b', 'x'.repeat(256), 'a\nb', '6f1f4b1c-9c44-4a36-a3c7-3b9c6c7f0e8a', 42, true, ['n']])('refuses %j', (n) => {
    invalid(() => validateName(n));
  });
});

describe('resolveDriver', () => {
  it.each([
    ['ipmi', undefined, { driver: 'ipmi', console_interface: 'ipmitool-socat' }],
    ['ipmi', null, { driver: 'ipmi', console_interface: 'ipmitool-socat' }],
    ['ipmi', 'native-ipmi-socat', { driver: 'ipmi', console_interface: 'native-ipmi-socat' }],
    ['ipmi', 'no-console', { driver: 'ipmi', console_interface: 'no-console' }],
    ['pxe_ipmitool_socat', undefined, { driver: 'ipmi', console_interface: 'ipmitool-socat' }],
    ['agent_ipmitool_socat', 'native-ipmi-socat', { driver: 'ipmi', console_interface: 'native-ipmi-socat' }],
  ])('%j + %j → %j', (d, ci, expected) => expect(resolveDriver(d, ci)).toEqual(expected));

  it.each([
    [undefined, undefined, 'Invalid driver: a driver is required.'],
    ['', undefined, 'Invalid driver: a driver is required.'],
    [42, undefined, 'Invalid driver: a driver is required.'],
    ['redfish', undefined, 'Invalid driver "redfish": supported are ipmi, pxe_ipmitool_socat, agent_ipmitool_socat.'],
    // names only the prototype of the legacy-driver table has (the fuzzing found "toString" accepted)
    ['toString', undefined, 'Invalid driver "toString": supported are ipmi, pxe_ipmitool_socat, agent_ipmitool_socat.'],
    ['constructor', undefined, 'Invalid driver "constructor": supported are ipmi, pxe_ipmitool_socat, agent_ipmitool_socat.'],
    ['__proto__', undefined, 'Invalid driver "__proto__": supported are ipmi, pxe_ipmitool_socat, agent_ipmitool_socat.'],
    ['ipmi', 'shellinabox', 'Invalid console_interface "shellinabox": one of ipmitool-socat, native-ipmi-socat, ipmitool-shellinabox, no-console.'],
    ['ipmi', 7, 'Invalid console_interface 7: one of ipmitool-socat, native-ipmi-socat, ipmitool-shellinabox, no-console.'],
  ])('%j + %j → %j', (d, ci, message) => expect(invalid(() => resolveDriver(d, ci)).message).toBe(message));
});

describe('validateNodeFields', () => {
  const UUID = '6f1f4b1c-9c44-4a36-a3c7-3b9c6c7f0e8a';

  it('normalizes a POST body: uuid lower-cased, defaults filled, group lower-cased', () => {
    expect(validateNodeFields({ uuid: UUID.toUpperCase(), driver: 'ipmi', conductor_group: 'Rack-1', driver_info: { ipmi_address: '10.0.0.5' } })).toEqual({
      uuid: UUID,
      name: null,
      driver: 'ipmi',
      console_interface: 'ipmitool-socat',
      driver_info: { ipmi_address: '10.0.0.5' },
      conductor_group: 'rack-1',
      description: null,
      extra: {},
      properties: {},
      ...nodeFieldDefaults(),
    });
  });

  it('generates a uuid when none is given', () => {
    expect(validateNodeFields({ driver: 'ipmi' }).uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it.each([
    [null, 'Schema error for node: the body must be a JSON object.'],
    [[], 'Schema error for node: the body must be a JSON object.'],
    ['{}', 'Schema error for node: the body must be a JSON object.'],
    [{ driver: 'ipmi', color: 'red' }, "Schema error for node: Additional properties are not allowed ('color' was unexpected)"],
    [{ driver: 'ipmi', a: 1, b: 2 }, "Schema error for node: Additional properties are not allowed ('a', 'b' were unexpected)"],
    [{ driver: 'ipmi', console_enabled: true }, "Schema error for node: Additional properties are not allowed ('console_enabled' was unexpected)"],
    [{ driver: 'ipmi', uuid: 'not-a-uuid' }, 'Invalid uuid "not-a-uuid": must be a UUID.'],
    [{ driver: 'ipmi', uuid: 42 }, 'Invalid uuid 42: must be a UUID.'],
    [{ driver: 'ipmi', conductor_group: 'rack 1' }, 'Invalid conductor_group "rack 1": at most 255 characters from A-Z a-z 0-9 _ . - (case-insensitive).'],
    [{ driver: 'ipmi', conductor_group: 'g'.repeat(256) }, `Invalid conductor_group "${'g'.repeat(256)}": at most 255 characters from A-Z a-z 0-9 _ . - (case-insensitive).`],
    [{ driver: 'ipmi', conductor_group: 5 }, 'Invalid conductor_group 5: at most 255 characters from A-Z a-z 0-9 _ . - (case-insensitive).'],
    [{ driver: 'ipmi', description: 'd'.repeat(4097) }, 'Invalid description: a string of at most 4096 characters.'],
    [{ driver: 'ipmi', description: 42 }, 'Invalid description: a string of at most 4096 characters.'],
    [{ driver: 'ipmi', extra: [] }, 'Invalid extra: must be an object.'],
    [{ driver: 'ipmi', properties: 'x' }, 'Invalid properties: must be an object.'],
    [{ driver: 'ipmi', extra: { big: 'x'.repeat(64 * 1024) } }, 'Invalid extra: larger than 64 KiB.'],
  ])('refuses %j with %j', (body, message) => {
    expect(invalid(() => validateNodeFields(body)).message).toBe(message);
  });
});

describe('parseIronicBoolean', () => {
  it.each([
    [true, true],
    [false, false],
    ['true', true],
    ['True', true],
    ['1', true],
    [1, true],
    ['on', true],
    ['y', true],
    ['yes', true],
    ['t', true],
    ['false', false],
    ['0', false],
    [0, false],
    ['off', false],
    ['n', false],
    ['no', false],
    ['f', false],
  ])('%j → %j', (v, b) => expect(parseIronicBoolean('enabled', v)).toBe(b));

  it.each(['maybe', '', '2', 2, null, undefined, [true], {}])('refuses %j with Ironic’s message', (v) => {
    expect(invalid(() => parseIronicBoolean('enabled', v)).message).toMatch(/^Invalid enabled: Unrecognized value '.*', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'$/);
  });
});
