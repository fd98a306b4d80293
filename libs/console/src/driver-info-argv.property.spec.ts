import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { isSolgateError } from '#libs/common';
import { PRIV_LEVELS, validateDriverInfo } from '#libs/nodes';
import { buildIpmitoolArgv, ipmitoolTarget } from './argv.js';

/**
 * Validation on write and validation on use must agree: whatever the API stored (validateDriverInfo)
 * the console path accepts (ipmitoolTarget), and the argv it builds is safe to write to the argv
 * file sol-session.sh reads line by line: one argument per line, none with a line break or NUL,
 * the password never among them.
 */
const hostile = fc.oneof(
  fc.constantFrom('a\nb', 'a\rb', 'x\0y', '-oProxyCommand=x', '127.0.0.1,fork', '$(id)', 'a b', '[::1', '::1]', '1.2.3.4.5', 'ADMINISTRATOR\n'),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
const value = (valid: fc.Arbitrary<unknown>) => fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: hostile }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) });
const driverInfo = fc.record(
  {
    ipmi_address: value(fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV6().map((a) => `[${a}]`), fc.domain())),
    ipmi_port: value(fc.oneof(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 0, max: 70000 }).map(String))),
    ipmi_username: value(fc.stringMatching(/^[A-Za-z0-9_.@+-]{0,16}$/)),
    ipmi_password: value(fc.string({ maxLength: 20 })),
    ipmi_priv_level: value(fc.constantFrom(...PRIV_LEVELS, 'operator')),
    ipmi_cipher_suite: value(fc.oneof(fc.integer({ min: 0, max: 17 }), fc.integer({ min: 0, max: 20 }).map(String))),
  },
  { requiredKeys: ['ipmi_address'] },
);

describe('driver_info → ipmitool argv: property-based', () => {
  it('what validation stores, the console path accepts, and its argv is line-safe with no password', () => {
    let accepted = 0;
    fc.assert(
      fc.property(driverInfo, (raw) => {
        let stored;
        try {
          stored = validateDriverInfo(JSON.parse(JSON.stringify(raw)));
        } catch (e) {
          expect(isSolgateError(e) && e.code === 'INVALID_INPUT').toBe(true);
          return;
        }
        if (stored.ipmi_address === undefined) return;
        accepted++;
        const argv = buildIpmitoolArgv(ipmitoolTarget(stored), '/run/solgate-c1/node.pw');
        for (const a of argv) {
          expect(a).not.toMatch(/[\n\r\0]/);
          expect(a.length).toBeGreaterThan(0);
        }
        const pw = stored.ipmi_password;
        if (typeof pw === 'string' && pw.length >= 4) expect(argv.some((a) => a.includes(pw))).toBe(false);
        // every option value sits right after its flag: nothing a user wrote can become a flag of its own
        for (const flag of ['-H', '-p', '-U', '-C', '-L', '-f']) {
          const i = argv.indexOf(flag);
          if (i >= 0) expect(argv[i + 1]).toBeDefined();
        }
        expect(argv.filter((a) => a.startsWith('-')).every((a) => ['-I', '-H', '-L', '-p', '-U', '-C', '-f'].includes(a) || argv[argv.indexOf(a) - 1] === '-U')).toBe(true);
      }),
      { numRuns: 500 },
    );
    expect(accepted).toBeGreaterThan(50);
  });
});
