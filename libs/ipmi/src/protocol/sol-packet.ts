import { ByteReader } from './bytes.js';

/**
 * SOL payload (IPMI v2.0 section 15.9, table 15-2):
 *
 *   byte 1  packet sequence number (bits 3:0; 0 = ack-only packet, never acknowledged)
 *   byte 2  acked packet sequence number (bits 3:0; 0 = this packet acknowledges nothing)
 *   byte 3  accepted character count (of the acked packet)
 *   byte 4  console -> BMC: operation; BMC -> console: status (see below)
 *   byte 5+ character data
 */
export interface SolPacket {
  sequence: number;
  ackSequence: number;
  acceptedCount: number;
  /** Operation bits (console to BMC) or status bits (BMC to console). */
  flags: number;
  data: Buffer;
}

/** Console-to-BMC operation bits. */
export const SolOperation = {
  NACK: 0x40,
  RING_WOR: 0x20,
  GENERATE_BREAK: 0x10,
  CTS_PAUSE: 0x08,
  DEASSERT_DCD_DSR: 0x04,
  FLUSH_INBOUND: 0x02,
  FLUSH_OUTBOUND: 0x01,
} as const;

/** BMC-to-console status bits. */
export const SolStatus = {
  NACK: 0x40,
  CHARACTER_TRANSFER_UNAVAILABLE: 0x20,
  DEACTIVATING: 0x10,
  TRANSMIT_OVERRUN: 0x08,
  BREAK_DETECTED: 0x04,
} as const;

export const SOL_HEADER_LENGTH = 4;

export function encodeSolPacket(p: SolPacket): Buffer {
  const out = Buffer.allocUnsafe(SOL_HEADER_LENGTH + p.data.length);
  out[0] = p.sequence & 0x0f;
  out[1] = p.ackSequence & 0x0f;
  out[2] = p.acceptedCount & 0xff;
  out[3] = p.flags & 0xff;
  p.data.copy(out, SOL_HEADER_LENGTH);
  return out;
}

export function decodeSolPacket(buf: Buffer): SolPacket {
  const r = new ByteReader(buf, 'SOL payload');
  const sequence = r.u8() & 0x0f;
  const ackSequence = r.u8() & 0x0f;
  const acceptedCount = r.u8();
  const flags = r.u8();
  return { sequence, ackSequence, acceptedCount, flags, data: r.rest() };
}
