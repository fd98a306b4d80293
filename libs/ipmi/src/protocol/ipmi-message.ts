import { protocolError } from '../errors.js';
import { ipmbChecksum } from './bytes.js';
import { BMC_SLAVE_ADDRESS, REMOTE_CONSOLE_SWID } from './constants.js';

/**
 * IPMI LAN message format (IPMI v2.0 table 13-4, "IPMI Message"):
 *
 *   request:  rsAddr netFn/rsLUN checksum1 | rqAddr rqSeq/rqLUN cmd data... checksum2
 *   response: rqAddr netFn/rqLUN checksum1 | rsAddr rqSeq/rsLUN cmd completionCode data... checksum2
 *
 * rqSeq (6 bits) lets a requester match responses to requests.
 */

export interface IpmiRequest {
  netFn: number;
  cmd: number;
  rqSeq: number;
  data: Buffer;
  rsAddr?: number;
  rsLun?: number;
  rqAddr?: number;
  rqLun?: number;
}

export interface IpmiResponse {
  /** The response netFn (request netFn | 1). */
  netFn: number;
  cmd: number;
  rqSeq: number;
  completionCode: number;
  data: Buffer;
  rqAddr: number;
  rqLun: number;
  rsAddr: number;
  rsLun: number;
}

export function encodeIpmiRequest(rq: IpmiRequest): Buffer {
  const out = Buffer.allocUnsafe(7 + rq.data.length);
  out[0] = rq.rsAddr ?? BMC_SLAVE_ADDRESS;
  out[1] = ((rq.netFn & 0x3f) << 2) | ((rq.rsLun ?? 0) & 0x03);
  out[2] = ipmbChecksum(out, 0, 2);
  out[3] = rq.rqAddr ?? REMOTE_CONSOLE_SWID;
  out[4] = ((rq.rqSeq & 0x3f) << 2) | ((rq.rqLun ?? 0) & 0x03);
  out[5] = rq.cmd;
  rq.data.copy(out, 6);
  out[out.length - 1] = ipmbChecksum(out, 3, out.length - 1);
  return out;
}

function checkFrame(buf: Buffer, min: number, what: string): void {
  if (buf.length < min) throw protocolError(`truncated ${what}: ${buf.length} bytes`);
  if (ipmbChecksum(buf, 0, 2) !== buf[2]) throw protocolError(`${what}: bad header checksum`);
  if (ipmbChecksum(buf, 3, buf.length - 1) !== buf[buf.length - 1]) throw protocolError(`${what}: bad data checksum`);
}

export function decodeIpmiRequest(buf: Buffer): Required<IpmiRequest> {
  checkFrame(buf, 7, 'IPMI request');
  return {
    rsAddr: buf[0]!,
    netFn: buf[1]! >> 2,
    rsLun: buf[1]! & 0x03,
    rqAddr: buf[3]!,
    rqSeq: buf[4]! >> 2,
    rqLun: buf[4]! & 0x03,
    cmd: buf[5]!,
    data: buf.subarray(6, buf.length - 1),
  };
}

/** Build the response to `rq` (netFn | 1, addresses swapped, same rqSeq). */
export function encodeIpmiResponse(rq: Required<IpmiRequest>, completionCode: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(8 + data.length);
  out[0] = rq.rqAddr;
  out[1] = (((rq.netFn | 1) & 0x3f) << 2) | (rq.rqLun & 0x03);
  out[2] = ipmbChecksum(out, 0, 2);
  out[3] = rq.rsAddr;
  out[4] = ((rq.rqSeq & 0x3f) << 2) | (rq.rsLun & 0x03);
  out[5] = rq.cmd;
  out[6] = completionCode;
  data.copy(out, 7);
  out[out.length - 1] = ipmbChecksum(out, 3, out.length - 1);
  return out;
}

export function decodeIpmiResponse(buf: Buffer): IpmiResponse {
  checkFrame(buf, 8, 'IPMI response');
  const netFn = buf[1]! >> 2;
  if ((netFn & 1) !== 1) throw protocolError(`IPMI response has a request netFn 0x${netFn.toString(16)}`);
  return {
    rqAddr: buf[0]!,
    netFn,
    rqLun: buf[1]! & 0x03,
    rsAddr: buf[3]!,
    rqSeq: buf[4]! >> 2,
    rsLun: buf[4]! & 0x03,
    cmd: buf[5]!,
    completionCode: buf[6]!,
    data: buf.subarray(7, buf.length - 1),
  };
}
