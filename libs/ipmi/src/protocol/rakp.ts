import { protocolError } from '../errors.js';
import { ByteReader } from './bytes.js';

/**
 * RMCP+ session establishment payloads (IPMI v2.0 sections 13.17-13.23): Open Session Request /
 * Response and RAKP messages 1-4. Error replies may stop right after the status byte (ipmi_sim sends
 * two bytes), so decoders only require the tag and status when the status is not zero.
 */

export interface OpenSessionRequest {
  tag: number;
  /** 0 = highest level matching the proposed algorithms. */
  requestedMaxPrivilege: number;
  consoleSessionId: number;
  /** undefined = "wildcard": an algorithm payload of length 0 lets the BMC choose. */
  auth?: number;
  integrity?: number;
  confidentiality?: number;
}

export function encodeOpenSessionRequest(m: OpenSessionRequest): Buffer {
  const out = Buffer.alloc(32);
  out[0] = m.tag;
  out[1] = m.requestedMaxPrivilege & 0x0f;
  out.writeUInt32LE(m.consoleSessionId >>> 0, 4);
  const alg = (at: number, type: number, value: number | undefined) => {
    out[at] = type;
    if (value !== undefined) {
      out[at + 3] = 8;
      out[at + 4] = value & 0x3f;
    }
  };
  alg(8, 0, m.auth);
  alg(16, 1, m.integrity);
  alg(24, 2, m.confidentiality);
  return out;
}

export function decodeOpenSessionRequest(buf: Buffer): OpenSessionRequest {
  const r = new ByteReader(buf, 'Open Session Request');
  const tag = r.u8();
  const requestedMaxPrivilege = r.u8() & 0x0f;
  r.skip(2);
  const consoleSessionId = r.u32();
  const alg = (type: number): number | undefined => {
    const t = r.u8();
    r.skip(2);
    const len = r.u8();
    const value = r.u8() & 0x3f;
    r.skip(3);
    if (t !== type) throw protocolError(`Open Session Request: algorithm payload type ${t}, expected ${type}`);
    return len === 0 ? undefined : value;
  };
  return { tag, requestedMaxPrivilege, consoleSessionId, auth: alg(0), integrity: alg(1), confidentiality: alg(2) };
}

/** Open Session Response and RAKP 2 share their error form: tag, status, reserved, console session id. */
function encodeErrorReply(tag: number, status: number, consoleSessionId: number): Buffer {
  const out = Buffer.alloc(8);
  out[0] = tag;
  out[1] = status;
  out.writeUInt32LE(consoleSessionId >>> 0, 4);
  return out;
}

export interface OpenSessionResponse {
  tag: number;
  status: number;
  maxPrivilege: number;
  consoleSessionId: number;
  bmcSessionId: number;
  auth: number;
  integrity: number;
  confidentiality: number;
}

export function encodeOpenSessionResponse(m: OpenSessionResponse): Buffer {
  if (m.status !== 0) return encodeErrorReply(m.tag, m.status, m.consoleSessionId);
  const out = Buffer.alloc(36);
  out[0] = m.tag;
  out[1] = m.status;
  out[2] = m.maxPrivilege;
  out.writeUInt32LE(m.consoleSessionId >>> 0, 4);
  out.writeUInt32LE(m.bmcSessionId >>> 0, 8);
  const alg = (at: number, type: number, value: number) => {
    out[at] = type;
    out[at + 3] = 8;
    out[at + 4] = value;
  };
  alg(12, 0, m.auth);
  alg(20, 1, m.integrity);
  alg(28, 2, m.confidentiality);
  return out;
}

export function decodeOpenSessionResponse(buf: Buffer): OpenSessionResponse {
  const r = new ByteReader(buf, 'Open Session Response');
  const tag = r.u8();
  const status = r.u8();
  const res: OpenSessionResponse = { tag, status, maxPrivilege: 0, consoleSessionId: 0, bmcSessionId: 0, auth: 0, integrity: 0, confidentiality: 0 };
  if (status !== 0) {
    if (r.remaining >= 6) {
      res.maxPrivilege = r.u8();
      r.skip(1);
      res.consoleSessionId = r.u32();
    }
    return res;
  }
  res.maxPrivilege = r.u8() & 0x0f;
  r.skip(1);
  res.consoleSessionId = r.u32();
  res.bmcSessionId = r.u32();
  const alg = (type: number): number => {
    const t = r.u8();
    r.skip(2);
    const len = r.u8();
    const value = r.u8() & 0x3f;
    r.skip(3);
    if (t !== type || len !== 8) throw protocolError(`Open Session Response: bad algorithm payload (type ${t}, length ${len})`);
    return value;
  };
  res.auth = alg(0);
  res.integrity = alg(1);
  res.confidentiality = alg(2);
  return res;
}

export interface Rakp1 {
  tag: number;
  bmcSessionId: number;
  consoleRandom: Buffer;
  /** Whole role byte: privilege in bits 3:0, name-only lookup in bit 4. */
  role: number;
  username: Buffer;
}

export function encodeRakp1(m: Rakp1): Buffer {
  if (m.consoleRandom.length !== 16) throw protocolError('RAKP 1: console random number must be 16 bytes');
  if (m.username.length > 16) throw protocolError('RAKP 1: user name longer than 16 bytes');
  const out = Buffer.alloc(28 + m.username.length);
  out[0] = m.tag;
  out.writeUInt32LE(m.bmcSessionId >>> 0, 4);
  m.consoleRandom.copy(out, 8);
  out[24] = m.role;
  out[27] = m.username.length;
  m.username.copy(out, 28);
  return out;
}

export function decodeRakp1(buf: Buffer): Rakp1 {
  const r = new ByteReader(buf, 'RAKP 1');
  const tag = r.u8();
  r.skip(3);
  const bmcSessionId = r.u32();
  const consoleRandom = r.bytes(16);
  const role = r.u8();
  r.skip(2);
  const len = r.u8();
  if (len > 16) throw protocolError(`RAKP 1: user name length ${len} > 16`);
  return { tag, bmcSessionId, consoleRandom, role, username: r.bytes(len) };
}

export interface Rakp2 {
  tag: number;
  status: number;
  consoleSessionId: number;
  bmcRandom: Buffer;
  bmcGuid: Buffer;
  authCode: Buffer;
}

export function encodeRakp2(m: Rakp2): Buffer {
  if (m.status !== 0) return encodeErrorReply(m.tag, m.status, m.consoleSessionId);
  const out = Buffer.alloc(40 + m.authCode.length);
  out[0] = m.tag;
  out[1] = m.status;
  out.writeUInt32LE(m.consoleSessionId >>> 0, 4);
  m.bmcRandom.copy(out, 8);
  m.bmcGuid.copy(out, 24);
  m.authCode.copy(out, 40);
  return out;
}

export function decodeRakp2(buf: Buffer): Rakp2 {
  const r = new ByteReader(buf, 'RAKP 2');
  const tag = r.u8();
  const status = r.u8();
  const empty = Buffer.alloc(0);
  if (status !== 0) {
    let consoleSessionId = 0;
    if (r.remaining >= 6) {
      r.skip(2);
      consoleSessionId = r.u32();
    }
    return { tag, status, consoleSessionId, bmcRandom: empty, bmcGuid: empty, authCode: empty };
  }
  r.skip(2);
  const consoleSessionId = r.u32();
  const bmcRandom = r.bytes(16);
  const bmcGuid = r.bytes(16);
  return { tag, status, consoleSessionId, bmcRandom, bmcGuid, authCode: r.rest() };
}

export interface Rakp3 {
  tag: number;
  status: number;
  bmcSessionId: number;
  authCode: Buffer;
}

export function encodeRakp3(m: Rakp3): Buffer {
  const out = Buffer.alloc(8 + m.authCode.length);
  out[0] = m.tag;
  out[1] = m.status;
  out.writeUInt32LE(m.bmcSessionId >>> 0, 4);
  m.authCode.copy(out, 8);
  return out;
}

export function decodeRakp3(buf: Buffer): Rakp3 {
  const r = new ByteReader(buf, 'RAKP 3');
  const tag = r.u8();
  const status = r.u8();
  r.skip(2);
  const bmcSessionId = r.u32();
  return { tag, status, bmcSessionId, authCode: r.rest() };
}

export interface Rakp4 {
  tag: number;
  status: number;
  consoleSessionId: number;
  icv: Buffer;
}

export function encodeRakp4(m: Rakp4): Buffer {
  const out = Buffer.alloc(8 + (m.status === 0 ? m.icv.length : 0));
  out[0] = m.tag;
  out[1] = m.status;
  out.writeUInt32LE(m.consoleSessionId >>> 0, 4);
  if (m.status === 0) m.icv.copy(out, 8);
  return out;
}

export function decodeRakp4(buf: Buffer): Rakp4 {
  const r = new ByteReader(buf, 'RAKP 4');
  const tag = r.u8();
  const status = r.u8();
  if (status !== 0) {
    let consoleSessionId = 0;
    if (r.remaining >= 6) {
      r.skip(2);
      consoleSessionId = r.u32();
    }
    return { tag, status, consoleSessionId, icv: Buffer.alloc(0) };
  }
  r.skip(2);
  const consoleSessionId = r.u32();
  return { tag, status, consoleSessionId, icv: r.rest() };
}

/**
 * The console session id a session-setup reply is addressed to: Open Session Response, RAKP 2 and
 * RAKP 4 carry it at payload offset 4 (their session header id is 0). Returns undefined if absent.
 */
export function setupReplyConsoleSessionId(payload: Buffer): number | undefined {
  return payload.length >= 8 ? payload.readUInt32LE(4) : undefined;
}
