import { spawn } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createSocket } from 'node:dgram';
import {
  ConfAlg,
  decodeSolPacket,
  decodeV2Packet,
  encodeSolPacket,
  encodeV2Packet,
  IntegrityAlg,
  IpmiTransport,
  PayloadType,
  peekPacket,
  type SessionSecurity,
  V2_PAYLOAD_OFFSET,
} from '#libs/ipmi';
import { freeUdpPort } from '../test/support/ports.js';
import { fmt, summary, table } from './stats.js';

/**
 * CPU the conductor spends per SOL data packet of a node's output, in process: the RMCP+ decode of
 * the BMC's packet (HMAC-SHA256-128 check, AES-CBC-128 decrypt, cipher suite 17), the SOL decode,
 * the ack (SOL encode, AES encrypt with a fresh IV, HMAC) and its UDP send — against a baseline in the
 * same run: the implementation before the second pass (a new HMAC, cipher and random IV per packet,
 * Buffer.concat, dns-style address lookup and a completion callback per send), kept below verbatim.
 * Rounds alternate baseline and current; the figure is the median of the rounds' CPU per packet.
 * The datagrams go to a socat that discards them, in its own process.
 * Usage: node dist/bench/sol-packet-cpu.js [packets-per-round=20000] [rounds=10] [line-bytes=64]
 */
const perRound = Number(process.argv[2] ?? 20_000);
const rounds = Number(process.argv[3] ?? 10);
const lineBytes = Number(process.argv[4] ?? 64);

// ------------------------------------------------------------------ baseline (before)

function baseIntegrity(k1: Buffer, data: Buffer): Buffer {
  return createHmac('sha256', k1).update(data).digest().subarray(0, 16);
}
function baseEncrypt(k2: Buffer, payload: Buffer, iv: Buffer = randomBytes(16)): Buffer {
  const padLength = (16 - ((payload.length + 1) % 16)) % 16;
  const plain = Buffer.allocUnsafe(payload.length + padLength + 1);
  payload.copy(plain, 0);
  for (let i = 0; i < padLength; i++) plain[payload.length + i] = i + 1;
  plain[plain.length - 1] = padLength;
  const cipher = createCipheriv('aes-128-cbc', k2.subarray(0, 16), iv);
  cipher.setAutoPadding(false);
  return Buffer.concat([iv, cipher.update(plain), cipher.final()]);
}
function baseDecrypt(k2: Buffer, data: Buffer): Buffer {
  const decipher = createDecipheriv('aes-128-cbc', k2.subarray(0, 16), data.subarray(0, 16));
  decipher.setAutoPadding(false);
  const plain = Buffer.concat([decipher.update(data.subarray(16)), decipher.final()]);
  const padLength = plain[plain.length - 1]!;
  if (padLength > 15) throw new Error('pad');
  return plain.subarray(0, plain.length - padLength - 1);
}
function baseEncode(sessionId: number, sequence: number, payload: Buffer, s: SessionSecurity): Buffer {
  const body = baseEncrypt(s.k2, payload);
  const padLength = (4 - ((12 + body.length + 2) % 4)) % 4;
  const out = Buffer.allocUnsafe(V2_PAYLOAD_OFFSET + body.length + padLength + 2 + 16);
  Buffer.from([6, 0, 0xff, 7]).copy(out, 0);
  out[4] = 6;
  out[5] = PayloadType.SOL | 0xc0;
  out.writeUInt32LE(sessionId, 6);
  out.writeUInt32LE(sequence, 10);
  out.writeUInt16LE(body.length, 14);
  body.copy(out, V2_PAYLOAD_OFFSET);
  let p = V2_PAYLOAD_OFFSET + body.length;
  for (let i = 0; i < padLength; i++) out[p++] = 0xff;
  out[p++] = padLength;
  out[p++] = 7;
  baseIntegrity(s.k1, out.subarray(4, p)).copy(out, p);
  return out;
}
function baseDecode(buf: Buffer, s: SessionSecurity): Buffer {
  peekPacket(buf);
  const length = buf.readUInt16LE(14);
  const codeAt = buf.length - 16;
  if (!timingSafeEqual(buf.subarray(codeAt), baseIntegrity(s.k1, buf.subarray(4, codeAt)))) throw new Error('integrity');
  return baseDecrypt(s.k2, buf.subarray(V2_PAYLOAD_OFFSET, V2_PAYLOAD_OFFSET + length));
}

// ------------------------------------------------------------------ the run

const security: SessionSecurity = { integrity: IntegrityAlg.HMAC_SHA256_128, k1: randomBytes(32), confidentiality: ConfAlg.AES_CBC_128, k2: randomBytes(32) };
const line = Buffer.from(`[000001] node-0001 systemd[1]: Started a unit of work.${' '.repeat(lineBytes)}`.slice(0, lineBytes - 2) + '\r\n');
// what the BMC sends: data packets with sequence 1..15 (made once, outside the measurement)
const inbound = Array.from({ length: 15 }, (_, i) =>
  encodeV2Packet({ payloadType: PayloadType.SOL, sessionId: 0x1234, sequence: i + 1, payload: encodeSolPacket({ sequence: i + 1, ackSequence: 0, acceptedCount: 0, flags: 0, data: line }) }, security),
);

const port = await freeUdpPort();
const sink = spawn('socat', ['-u', `UDP4-RECV:${port},bind=127.0.0.1`, 'OPEN:/dev/null'], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 300));
const endpoint = { address: '127.0.0.1', port, family: 4 as const };
const baseSock = createSocket('udp4');
await new Promise<void>((r) => baseSock.bind(0, '127.0.0.1', () => r()));
baseSock.on('error', () => undefined);
const transport = await IpmiTransport.create({ bindAddress: '127.0.0.1' });

let sent = 0;
let sending = true;
function baseline(n: number): void {
  for (let i = 0; i < n; i++) {
    const payload = baseDecode(inbound[i % 15]!, security);
    const sol = decodeSolPacket(payload);
    const ack = baseEncode(0xbeef, ++sent, encodeSolPacket({ sequence: 0, ackSequence: sol.sequence, acceptedCount: sol.data.length, flags: 0, data: Buffer.alloc(0) }), security);
    if (sending) baseSock.send(ack, port, '127.0.0.1', () => undefined);
  }
}
function current(n: number): void {
  for (let i = 0; i < n; i++) {
    const buf = inbound[i % 15]!;
    const head = peekPacket(buf);
    if (head.kind !== 'v2') throw new Error('not v2');
    const sol = decodeSolPacket(decodeV2Packet(buf, security, head).payload);
    const ack = encodeV2Packet({ payloadType: PayloadType.SOL, sessionId: 0xbeef, sequence: ++sent, payload: encodeSolPacket({ sequence: 0, ackSequence: sol.sequence, acceptedCount: sol.data.length, flags: 0, data: Buffer.alloc(0) }) }, security);
    if (sending) transport.send(ack, endpoint);
  }
}
/** CPU µs per packet of one round, including the deferred work (send completions, lookups) it queued. */
async function round(f: (n: number) => void): Promise<number> {
  const before = process.cpuUsage();
  // in slices, letting the event loop run the ticks each slice queued, as the conductor's loop does
  for (let done = 0; done < perRound; done += 500) {
    f(Math.min(500, perRound - done));
    await new Promise((r) => setImmediate(r));
  }
  const u = process.cpuUsage(before);
  return (u.user + u.system) / perRound;
}

async function compare(): Promise<{ base: number[]; cur: number[] }> {
  const base: number[] = [];
  const cur: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2) {
      cur.push(await round(current));
      base.push(await round(baseline));
    } else {
      base.push(await round(baseline));
      cur.push(await round(current));
    }
  }
  return { base, cur };
}

try {
  await round(baseline);
  await round(current); // warm-up
  const withSend = await compare();
  sending = false;
  const codec = await compare();
  const rows: (string | number)[][] = [];
  for (const [what, r] of [
    ['decode + SOL + ack + UDP send', withSend],
    ['of which the codec alone (no send)', codec],
  ] as const) {
    const b = summary(r.base);
    const c = summary(r.cur);
    rows.push([what, fmt(b.p50), fmt(c.p50), `${fmt(b.p50 - c.p50)} (${fmt((100 * (b.p50 - c.p50)) / b.p50)} %)`, `${fmt(Math.min(...r.base))}–${fmt(b.max)} / ${fmt(Math.min(...r.cur))}–${fmt(c.max)}`]);
  }
  process.stdout.write(
    `\nCPU per SOL data packet (${lineBytes}-byte line, cipher suite 17), in process; ${rounds} rounds of ${perRound} each, alternating\n` +
      table(['per packet', 'baseline (before) p50 µs', 'current p50 µs', 'saved', 'range of rounds: baseline / current'], rows) +
      '\n',
  );
} finally {
  baseSock.close();
  await transport.close();
  sink.kill();
}
