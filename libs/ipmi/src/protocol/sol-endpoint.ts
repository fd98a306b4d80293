import { SolOperation, type SolPacket } from './sol-packet.js';

/**
 * One side of an SOL payload: the reliable, ordered character stream of IPMI v2.0 section 15.
 * Pure state machine: no sockets and no timers. The owner passes the current time, executes the
 * `send` callback, and arms one timer for `nextDeadline` after every call. Both our client (console
 * side) and the fleet simulator (BMC side) drive this same class; only the meaning of the flag byte
 * differs (operation bits one way, status bits the other).
 *
 * Outbound: one data packet in flight at a time (sequence 1..15, wrapping, never 0). Characters
 * written while a packet is unacknowledged accumulate and leave together in the next packet (up to
 * `maxCharsPerPacket`). An ack accepting fewer characters than sent (a partial ACK or a NACK) puts
 * the rest back in front of the queue; they go out in a new packet with a new sequence number, as
 * ipmitool and the specification do. No ack within `retryIntervalMs`: the same packet is sent again,
 * up to `maxRetries` times, then the endpoint reports failure.
 *
 * Inbound: every data packet (sequence != 0) is acknowledged with an ack-only packet. A packet with
 * the same sequence number as the previous one is a retransmission: only characters beyond those
 * already delivered are passed on (a BMC may append to a packet it resends).
 */
export interface SolEndpointOptions {
  maxCharsPerPacket: number;
  retryIntervalMs: number;
  maxRetries: number;
  /** First outbound sequence number, 1..15 (see SolConsole for why it is not always 1). */
  initialSequence?: number;
  /** Wait before resending characters the peer NACKed without accepting any. */
  nackBackoffMs?: number;
  /** Characters queued beyond this are dropped (counted in `droppedBytes`). */
  maxQueuedBytes?: number;
  send(packet: SolPacket): void;
  deliver(data: Buffer): void;
  /** How many characters of an incoming packet we can take now (flow control); default: all. */
  acceptLimit?(): number;
}

interface InFlight {
  sequence: number;
  data: Buffer;
  flags: number;
  retries: number;
  deadline: number;
}

const EMPTY = Buffer.alloc(0);

export class SolEndpoint {
  /** Flag bits OR-ed into every packet this side sends (status bits on the BMC side). */
  flags = 0;
  droppedBytes = 0;
  /** Acks that accepted more than the packet held (see receive()). */
  staleAcks = 0;
  failed = false;
  private queue: Buffer[] = [];
  private queued = 0;
  private breakPending = false;
  private inFlight: InFlight | null = null;
  private resumeAt = 0;
  private nextSequence: number;
  private lastRxSequence = 0;
  private lastRxLength = 0;
  private lastRxAccepted = 0;

  constructor(private readonly o: SolEndpointOptions) {
    const s = o.initialSequence ?? 1;
    this.nextSequence = s >= 1 && s <= 15 ? s : 1;
  }

  /** Nothing queued and nothing waiting for an ack. */
  get idle(): boolean {
    return this.inFlight === null && this.queued === 0 && !this.breakPending;
  }

  get queuedBytes(): number {
    return this.queued + (this.inFlight?.data.length ?? 0);
  }

  /** The sequence number the next new data packet will carry. */
  get upcomingSequence(): number {
    return this.nextSequence;
  }

  /** When `onTimer` must next be called, or null when nothing is pending. */
  get nextDeadline(): number | null {
    const a = this.inFlight ? this.inFlight.deadline : Infinity;
    const b = this.resumeAt > 0 ? this.resumeAt : Infinity;
    const d = Math.min(a, b);
    return d === Infinity ? null : d;
  }

  write(data: Buffer, now: number): void {
    if (this.failed || data.length === 0) return;
    const max = this.o.maxQueuedBytes ?? Infinity;
    let chunk = data;
    if (this.queued + chunk.length > max) {
      const room = Math.max(0, max - this.queued);
      this.droppedBytes += chunk.length - room;
      chunk = chunk.subarray(0, room);
    }
    if (chunk.length) {
      this.queue.push(chunk);
      this.queued += chunk.length;
    }
    this.pump(now);
  }

  /** Ask the peer to generate a serial break (rides on the next data packet, or an ack-only packet). */
  requestBreak(now: number): void {
    if (this.failed) return;
    this.breakPending = true;
    this.pump(now);
  }

  /** Process a packet from the peer; returns the peer's flag byte for the owner to interpret. */
  receive(p: SolPacket, now: number): number {
    const f = this.inFlight;
    if (f && p.ackSequence !== 0 && p.ackSequence === f.sequence) {
      // More characters accepted than we sent: the peer matched an older packet that had the same
      // sequence number (ipmi_sim keeps the last one across sessions) and dropped ours. Send it all again.
      const accepted = p.acceptedCount > f.data.length ? 0 : p.acceptedCount;
      if (p.acceptedCount > f.data.length) this.staleAcks++;
      this.inFlight = null;
      if (accepted < f.data.length) {
        this.queue.unshift(f.data.subarray(accepted));
        this.queued += f.data.length - accepted;
        if (accepted === 0 && p.acceptedCount <= f.data.length) this.resumeAt = now + (this.o.nackBackoffMs ?? 50);
      }
    }
    if (p.sequence !== 0) this.receiveData(p);
    this.pump(now);
    return p.flags;
  }

  private receiveData(p: SolPacket): void {
    let accepted: number;
    if (p.sequence === this.lastRxSequence) {
      // A retransmission: deliver only what goes beyond the characters already taken.
      if (this.lastRxAccepted === this.lastRxLength && p.data.length > this.lastRxLength) {
        this.o.deliver(p.data.subarray(this.lastRxLength));
        this.lastRxLength = this.lastRxAccepted = p.data.length;
      }
      accepted = Math.min(this.lastRxAccepted, p.data.length);
    } else {
      const limit = this.o.acceptLimit ? Math.max(0, this.o.acceptLimit()) : Infinity;
      accepted = Math.min(p.data.length, limit);
      if (accepted > 0) this.o.deliver(accepted === p.data.length ? p.data : p.data.subarray(0, accepted));
      this.lastRxSequence = p.sequence;
      this.lastRxLength = p.data.length;
      this.lastRxAccepted = accepted;
    }
    const nack = accepted < p.data.length ? SolOperation.NACK : 0;
    this.o.send({ sequence: 0, ackSequence: p.sequence, acceptedCount: accepted, flags: this.flags | nack, data: EMPTY });
  }

  /** Run due retransmissions; returns false once the peer has stopped acknowledging. */
  onTimer(now: number): boolean {
    if (this.failed) return false;
    if (this.resumeAt > 0 && now >= this.resumeAt) this.resumeAt = 0;
    const f = this.inFlight;
    if (f && now >= f.deadline) {
      if (f.retries >= this.o.maxRetries) {
        this.failed = true;
        return false;
      }
      f.retries++;
      f.deadline = now + this.o.retryIntervalMs;
      this.transmit(f);
    }
    this.pump(now);
    return true;
  }

  /** Give up on the packet in flight (a BMC drops characters it cannot deliver) and carry on. */
  dropInFlight(now: number): void {
    if (this.inFlight) this.droppedBytes += this.inFlight.data.length;
    this.inFlight = null;
    this.failed = false;
    this.pump(now);
  }

  /** Forget everything queued (the payload was deactivated). */
  clear(): void {
    this.queue = [];
    this.queued = 0;
    this.inFlight = null;
    this.breakPending = false;
    this.resumeAt = 0;
  }

  private transmit(f: InFlight): void {
    this.o.send({ sequence: f.sequence, ackSequence: 0, acceptedCount: 0, flags: f.flags, data: f.data });
  }

  private pump(now: number): void {
    if (this.failed || this.inFlight || (this.resumeAt > 0 && now < this.resumeAt)) return;
    if (this.queued === 0) {
      if (this.breakPending) {
        // A break with no characters: an ack-only packet (sequence 0) carrying the operation bit.
        this.breakPending = false;
        this.o.send({ sequence: 0, ackSequence: 0, acceptedCount: 0, flags: this.flags | SolOperation.GENERATE_BREAK, data: EMPTY });
      }
      return;
    }
    const data = this.take(Math.max(1, Math.min(255, this.o.maxCharsPerPacket)));
    const flags = this.flags | (this.breakPending ? SolOperation.GENERATE_BREAK : 0);
    this.breakPending = false;
    const sequence = this.nextSequence;
    this.nextSequence = (sequence % 15) + 1;
    this.inFlight = { sequence, data, flags, retries: 0, deadline: now + this.o.retryIntervalMs };
    this.transmit(this.inFlight);
  }

  private take(max: number): Buffer {
    const first = this.queue[0]!;
    if (first.length >= max || this.queue.length === 1) {
      const n = Math.min(max, first.length);
      if (n === first.length) this.queue.shift();
      else this.queue[0] = first.subarray(n);
      this.queued -= n;
      return first.subarray(0, n);
    }
    const parts: Buffer[] = [];
    let n = 0;
    while (n < max && this.queue.length) {
      const b = this.queue[0]!;
      const k = Math.min(b.length, max - n);
      parts.push(b.subarray(0, k));
      n += k;
      if (k === b.length) this.queue.shift();
      else this.queue[0] = b.subarray(k);
    }
    this.queued -= n;
    return Buffer.concat(parts, n);
  }
}
