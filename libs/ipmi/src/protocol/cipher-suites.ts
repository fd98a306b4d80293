import { IpmiError, protocolError } from '../errors.js';
import { AuthAlg, CIPHER_SUITE_RECORD_OEM, CIPHER_SUITE_RECORD_STANDARD, ConfAlg, IntegrityAlg } from './constants.js';

export interface CipherSuite {
  id: number;
  auth: AuthAlg;
  integrity: IntegrityAlg;
  confidentiality: ConfAlg;
}

/**
 * The cipher suites this library implements (IPMI v2.0 table 22-20): RAKP-none/HMAC-SHA1/HMAC-SHA256,
 * integrity none/HMAC-SHA1-96/HMAC-SHA256-128, confidentiality none/AES-CBC-128.
 * Not implemented: the MD5 suites (6-14; MD5 is obsolete and no peer here can verify them) and the
 * xRC4 ciphers (4, 5, 18, 19).
 */
export const CIPHER_SUITES: Readonly<Record<number, CipherSuite>> = Object.freeze(
  Object.fromEntries(
    (
      [
        [0, AuthAlg.NONE, IntegrityAlg.NONE, ConfAlg.NONE],
        [1, AuthAlg.HMAC_SHA1, IntegrityAlg.NONE, ConfAlg.NONE],
        [2, AuthAlg.HMAC_SHA1, IntegrityAlg.HMAC_SHA1_96, ConfAlg.NONE],
        [3, AuthAlg.HMAC_SHA1, IntegrityAlg.HMAC_SHA1_96, ConfAlg.AES_CBC_128],
        [15, AuthAlg.HMAC_SHA256, IntegrityAlg.NONE, ConfAlg.NONE],
        [16, AuthAlg.HMAC_SHA256, IntegrityAlg.HMAC_SHA256_128, ConfAlg.NONE],
        [17, AuthAlg.HMAC_SHA256, IntegrityAlg.HMAC_SHA256_128, ConfAlg.AES_CBC_128],
      ] as const
    ).map(([id, auth, integrity, confidentiality]) => [id, Object.freeze({ id, auth, integrity, confidentiality })]),
  ),
);

/** Preference when the BMC lists its suites: encrypted + strongest hash first; never unauthenticated ones. */
export const CIPHER_SUITE_PREFERENCE: readonly number[] = [17, 3, 16, 2];

/** The suite used when the BMC does not answer Get Channel Cipher Suites (ipmi_sim, older firmware). */
export const FALLBACK_CIPHER_SUITE = 3;

export function cipherSuite(id: number): CipherSuite {
  const suite = CIPHER_SUITES[id];
  if (!suite) {
    throw new IpmiError('UNSUPPORTED_CIPHER_SUITE', `cipher suite ${id} is not implemented (supported: ${Object.keys(CIPHER_SUITES).join(', ')})`, {
      cipherSuite: id,
    });
  }
  return suite;
}

export interface CipherSuiteRecord {
  id: number;
  /** IANA enterprise number for OEM records (0xC1), else undefined. */
  oemIana?: number;
  auth: number[];
  integrity: number[];
  confidentiality: number[];
}

/**
 * Parse the concatenated record data of Get Channel Cipher Suites (table 22-19): each record starts
 * with 0xC0 (standard) or 0xC1 (OEM, followed by a 3-byte IANA) and the suite id, then algorithm
 * bytes tagged in bits 7:6 (00 auth, 01 integrity, 10 confidentiality).
 */
export function parseCipherSuiteRecords(data: Buffer): CipherSuiteRecord[] {
  const records: CipherSuiteRecord[] = [];
  let i = 0;
  while (i < data.length) {
    const start = data[i]!;
    if (start !== CIPHER_SUITE_RECORD_STANDARD && start !== CIPHER_SUITE_RECORD_OEM) {
      throw protocolError(`cipher suite record: unexpected start byte 0x${start.toString(16)} at ${i}`);
    }
    const headerLen = start === CIPHER_SUITE_RECORD_OEM ? 5 : 2;
    if (i + headerLen > data.length) throw protocolError('cipher suite record: truncated header');
    const record: CipherSuiteRecord = { id: data[i + 1]!, auth: [], integrity: [], confidentiality: [] };
    if (start === CIPHER_SUITE_RECORD_OEM) record.oemIana = data.readUIntLE(i + 2, 3);
    i += headerLen;
    while (i < data.length && data[i] !== CIPHER_SUITE_RECORD_STANDARD && data[i] !== CIPHER_SUITE_RECORD_OEM) {
      const b = data[i]!;
      const alg = b & 0x3f;
      switch (b >> 6) {
        case 0:
          record.auth.push(alg);
          break;
        case 1:
          record.integrity.push(alg);
          break;
        case 2:
          record.confidentiality.push(alg);
          break;
        default:
          throw protocolError(`cipher suite record: bad algorithm tag 0x${b.toString(16)}`);
      }
      i++;
    }
    records.push(record);
  }
  return records;
}

export function encodeCipherSuiteRecords(suites: readonly CipherSuite[]): Buffer {
  const bytes: number[] = [];
  for (const s of suites) bytes.push(CIPHER_SUITE_RECORD_STANDARD, s.id, s.auth, 0x40 | s.integrity, 0x80 | s.confidentiality);
  return Buffer.from(bytes);
}

/** The best suite we implement among the standard records the BMC listed, or undefined. */
export function pickCipherSuite(records: readonly CipherSuiteRecord[]): number | undefined {
  const offered = new Set(
    records
      .filter((r) => r.oemIana === undefined)
      .filter((r) => {
        const ours = CIPHER_SUITES[r.id];
        return ours && r.auth.includes(ours.auth) && r.integrity.includes(ours.integrity) && r.confidentiality.includes(ours.confidentiality);
      })
      .map((r) => r.id),
  );
  return CIPHER_SUITE_PREFERENCE.find((id) => offered.has(id));
}
