import { protocolError } from '../errors.js';
import { ByteReader } from './bytes.js';
import {
  AUTH_TYPE_NONE,
  AUTH_TYPE_RMCP_PLUS,
  ConfAlg,
  IntegrityAlg,
  PayloadType,
  RMCP_CLASS_ASF,
  RMCP_CLASS_IPMI,
  RMCP_NO_ACK_SEQUENCE,
  RMCP_VERSION,
} from './constants.js';
import { aesDecryptPayload, aesEncryptedLength, aesEncryptPayloadInto, codesEqual, integrityCode, integrityCodeLength } from './crypto.js';

/**
 * RMCP / RMCP+ packet framing (IPMI v2.0 section 13.6, tables 13-4 and 13-8):
 *
 *   RMCP header       06 00 FF 07
 *   IPMI 1.5 session  authType(00) seq(4) sessionId(4) length(1) message
 *   IPMI 2.0 session  authType(06) payloadType(1: bit7 encrypted, bit6 authenticated) sessionId(4)
 *                     seq(4) payloadLength(2) payload [integrityPad(FF..) padLength(1) nextHeader(07) authCode]
 *
 * Multi-byte fields are little-endian. The integrity pad makes authType..nextHeader a multiple of 4,
 * and the AuthCode is computed over the same range with K1.
 */

export const RMCP_HEADER = Buffer.from([RMCP_VERSION, 0x00, RMCP_NO_ACK_SEQUENCE, RMCP_CLASS_IPMI]);
/** Offset of the IPMI 2.0 payload: RMCP(4) + authType(1) + payloadType(1) + sid(4) + seq(4) + len(2). */
export const V2_PAYLOAD_OFFSET = 16;
const NEXT_HEADER = 0x07;

/** Keys and algorithms of an established session; absent for pre-session packets. */
export interface SessionSecurity {
  integrity: IntegrityAlg;
  k1: Buffer;
  confidentiality: ConfAlg;
  k2: Buffer;
}

export interface V2Packet {
  payloadType: number;
  sessionId: number;
  sequence: number;
  payload: Buffer;
}

export interface DecodedV2Packet extends V2Packet {
  authenticated: boolean;
  encrypted: boolean;
}

export function encodeV2Packet(packet: V2Packet, security?: SessionSecurity | null, iv?: Buffer): Buffer {
  const encrypted = !!security && security.confidentiality !== ConfAlg.NONE;
  const authenticated = !!security && security.integrity !== IntegrityAlg.NONE;
  const bodyLength = encrypted ? aesEncryptedLength(packet.payload.length) : packet.payload.length;
  if (bodyLength > 0xffff) throw protocolError('payload too large');
  const codeLength = authenticated ? integrityCodeLength(security!.integrity) : 0;
  const padLength = authenticated ? (4 - ((12 + bodyLength + 2) % 4)) % 4 : 0;
  const trailerLength = authenticated ? padLength + 2 + codeLength : 0;
  const out = Buffer.allocUnsafe(V2_PAYLOAD_OFFSET + bodyLength + trailerLength);
  RMCP_HEADER.copy(out, 0);
  out[4] = AUTH_TYPE_RMCP_PLUS;
  out[5] = (packet.payloadType & 0x3f) | (encrypted ? 0x80 : 0) | (authenticated ? 0x40 : 0);
  out.writeUInt32LE(packet.sessionId >>> 0, 6);
  out.writeUInt32LE(packet.sequence >>> 0, 10);
  out.writeUInt16LE(bodyLength, 14);
  // encrypted straight into the packet: no intermediate buffers per packet
  if (encrypted) aesEncryptPayloadInto(security!.k2, packet.payload, out, V2_PAYLOAD_OFFSET, iv);
  else packet.payload.copy(out, V2_PAYLOAD_OFFSET);
  if (authenticated) {
    let p = V2_PAYLOAD_OFFSET + bodyLength;
    for (let i = 0; i < padLength; i++) out[p++] = 0xff;
    out[p++] = padLength;
    out[p++] = NEXT_HEADER;
    integrityCode(security!.integrity, security!.k1, out.subarray(4, p)).copy(out, p);
  }
  return out;
}

export type PeekedPacket =
  | { kind: 'v2'; payloadType: number; authenticated: boolean; encrypted: boolean; sessionId: number; sequence: number }
  | { kind: 'v15'; authType: number; sessionId: number; sequence: number }
  | { kind: 'asf' };

/** Classify a datagram and read its session id without touching the payload (for demultiplexing). */
export function peekPacket(buf: Buffer): PeekedPacket {
  const r = new ByteReader(buf, 'RMCP packet');
  const version = r.u8();
  r.skip(1);
  r.u8(); // RMCP sequence number
  const cls = r.u8();
  if (version !== RMCP_VERSION) throw protocolError(`not an RMCP packet (version 0x${version.toString(16)})`);
  if ((cls & 0x1f) === RMCP_CLASS_ASF) return { kind: 'asf' };
  if ((cls & 0x1f) !== RMCP_CLASS_IPMI) throw protocolError(`unsupported RMCP class 0x${cls.toString(16)}`);
  const authType = r.u8() & 0x0f;
  if (authType === AUTH_TYPE_RMCP_PLUS) {
    const pt = r.u8();
    if ((pt & 0x3f) === PayloadType.OEM_EXPLICIT) throw protocolError('OEM explicit payloads are not supported');
    const sessionId = r.u32();
    const sequence = r.u32();
    return { kind: 'v2', payloadType: pt & 0x3f, encrypted: (pt & 0x80) !== 0, authenticated: (pt & 0x40) !== 0, sessionId, sequence };
  }
  const sequence = r.u32();
  const sessionId = r.u32();
  return { kind: 'v15', authType, sessionId, sequence };
}

/**
 * Decode an IPMI 2.0 packet. With `security`, an authenticated packet's AuthCode is verified with K1
 * and an encrypted payload is decrypted with K2; an unauthenticated packet is refused when the session
 * negotiated an integrity algorithm. Without `security`, only unauthenticated, clear packets decode.
 * `peeked`: the header peekPacket already read from this same buffer (the transport peeks to route it).
 */
export function decodeV2Packet(buf: Buffer, security?: SessionSecurity | null, peeked?: PeekedPacket): DecodedV2Packet {
  const head = peeked ?? peekPacket(buf);
  if (head.kind !== 'v2') throw protocolError('not an IPMI v2.0 / RMCP+ packet');
  const r = new ByteReader(buf, 'RMCP+ session header', 14);
  const length = r.u16();
  if (V2_PAYLOAD_OFFSET + length > buf.length) throw protocolError(`RMCP+ payload length ${length} exceeds the datagram`);
  let body = buf.subarray(V2_PAYLOAD_OFFSET, V2_PAYLOAD_OFFSET + length);
  const wantsIntegrity = !!security && security.integrity !== IntegrityAlg.NONE;
  if (head.authenticated) {
    if (!wantsIntegrity) throw protocolError('authenticated packet outside an authenticated session');
    const codeLength = integrityCodeLength(security!.integrity);
    const codeAt = buf.length - codeLength;
    const padLengthAt = codeAt - 2;
    if (padLengthAt < V2_PAYLOAD_OFFSET + length) throw protocolError('truncated RMCP+ session trailer');
    if (!codesEqual(buf.subarray(codeAt), integrityCode(security!.integrity, security!.k1, buf.subarray(4, codeAt)))) {
      throw protocolError('RMCP+ integrity check failed');
    }
    const padLength = buf[padLengthAt]!;
    if (buf[padLengthAt + 1] !== NEXT_HEADER || V2_PAYLOAD_OFFSET + length + padLength !== padLengthAt) {
      throw protocolError('malformed RMCP+ session trailer');
    }
  } else if (wantsIntegrity) {
    throw protocolError('unauthenticated packet on an authenticated session');
  }
  if (head.encrypted) {
    if (!security || security.confidentiality !== ConfAlg.AES_CBC_128) throw protocolError('encrypted packet outside an encrypted session');
    body = aesDecryptPayload(security.k2, body);
  }
  return {
    payloadType: head.payloadType,
    sessionId: head.sessionId,
    sequence: head.sequence,
    authenticated: head.authenticated,
    encrypted: head.encrypted,
    payload: body,
  };
}

/** An IPMI 1.5 packet with authentication type NONE: only used outside sessions (Get Channel Auth Caps). */
export function encodeV15Packet(message: Buffer, sessionId = 0, sequence = 0): Buffer {
  if (message.length > 0xff) throw protocolError('IPMI 1.5 message too large');
  const out = Buffer.allocUnsafe(4 + 10 + message.length);
  RMCP_HEADER.copy(out, 0);
  out[4] = AUTH_TYPE_NONE;
  out.writeUInt32LE(sequence >>> 0, 5);
  out.writeUInt32LE(sessionId >>> 0, 9);
  out[13] = message.length;
  message.copy(out, 14);
  return out;
}

export function decodeV15Packet(buf: Buffer): { sessionId: number; sequence: number; message: Buffer } {
  const head = peekPacket(buf);
  if (head.kind !== 'v15') throw protocolError('not an IPMI 1.5 packet');
  if (head.authType !== AUTH_TYPE_NONE) throw protocolError(`IPMI 1.5 authentication type ${head.authType} is not supported`);
  const r = new ByteReader(buf, 'IPMI 1.5 session header', 13);
  const length = r.u8();
  return { sessionId: head.sessionId, sequence: head.sequence, message: r.bytes(length) };
}
