import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { describeSession, describeSessionFields, parsePrivilegeLevel, resolveSessionOptions } from './options.js';
import { IpmiError } from '../errors.js';

describe('describeSession (for logs)', () => {
  it('names host, port, user, suite and privilege, never the password or K_G', () => {
    const o = { host: '10.0.0.5', port: 6230, username: 'admin', password: 'hunter2-secret', kg: 'kg-secret', cipherSuite: 17, privLevel: 'OPERATOR' as const };
    expect(describeSession(o)).toBe('lanplus admin@10.0.0.5:6230 cipher=17 priv=OPERATOR');
    expect(describeSessionFields(o)).toEqual({ host: '10.0.0.5', port: 6230, username: 'admin', cipherSuite: 17, privLevel: 'OPERATOR', timeoutMs: 1000, retries: 2 });
    expect(describeSession({ host: 'fe80::1', username: 'root' })).toBe('lanplus root@[fe80::1]:623 cipher=auto priv=ADMINISTRATOR');
  });

  it('no password ever appears, whatever it is', () => {
    fc.assert(
      // a marker character that nothing else in the output contains
      fc.property(fc.string().map((s) => `\u00a7${s}`), (password) => {
        const o = { host: 'bmc', username: 'u', password, kg: password };
        const out = describeSession(o) + JSON.stringify(describeSessionFields(o));
        return !out.includes('\u00a7');
      }),
    );
  });
});

describe('resolveSessionOptions', () => {
  it('defaults: port 623, ADMINISTRATOR, 1000 ms x 3 attempts, keepalive 15 s', () => {
    const r = resolveSessionOptions({ host: 'h', username: 'u', password: 'p' });
    expect(r).toMatchObject({ port: 623, privilege: 4, timeoutMs: 1000, retries: 2, keepaliveIntervalMs: 15000, cipherSuite: undefined });
  });

  it('rejects bad values with INVALID_ARGUMENT or UNSUPPORTED_CIPHER_SUITE', () => {
    const bad = [
      { host: '', username: 'u', password: 'p' },
      { host: 'h', port: 70000, username: 'u', password: 'p' },
      { host: 'h', username: 'x'.repeat(17), password: 'p' },
      { host: 'h', username: 'u', password: 'p'.repeat(21) },
      { host: 'h', username: 'u', password: 'p', timeoutMs: 0 },
      { host: 'h', username: 'u', password: 'p', retries: -1 },
    ];
    for (const o of bad) expect(() => resolveSessionOptions(o)).toThrow(IpmiError);
    expect(() => resolveSessionOptions({ host: 'h', username: 'u', password: 'p', cipherSuite: 4 })).toThrow(/not implemented/);
  });

  it('parses ipmitool privilege names', () => {
    expect(parsePrivilegeLevel('admin')).toBe(4);
    expect(parsePrivilegeLevel('ADMINISTRATOR')).toBe(4);
    expect(parsePrivilegeLevel('operator')).toBe(3);
    expect(parsePrivilegeLevel('2')).toBe(2);
    expect(() => parsePrivilegeLevel('root')).toThrow(IpmiError);
  });
});
