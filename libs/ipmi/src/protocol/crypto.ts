import { type Cipher, createCipheriv, createDecipheriv, createHash, createHmac, type Decipher, hash, randomFillSync, timingSafeEqual } from 'node:crypto';
import { IpmiError, protocolError } from '../errors.js';
import { AuthAlg, IntegrityAlg } from './constants.js';
import { u32le } from './bytes.js';

/**
 * RMCP+ cryptography (IPMI v2.0 sections 13.28-13.32): RAKP key-exchange authentication codes, the
 * session integrity key SIK and its derived keys K1 (integrity) and K2 (confidentiality), the
 * per-packet integrity authcode, and AES-CBC-128 payload framing. Pure functions over Buffers.
 */

const AUTH_HASH: Readonly<Record<number, string>> = { [AuthAlg.HMAC_SHA1]: 'sha1', [AuthAlg.HMAC_SHA256]: 'sha256' };

/** Length of the RAKP 4 integrity check value: SHA1 96 bits, SHA256 128 bits (table 13-18 footnotes). */
export function rakp4IcvLength(auth: AuthAlg): number {
  return auth === AuthAlg.HMAC_SHA1 ? 12 : auth === AuthAlg.HMAC_SHA256 ? 16 : 0;
}

/** Length of the session trailer AuthCode for an integrity algorithm. */
export function integrityCodeLength(integrity: IntegrityAlg): number {
  switch (integrity) {
    case IntegrityAlg.NONE:
      return 0;
    case IntegrityAlg.HMAC_SHA1_96:
      return 12;
    case IntegrityAlg.HMAC_SHA256_128:
      return 16;
    case IntegrityAlg.HMAC_MD5_128:
    case IntegrityAlg.MD5_128:
    default: // and numbers from the wire that name no algorithm
      throw new IpmiError('UNSUPPORTED_CIPHER_SUITE', `integrity algorithm ${integrity} is not implemented`);
  }
}

function hmac(auth: AuthAlg, key: Buffer, ...parts: Buffer[]): Buffer {
  const hash = AUTH_HASH[auth];
  if (!hash) throw new IpmiError('UNSUPPORTED_CIPHER_SUITE', `authentication algorithm ${auth} is not implemented`);
  const h = createHmac(hash, key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * K_UID: the user's password as key. Passwords are at most 20 bytes (IPMI v2.0 22.29); HMAC pads
 * keys shorter than its block with zeros, so the 20-byte zero padding ipmitool applies changes nothing.
 */
export function passwordKey(password: string | Buffer): Buffer {
  const key = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  if (key.length > 20) throw new IpmiError('INVALID_ARGUMENT', 'IPMI passwords are at most 20 bytes');
  return key;
}

export interface RakpParams {
  auth: AuthAlg;
  consoleSessionId: number;
  bmcSessionId: number;
  consoleRandom: Buffer; // Rm, 16 bytes
  bmcRandom: Buffer; // Rc, 16 bytes
  bmcGuid: Buffer; // GUIDc, 16 bytes
  /** The whole "requested maximum privilege" byte of RAKP 1, lookup bit included. */
  role: number;
  username: Buffer;
}

const roleAndName = (p: Pick<RakpParams, 'role' | 'username'>) => Buffer.from([p.role, p.username.length]);

/** RAKP 2 key exchange auth code: HMAC_Kuid(SIDm, SIDc, Rm, Rc, GUIDc, ROLEm, ULENGTHm, UNAMEm). */
export function rakp2AuthCode(p: RakpParams, kuid: Buffer): Buffer {
  if (p.auth === AuthAlg.NONE) return Buffer.alloc(0);
  return hmac(p.auth, kuid, u32le(p.consoleSessionId), u32le(p.bmcSessionId), p.consoleRandom, p.bmcRandom, p.bmcGuid, roleAndName(p), p.username);
}

/** RAKP 3 key exchange auth code: HMAC_Kuid(Rc, SIDm, ROLEm, ULENGTHm, UNAMEm). */
export function rakp3AuthCode(p: RakpParams, kuid: Buffer): Buffer {
  if (p.auth === AuthAlg.NONE) return Buffer.alloc(0);
  return hmac(p.auth, kuid, p.bmcRandom, u32le(p.consoleSessionId), roleAndName(p), p.username);
}

/** SIK = HMAC_KG(Rm, Rc, ROLEm, ULENGTHm, UNAMEm); K_G defaults to K_UID when the BMC has no key set. */
export function deriveSik(p: RakpParams, kg: Buffer): Buffer {
  if (p.auth === AuthAlg.NONE) return Buffer.alloc(0);
  return hmac(p.auth, kg, p.consoleRandom, p.bmcRandom, roleAndName(p), p.username);
}

const CONST_1 = Buffer.alloc(20, 0x01);
const CONST_2 = Buffer.alloc(20, 0x02);

/** K1 = HMAC_SIK(0x01 x 20), K2 = HMAC_SIK(0x02 x 20) with the authentication algorithm's hash. */
export function deriveK1(auth: AuthAlg, sik: Buffer): Buffer {
  return auth === AuthAlg.NONE ? Buffer.from(CONST_1) : hmac(auth, sik, CONST_1);
}

export function deriveK2(auth: AuthAlg, sik: Buffer): Buffer {
  return auth === AuthAlg.NONE ? Buffer.from(CONST_2) : hmac(auth, sik, CONST_2);
}

/** RAKP 4 integrity check value: HMAC_SIK(Rm, SIDc, GUIDc), truncated (12 bytes SHA1, 16 SHA256). */
export function rakp4Icv(p: RakpParams, sik: Buffer): Buffer {
  if (p.auth === AuthAlg.NONE) return Buffer.alloc(0);
  return hmac(p.auth, sik, p.consoleRandom, u32le(p.bmcSessionId), p.bmcGuid).subarray(0, rakp4IcvLength(p.auth));
}

export interface SessionKeys {
  sik: Buffer;
  k1: Buffer;
  k2: Buffer;
}

export function deriveSessionKeys(p: RakpParams, kuid: Buffer, kg?: Buffer): SessionKeys {
  const sik = deriveSik(p, kg && kg.length ? kg : kuid);
  return { sik, k1: deriveK1(p.auth, sik), k2: deriveK2(p.auth, sik) };
}

/** Session trailer AuthCode: the integrity HMAC keyed with K1, truncated (SHA1-96 / SHA256-128). */
export function integrityCode(integrity: IntegrityAlg, k1: Buffer, data: Buffer): Buffer {
  switch (integrity) {
    case IntegrityAlg.HMAC_SHA1_96:
      return packetHmac('sha1', k1, data).subarray(0, 12);
    case IntegrityAlg.HMAC_SHA256_128:
      return packetHmac('sha256', k1, data).subarray(0, 16);
    case IntegrityAlg.NONE: // no trailer to compute: callers only ask for integrity they negotiated
    case IntegrityAlg.HMAC_MD5_128:
    case IntegrityAlg.MD5_128:
    default:
      throw new IpmiError('UNSUPPORTED_CIPHER_SUITE', `integrity algorithm ${integrity} is not implemented`);
  }
}

/**
 * HMAC (RFC 2104) for the per-packet AuthCode, from K1's inner and outer pads prepared once per key
 * and two one-shot hashes (crypto.hash). createHmac builds a new native object per packet, which
 * cost about 7 µs against about 2 µs here, twice per SOL packet (its check, and its ack's code).
 * Cross-checked against createHmac in crypto.spec.ts. Keys are treated as immutable, as for AES.
 */
interface HmacPads {
  inner: Buffer;
  outer: Buffer;
}
const HMAC_BLOCK = 64; // SHA-1 and SHA-256
const DIGEST_LENGTH: Readonly<Record<string, number>> = { sha1: 20, sha256: 32 };
const hmacPads = new Map<string, WeakMap<Buffer, HmacPads>>([
  ['sha1', new WeakMap()],
  ['sha256', new WeakMap()],
]);
let hmacScratch = Buffer.allocUnsafe(HMAC_BLOCK + 1024);

function padsFor(alg: 'sha1' | 'sha256', key: Buffer): HmacPads {
  const byKey = hmacPads.get(alg)!;
  let pads = byKey.get(key);
  if (!pads) {
    const k = key.length > HMAC_BLOCK ? createHash(alg).update(key).digest() : key;
    const inner = Buffer.alloc(HMAC_BLOCK, 0x36);
    const outer = Buffer.alloc(HMAC_BLOCK, 0x5c);
    for (let i = 0; i < k.length; i++) {
      inner[i]! ^= k[i]!;
      outer[i]! ^= k[i]!;
    }
    byKey.set(key, (pads = { inner, outer }));
  }
  return pads;
}

function packetHmac(alg: 'sha1' | 'sha256', key: Buffer, data: Buffer): Buffer {
  const pads = padsFor(alg, key);
  if (hmacScratch.length < HMAC_BLOCK + data.length) hmacScratch = Buffer.allocUnsafe(HMAC_BLOCK + data.length + 1024);
  const s = hmacScratch;
  pads.inner.copy(s, 0);
  data.copy(s, HMAC_BLOCK);
  // 'binary' (latin1) strings: the cheapest way out of crypto.hash in Node 20 (its 'buffer' output is slower)
  const innerDigest = hash(alg, s.subarray(0, HMAC_BLOCK + data.length), 'binary');
  pads.outer.copy(s, 0);
  s.write(innerDigest, HMAC_BLOCK, 'latin1');
  return Buffer.from(hash(alg, s.subarray(0, HMAC_BLOCK + DIGEST_LENGTH[alg]!), 'binary'), 'latin1');
}

/** Constant-time comparison of authentication codes of equal length. */
export function codesEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && (a.length === 0 || timingSafeEqual(a, b));
}

/**
 * AES-128 block ciphers per K2, reused for every packet of a session. CBC needs a fresh IV per
 * packet and Node cannot re-key an IV into an existing CBC cipher, so the chaining is done here over
 * ECB (which keeps no state between whole blocks when padding is off): creating a cipher per packet
 * cost more than the rest of the packet's crypto together (bench/sol-packet-cpu.ts). Keys are
 * treated as immutable; a session's K2 buffer is never written after derivation.
 */
interface AesBlock {
  enc: Cipher;
  dec: Decipher;
}
const aesBlocks = new WeakMap<Buffer, AesBlock>();

function aesBlockFor(k2: Buffer): AesBlock {
  let b = aesBlocks.get(k2);
  if (!b) {
    const key = k2.subarray(0, 16);
    const enc = createCipheriv('aes-128-ecb', key, null);
    enc.setAutoPadding(false);
    const dec = createDecipheriv('aes-128-ecb', key, null);
    dec.setAutoPadding(false);
    aesBlocks.set(k2, (b = { enc, dec }));
  }
  return b;
}

/** IVs come from a pool refilled from the CSPRNG: one getrandom call per 256 packets, not one each. */
const IV_POOL = Buffer.allocUnsafe(4096);
let ivPoolAt = IV_POOL.length;

function freshIv(into: Buffer, at: number): void {
  if (ivPoolAt + 16 > IV_POOL.length) {
    randomFillSync(IV_POOL);
    ivPoolAt = 0;
  }
  IV_POOL.copy(into, at, ivPoolAt, ivPoolAt + 16);
  ivPoolAt += 16;
}

/** Length of the AES-CBC-128 framing of an `n`-byte payload: IV + payload, pad and pad length in whole blocks. */
export function aesEncryptedLength(n: number): number {
  return 16 + Math.ceil((n + 1) / 16) * 16;
}

/**
 * AES-CBC-128 confidentiality framing (13.29): IV(16) || AES(K2[0..16], payload || 01 02 .. N || N),
 * where N pads payload+pad+length byte to a multiple of 16. Written into `out` at `at` (which must
 * have aesEncryptedLength(payload.length) bytes there); returns the bytes written.
 */
export function aesEncryptPayloadInto(k2: Buffer, payload: Buffer, out: Buffer, at: number, iv?: Buffer): number {
  const length = aesEncryptedLength(payload.length);
  const padLength = length - 16 - payload.length - 1;
  if (iv) iv.copy(out, at, 0, 16);
  else freshIv(out, at);
  // plaintext in place after the IV, then each block XOR-ed with the previous ciphertext block and encrypted
  const body = at + 16;
  payload.copy(out, body);
  for (let i = 0; i < padLength; i++) out[body + payload.length + i] = i + 1;
  out[at + length - 1] = padLength;
  const { enc } = aesBlockFor(k2);
  for (let b = body; b < at + length; b += 16) {
    for (let i = 0; i < 16; i++) out[b + i]! ^= out[b - 16 + i]!;
    enc.update(out.subarray(b, b + 16)).copy(out, b);
  }
  return length;
}

export function aesEncryptPayload(k2: Buffer, payload: Buffer, iv?: Buffer): Buffer {
  const out = Buffer.allocUnsafe(aesEncryptedLength(payload.length));
  aesEncryptPayloadInto(k2, payload, out, 0, iv);
  return out;
}

export function aesDecryptPayload(k2: Buffer, data: Buffer): Buffer {
  if (data.length < 32 || data.length % 16 !== 0) throw protocolError(`AES payload length ${data.length} is not IV + whole blocks`);
  // ECB-decrypt all blocks at once, then XOR each with the ciphertext block before it (the IV first)
  const plain = aesBlockFor(k2).dec.update(data.subarray(16));
  for (let i = 0; i < plain.length; i++) plain[i]! ^= data[i]!;
  const padLength = plain[plain.length - 1]!;
  if (padLength > 15) throw protocolError(`AES confidentiality pad length ${padLength} > 15`);
  const payloadLength = plain.length - padLength - 1;
  for (let i = 0; i < padLength; i++) {
    if (plain[payloadLength + i] !== i + 1) throw protocolError('AES confidentiality pad is malformed');
  }
  return plain.subarray(0, payloadLength);
}
