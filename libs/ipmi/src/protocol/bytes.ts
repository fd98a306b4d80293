import { protocolError } from '../errors.js';

/**
 * Bounds-checked little-endian reader: every short read becomes a PROTOCOL IpmiError naming what
 * was being decoded, so decoders cannot throw a RangeError on a truncated packet.
 */
export class ByteReader {
  private pos: number;

  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
    offset = 0,
    private readonly end = buf.length,
  ) {
    if (offset > end || end > buf.length) throw protocolError(`truncated ${what}`);
    this.pos = offset;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw protocolError(`truncated ${this.what}: need ${n} more byte(s) at offset ${this.pos}`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  /** A view (not a copy) of the next `n` bytes. */
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  rest(): Buffer {
    const v = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return v;
  }
}

export function u32le(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(value >>> 0, 0);
  return b;
}

/** IPMB two's-complement checksum: sum(bytes) + checksum == 0 (mod 256). */
export function ipmbChecksum(buf: Buffer, start = 0, end = buf.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum = (sum + buf[i]!) & 0xff;
  return (0x100 - sum) & 0xff;
}

export function hex(buf: Buffer): string {
  return buf.toString('hex');
}
