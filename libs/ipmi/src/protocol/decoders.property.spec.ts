import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { IpmiError } from '../errors.js';
import { ConfAlg, IntegrityAlg, PayloadType } from './constants.js';
import * as commands from './commands.js';
import { aesDecryptPayload } from './crypto.js';
import { parseCipherSuiteRecords } from './cipher-suites.js';
import { decodeIpmiRequest, decodeIpmiResponse, encodeIpmiRequest } from './ipmi-message.js';
import * as rakp from './rakp.js';
import { decodeV15Packet, decodeV2Packet, encodeV2Packet, peekPacket, type SessionSecurity } from './rmcp.js';
import { decodeSolPacket } from './sol-packet.js';

const security: SessionSecurity = {
  integrity: IntegrityAlg.HMAC_SHA1_96,
  k1: Buffer.alloc(20, 1),
  confidentiality: ConfAlg.AES_CBC_128,
  k2: Buffer.alloc(20, 2),
};
const security256: SessionSecurity = { ...security, integrity: IntegrityAlg.HMAC_SHA256_128, k1: Buffer.alloc(32, 3) };

/** Every decoder of the library, applied to untrusted bytes. */
const decoders: Record<string, (b: Buffer) => unknown> = {
  peekPacket,
  decodeV2PacketClear: (b) => decodeV2Packet(b, null),
  decodeV2PacketSuite3: (b) => decodeV2Packet(b, security),
  decodeV2PacketSuite17: (b) => decodeV2Packet(b, security256),
  decodeV15Packet,
  decodeIpmiRequest,
  decodeIpmiResponse,
  decodeOpenSessionRequest: rakp.decodeOpenSessionRequest,
  decodeOpenSessionResponse: rakp.decodeOpenSessionResponse,
  decodeRakp1: rakp.decodeRakp1,
  decodeRakp2: rakp.decodeRakp2,
  decodeRakp3: rakp.decodeRakp3,
  decodeRakp4: rakp.decodeRakp4,
  decodeSolPacket,
  parseCipherSuiteRecords,
  aesDecryptPayload: (b) => aesDecryptPayload(Buffer.alloc(16, 9), b),
  decodeChannelAuthCapabilities: commands.decodeChannelAuthCapabilities,
  decodeChannelCipherSuitesResponse: commands.decodeChannelCipherSuitesResponse,
  decodeSetSessionPrivilegeResponse: commands.decodeSetSessionPrivilegeResponse,
  decodeDeviceId: commands.decodeDeviceId,
  decodeActivatePayloadResponse: commands.decodeActivatePayloadResponse,
  decodePayloadActivationStatus: commands.decodePayloadActivationStatus,
  decodeChassisStatus: commands.decodeChassisStatus,
  decodeGetSolConfigResponse: commands.decodeGetSolConfigResponse,
};

/** Runs `fn`; anything thrown must be our typed error. */
function onlyTypedErrors(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (e instanceof IpmiError) return true;
    throw e;
  }
}

const bytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));

// Well-formed packets to truncate and corrupt: an authenticated+encrypted session packet and a
// clear setup packet, so the decoders get past their first checks.
const sessionPacket = encodeV2Packet(
  { payloadType: PayloadType.IPMI, sessionId: 77, sequence: 3, payload: encodeIpmiRequest({ netFn: 6, cmd: 1, rqSeq: 2, data: Buffer.alloc(0) }) },
  security,
);
const setupPacket = encodeV2Packet({ payloadType: PayloadType.RAKP2, sessionId: 0, sequence: 0, payload: rakp.encodeRakp2({ tag: 1, status: 0, consoleSessionId: 5, bmcRandom: Buffer.alloc(16), bmcGuid: Buffer.alloc(16), authCode: Buffer.alloc(20) }) });

describe('decoders reject bad input with IpmiError only', () => {
  for (const [name, decode] of Object.entries(decoders)) {
    it(`${name}: arbitrary bytes`, () => {
      fc.assert(fc.property(bytes, (b) => onlyTypedErrors(() => decode(b))), { numRuns: 400 });
    });
  }

  it('every truncation of a valid authenticated packet is refused', () => {
    for (let n = 0; n < sessionPacket.length; n++) {
      expect(() => decodeV2Packet(sessionPacket.subarray(0, n), security)).toThrow(IpmiError);
    }
  });

  it('corrupting any byte of an authenticated packet after the RMCP header is refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4, max: sessionPacket.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const bad = Buffer.from(sessionPacket);
        bad[at]! ^= x;
        expect(() => decodeV2Packet(bad, security)).toThrow(IpmiError);
        return true;
      }),
      { numRuns: 500 },
    );
  });

  it('truncated or corrupted packets go through every decoder with typed errors only', () => {
    const corrupt = fc
      .tuple(fc.constantFrom(sessionPacket, setupPacket), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }))
      .map(([p, cut, at, x]) => {
        const b = Buffer.from(p.subarray(0, cut % (p.length + 1)));
        if (b.length) b[at % b.length] = x;
        return b;
      });
    fc.assert(
      fc.property(corrupt, (b) => {
        for (const decode of Object.values(decoders)) onlyTypedErrors(() => decode(b));
        onlyTypedErrors(() => decodeV2Packet(b, null).payload && rakp.decodeRakp2(decodeV2Packet(b, null).payload));
        return true;
      }),
      { numRuns: 500 },
    );
  });
});
