import { describe, expect, it } from '@jest/globals';
import {
  decodeOpenSessionRequest,
  decodeOpenSessionResponse,
  decodeRakp1,
  decodeRakp2,
  decodeRakp3,
  decodeRakp4,
  encodeOpenSessionRequest,
  encodeOpenSessionResponse,
  encodeRakp1,
  encodeRakp2,
  encodeRakp3,
  encodeRakp4,
} from './rakp.js';
import { encodeCipherSuiteRecords, parseCipherSuiteRecords, pickCipherSuite, CIPHER_SUITES } from './cipher-suites.js';
import { decodeChannelAuthCapabilities } from './commands.js';

describe('session setup messages', () => {
  it('Open Session Request has ipmitool layout (32 bytes)', () => {
    const b = encodeOpenSessionRequest({ tag: 0, requestedMaxPrivilege: 4, consoleSessionId: 0xa0a2a3a4, auth: 1, integrity: 1, confidentiality: 1 });
    expect(b.toString('hex')).toBe('00040000a4a3a2a0' + '0000000801000000' + '0100000801000000' + '0200000801000000');
    expect(decodeOpenSessionRequest(b)).toEqual({ tag: 0, requestedMaxPrivilege: 4, consoleSessionId: 0xa0a2a3a4, auth: 1, integrity: 1, confidentiality: 1 });
  });

  it('Open Session Response round trip; error replies may be two bytes long (ipmi_sim)', () => {
    const ok = { tag: 7, status: 0, maxPrivilege: 4, consoleSessionId: 11, bmcSessionId: 22, auth: 3, integrity: 4, confidentiality: 1 };
    expect(decodeOpenSessionResponse(encodeOpenSessionResponse(ok))).toEqual(ok);
    expect(decodeOpenSessionResponse(Buffer.from([7, 0x04]))).toMatchObject({ tag: 7, status: 4 });
  });

  it('RAKP 1-4 round trip', () => {
    const r1 = { tag: 1, bmcSessionId: 9, consoleRandom: Buffer.alloc(16, 1), role: 0x14, username: Buffer.from('admin') };
    expect(decodeRakp1(encodeRakp1(r1))).toEqual(r1);
    const r2 = { tag: 2, status: 0, consoleSessionId: 5, bmcRandom: Buffer.alloc(16, 2), bmcGuid: Buffer.alloc(16, 3), authCode: Buffer.alloc(20, 4) };
    expect(decodeRakp2(encodeRakp2(r2))).toEqual(r2);
    expect(decodeRakp2(Buffer.from([2, 0x12]))).toMatchObject({ status: 0x12 });
    const r3 = { tag: 3, status: 0, bmcSessionId: 9, authCode: Buffer.alloc(32, 5) };
    expect(decodeRakp3(encodeRakp3(r3))).toEqual(r3);
    const r4 = { tag: 4, status: 0, consoleSessionId: 5, icv: Buffer.alloc(12, 6) };
    expect(decodeRakp4(encodeRakp4(r4))).toEqual(r4);
  });
});

describe('cipher suites', () => {
  it('parses pyghmi fakebmc records and picks 3', () => {
    const records = parseCipherSuiteRecords(Buffer.from('c003014181', 'hex'));
    expect(records).toEqual([{ id: 3, auth: [1], integrity: [1], confidentiality: [1] }]);
    expect(pickCipherSuite(records)).toBe(3);
  });

  it('prefers 17 over 3 and skips OEM records and suites we do not implement', () => {
    const data = Buffer.concat([
      Buffer.from('c1ff010203014181', 'hex'), // OEM record claiming "17"-like algorithms under id 0xff
      encodeCipherSuiteRecords([CIPHER_SUITES[3]!, CIPHER_SUITES[17]!]),
      Buffer.from('c00c024381', 'hex'), // suite 12 (MD5, MD5-128, AES): not implemented
    ]);
    expect(pickCipherSuite(parseCipherSuiteRecords(data))).toBe(17);
    expect(pickCipherSuite(parseCipherSuiteRecords(Buffer.from('c00c024381', 'hex')))).toBeUndefined();
  });

  it('decodes channel auth capabilities as ipmi_sim and pyghmi send them', () => {
    const caps = decodeChannelAuthCapabilities(Buffer.from([1, 0x80, 0x04, 0x02, 0, 0, 0, 0]));
    expect(caps).toMatchObject({ channel: 1, extendedCapabilities: true, supportsIpmi20: true, nonNullUsers: true });
  });
});
