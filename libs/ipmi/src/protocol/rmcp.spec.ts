import { describe, expect, it } from '@jest/globals';
import { ConfAlg, IntegrityAlg, PayloadType } from './constants.js';
import { decodeV15Packet, decodeV2Packet, encodeV15Packet, encodeV2Packet, peekPacket, type SessionSecurity } from './rmcp.js';
import { decodeIpmiRequest, decodeIpmiResponse, encodeIpmiRequest, encodeIpmiResponse } from './ipmi-message.js';
import { IpmiError } from '../errors.js';

// Whole packets built independently in Python (pyghmi's framing rules) from the same keys, payload
// and IV: session id 0x12345678, sequence 5, payload = Get Device ID request, IV = aa x 16.
const GET_DEVICE_ID = Buffer.from('2018c88104017a', 'hex');
const suites: Record<string, { security: SessionSecurity; packet: string }> = {
  'suite 3 (HMAC-SHA1-96, AES-CBC-128)': {
    security: {
      integrity: IntegrityAlg.HMAC_SHA1_96,
      k1: Buffer.from('e4472be78f9a81fa68297aab696a7be8c97fc9f8', 'hex'),
      confidentiality: ConfAlg.AES_CBC_128,
      k2: Buffer.from('2b6552012a2517cb3b5713901d757a6efc7d8301', 'hex'),
    },
    packet:
      '0600ff0706c078563412050000002000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaef373504ad8e4bdb69aea0dc34b96bcffff0207ce567a655c6d27fc8f01fc42',
  },
  'suite 17 (HMAC-SHA256-128, AES-CBC-128)': {
    security: {
      integrity: IntegrityAlg.HMAC_SHA256_128,
      k1: Buffer.from('dc4fe73d075306f6897115dd63257385e845c10404fa1d73991790c6a101bec2', 'hex'),
      confidentiality: ConfAlg.AES_CBC_128,
      k2: Buffer.from('2a4f969ea6dfa83066f36674fdc2fea289fa1a21da90303e9b5269b54ec5adb5', 'hex'),
    },
    packet:
      '0600ff0706c078563412050000002000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa5becc6262b425afdd54cd3e369048aadffff0207f1f1d7406a4f4105af52ce9d5a4b4a9d',
  },
};

describe('RMCP+ packet framing (fixed vectors)', () => {
  for (const [name, v] of Object.entries(suites)) {
    it(`${name}: encodes byte for byte and decodes back`, () => {
      const packet = encodeV2Packet({ payloadType: PayloadType.IPMI, sessionId: 0x12345678, sequence: 5, payload: GET_DEVICE_ID }, v.security, Buffer.alloc(16, 0xaa));
      expect(packet.toString('hex')).toBe(v.packet);
      const d = decodeV2Packet(Buffer.from(v.packet, 'hex'), v.security);
      expect(d).toMatchObject({ payloadType: PayloadType.IPMI, sessionId: 0x12345678, sequence: 5, authenticated: true, encrypted: true });
      expect(d.payload).toEqual(GET_DEVICE_ID);
    });

    it(`${name}: any flipped bit after the RMCP header is refused`, () => {
      const good = Buffer.from(v.packet, 'hex');
      for (let i = 4; i < good.length; i++) {
        const bad = Buffer.from(good);
        bad[i]! ^= 0x01;
        expect(() => decodeV2Packet(bad, v.security)).toThrow(IpmiError);
      }
    });
  }

  it('integrity pad makes authType..nextHeader a multiple of 4 for every payload length', () => {
    const security = suites['suite 3 (HMAC-SHA1-96, AES-CBC-128)']!.security;
    const clear: SessionSecurity = { ...security, confidentiality: ConfAlg.NONE };
    for (let n = 0; n < 12; n++) {
      const p = encodeV2Packet({ payloadType: PayloadType.SOL, sessionId: 1, sequence: 1, payload: Buffer.alloc(n, 7) }, clear);
      expect((p.length - 12 - 4) % 4).toBe(0);
      expect(decodeV2Packet(p, clear).payload).toEqual(Buffer.alloc(n, 7));
    }
  });

  it('refuses an unauthenticated packet in an authenticated session, and the reverse', () => {
    const security = suites['suite 3 (HMAC-SHA1-96, AES-CBC-128)']!.security;
    const plain = encodeV2Packet({ payloadType: PayloadType.IPMI, sessionId: 1, sequence: 1, payload: GET_DEVICE_ID });
    expect(() => decodeV2Packet(plain, security)).toThrow(/unauthenticated/);
    expect(() => decodeV2Packet(Buffer.from(suites['suite 3 (HMAC-SHA1-96, AES-CBC-128)']!.packet, 'hex'), null)).toThrow(IpmiError);
    expect(decodeV2Packet(plain, null).payload).toEqual(GET_DEVICE_ID);
  });

  it('IPMI 1.5 framing for Get Channel Authentication Capabilities', () => {
    const msg = encodeIpmiRequest({ netFn: 0x06, cmd: 0x38, rqSeq: 0, data: Buffer.from([0x8e, 0x04]) });
    const p = encodeV15Packet(msg);
    // RMCP, authtype 0, seq 0, session id 0, length 9, then the message (as ipmitool sends it)
    expect(p.toString('hex')).toBe('0600ff0700000000000000000009' + '2018c881003' + '88e04b5');
    expect(peekPacket(p)).toEqual({ kind: 'v15', authType: 0, sessionId: 0, sequence: 0 });
    expect(decodeV15Packet(p).message).toEqual(msg);
  });
});

describe('IPMI messages', () => {
  it('encodes Get Device ID with both checksums', () => {
    expect(encodeIpmiRequest({ netFn: 6, cmd: 1, rqSeq: 1, data: Buffer.alloc(0) })).toEqual(GET_DEVICE_ID);
  });

  it('answers a request with netFn|1, the same rqSeq and valid checksums', () => {
    const rq = decodeIpmiRequest(GET_DEVICE_ID);
    const rs = decodeIpmiResponse(encodeIpmiResponse(rq, 0, Buffer.from([1, 2, 3])));
    expect(rs).toMatchObject({ netFn: 7, cmd: 1, rqSeq: 1, completionCode: 0, rqAddr: 0x81, rsAddr: 0x20 });
    expect(rs.data).toEqual(Buffer.from([1, 2, 3]));
  });

  it('rejects bad checksums', () => {
    const bad = Buffer.from(GET_DEVICE_ID);
    bad[6] = 0;
    expect(() => decodeIpmiRequest(bad)).toThrow(/checksum/);
  });
});
