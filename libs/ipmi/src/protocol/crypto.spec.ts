import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { AuthAlg, IntegrityAlg } from './constants.js';
import {
  aesDecryptPayload,
  aesEncryptPayload,
  deriveSessionKeys,
  integrityCode,
  passwordKey,
  rakp2AuthCode,
  rakp3AuthCode,
  rakp4Icv,
  type RakpParams,
} from './crypto.js';
import { IpmiError } from '../errors.js';

// Expected values were computed independently with Python's hmac/hashlib (see the commit that added
// this file), following the formulas of IPMI v2.0 section 13.31/13.32 as pyghmi and ipmitool do.
const base = {
  consoleSessionId: 0xa0a2a3a4,
  bmcSessionId: 0x12345678,
  consoleRandom: Buffer.from([...Array(16).keys()]),
  bmcRandom: Buffer.from([...Array(16).keys()].map((i) => i + 16)),
  bmcGuid: Buffer.from([...Array(16).keys()].map((i) => i + 32)),
  role: 0x14, // name-only lookup | ADMINISTRATOR
  username: Buffer.from('admin'),
};
const kuid = passwordKey('password');

const vectors = {
  sha1: {
    auth: AuthAlg.HMAC_SHA1,
    rakp2: '9508518bfb43673d0eb84d935ac25439b06a7ab8',
    rakp3: '4ab420258775814f120682c8ab9275c29997effd',
    sik: '122c77c4b11ccd93251cbae6c34a9cb6310da154',
    k1: 'e4472be78f9a81fa68297aab696a7be8c97fc9f8',
    k2: '2b6552012a2517cb3b5713901d757a6efc7d8301',
    icv: '5aca955789109a61974ad7a1',
  },
  sha256: {
    auth: AuthAlg.HMAC_SHA256,
    rakp2: '79b07cf99f6fd074691206ca7d16d7dd4f3839265fb50a773376369454929e88',
    rakp3: '72a845290e0504673b2177d93a8dd844954778f3fe6b0476b2e7055a21663586',
    sik: 'e5935f7199865ad961063477b0662684e2ce9b1da8f2b8d41c5ce127d37e9bcf',
    k1: 'dc4fe73d075306f6897115dd63257385e845c10404fa1d73991790c6a101bec2',
    k2: '2a4f969ea6dfa83066f36674fdc2fea289fa1a21da90303e9b5269b54ec5adb5',
    icv: 'f9794eeba255f475851d0dc1957efda9',
  },
};

describe('RAKP key derivation (fixed vectors)', () => {
  for (const [name, v] of Object.entries(vectors)) {
    describe(`RAKP-HMAC-${name.toUpperCase()}`, () => {
      const p: RakpParams = { ...base, auth: v.auth };
      it('RAKP 2 and RAKP 3 key exchange auth codes', () => {
        expect(rakp2AuthCode(p, kuid).toString('hex')).toBe(v.rakp2);
        expect(rakp3AuthCode(p, kuid).toString('hex')).toBe(v.rakp3);
      });
      it('SIK, K1, K2 (K_G defaults to K_UID)', () => {
        const keys = deriveSessionKeys(p, kuid);
        expect(keys.sik.toString('hex')).toBe(v.sik);
        expect(keys.k1.toString('hex')).toBe(v.k1);
        expect(keys.k2.toString('hex')).toBe(v.k2);
        expect(deriveSessionKeys(p, kuid, Buffer.alloc(0)).sik.toString('hex')).toBe(v.sik);
        expect(deriveSessionKeys(p, kuid, Buffer.from('other key')).sik.toString('hex')).not.toBe(v.sik);
      });
      it('RAKP 4 integrity check value, truncated', () => {
        const { sik } = deriveSessionKeys(p, kuid);
        expect(rakp4Icv(p, sik).toString('hex')).toBe(v.icv);
      });
    });
  }

  it('zero-padding the password to 20 bytes (as ipmitool does) gives the same codes', () => {
    const p: RakpParams = { ...base, auth: AuthAlg.HMAC_SHA1 };
    const padded = Buffer.alloc(20);
    kuid.copy(padded);
    expect(rakp2AuthCode(p, padded).toString('hex')).toBe(vectors.sha1.rakp2);
  });

  it('refuses passwords longer than 20 bytes', () => {
    expect(() => passwordKey('x'.repeat(21))).toThrow(IpmiError);
  });
});

describe('integrity and AES-CBC-128 framing', () => {
  it('HMAC-SHA1-96 and HMAC-SHA256-128 truncate to 12 and 16 bytes', () => {
    const data = Buffer.from('data');
    expect(integrityCode(IntegrityAlg.HMAC_SHA1_96, Buffer.from(vectors.sha1.k1, 'hex'), data)).toHaveLength(12);
    expect(integrityCode(IntegrityAlg.HMAC_SHA256_128, Buffer.from(vectors.sha256.k1, 'hex'), data)).toHaveLength(16);
  });

  it('pads with 01 02 .. N and a pad length so that payload+pad+1 is a multiple of 16', () => {
    const k2 = Buffer.from(vectors.sha1.k2, 'hex');
    for (let n = 0; n <= 40; n++) {
      const payload = Buffer.alloc(n, 0x41);
      const enc = aesEncryptPayload(k2, payload, Buffer.alloc(16, 0xaa));
      expect((enc.length - 16) % 16).toBe(0);
      expect(enc.length - 16).toBe(Math.ceil((n + 1) / 16) * 16);
      expect(aesDecryptPayload(k2, enc)).toEqual(payload);
    }
  });

  it('the AuthCode is the truncated HMAC as OpenSSL computes it, for keys of every length and data of every size', () => {
    // integrityCode prepares each key's pads once and hashes with one-shot calls: cross-check it with createHmac
    for (let n = 0; n <= 1500; n += 7) {
      const k1 = randomBytes(1 + (n % 97)); // shorter and longer than the 64-byte block
      const data = randomBytes(n);
      expect(integrityCode(IntegrityAlg.HMAC_SHA1_96, k1, data)).toEqual(createHmac('sha1', k1).update(data).digest().subarray(0, 12));
      expect(integrityCode(IntegrityAlg.HMAC_SHA256_128, k1, data)).toEqual(createHmac('sha256', k1).update(data).digest().subarray(0, 16));
      expect(integrityCode(IntegrityAlg.HMAC_SHA256_128, k1, data)).toEqual(createHmac('sha256', k1).update(data).digest().subarray(0, 16)); // pads reused
    }
  });

  it('is AES-128-CBC as OpenSSL computes it, both ways, for every length and with keys reused across packets', () => {
    // the framing chains blocks itself over one reused ECB cipher per key: cross-check it with Node's own CBC
    const keys = [randomBytes(20), randomBytes(32)];
    for (let n = 0; n <= 300; n++) {
      const k2 = keys[n % 2]!;
      const payload = randomBytes(n);
      const iv = randomBytes(16);
      const enc = aesEncryptPayload(k2, payload, iv);
      const plain = Buffer.alloc(enc.length - 16);
      payload.copy(plain);
      const pad = plain.length - n - 1;
      for (let i = 0; i < pad; i++) plain[n + i] = i + 1;
      plain[plain.length - 1] = pad;
      const ref = createCipheriv('aes-128-cbc', k2.subarray(0, 16), iv).setAutoPadding(false);
      expect(enc).toEqual(Buffer.concat([iv, ref.update(plain), ref.final()]));
      const refDec = createDecipheriv('aes-128-cbc', k2.subarray(0, 16), iv).setAutoPadding(false);
      expect(Buffer.concat([refDec.update(enc.subarray(16)), refDec.final()])).toEqual(plain);
      expect(aesDecryptPayload(k2, enc)).toEqual(payload);
    }
  });

  it('draws a different IV for every packet when none is given', () => {
    const k2 = randomBytes(20);
    const ivs = new Set<string>();
    for (let i = 0; i < 1000; i++) ivs.add(aesEncryptPayload(k2, Buffer.from('x')).subarray(0, 16).toString('hex'));
    expect(ivs.size).toBe(1000);
  });

  it('rejects a malformed confidentiality pad', () => {
    const k2 = Buffer.from(vectors.sha1.k2, 'hex');
    const enc = aesEncryptPayload(k2, Buffer.from('abc'), Buffer.alloc(16, 1));
    const otherKey = Buffer.from(vectors.sha256.k2, 'hex');
    expect(() => aesDecryptPayload(otherKey, enc)).toThrow(IpmiError);
    expect(() => aesDecryptPayload(k2, enc.subarray(0, 20))).toThrow(IpmiError);
  });
});
