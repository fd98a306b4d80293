import { Duplex } from 'node:stream';
import { randomInt } from 'node:crypto';
import { IpmiError } from '../errors.js';
import { SolEndpoint } from '../protocol/sol-endpoint.js';
import { decodeSolPacket, encodeSolPacket, type SolPacket, SolStatus } from '../protocol/sol-packet.js';
import { monotonicMs as monotonicNow } from '#libs/common';

/** What a SolConsole needs from its session (kept narrow so the two do not import each other). */
export interface SolSessionHooks {
  readonly timeoutMs: number;
  readonly retries: number;
  /** Identifies the BMC for the sequence-number memory below. */
  readonly endpointKey: string;
  readonly usable: boolean;
  sendSolPayload(payload: Buffer): void;
  deactivateSolPayload(instance: number): Promise<void>;
  /** The SOL endpoint stopped hearing acks: the BMC is gone, so is the session. */
  solTimedOut(error: IpmiError): void;
  solClosed(sol: SolConsole): void;
}

export interface SolConsoleInfo {
  instance: number;
  inboundPayloadSize: number;
  outboundPayloadSize: number;
  /** UDP port the BMC named for SOL (we keep using the session's own port, see README). */
  payloadPort: number;
  maxCharsPerPacket: number;
  initialSequence: number;
}

/** Characters the SOL side may hold before `write()` reports backpressure. */
const WRITE_BUFFER_BYTES = 4096;
/** Used when a BMC reports a nonsense inbound payload size (pyghmi reports 1). */
const DEFAULT_MAX_CHARS_PER_PACKET = 128;

/**
 * Where the next SOL session to a BMC starts its sequence numbers. ipmi_sim (and its descendants in
 * some firmware) keeps the last acknowledged sequence number across sessions and silently drops a
 * new session's first packet if it carries that same number; ipmitool always starts at 1, so a
 * reconnect after a one-packet session loses the first keystrokes. The specification only requires
 * 1..15, so we start where the previous session to that BMC stopped (+1), or at a random number for
 * a BMC this process has not talked to. Bounded: a long-lived conductor forgets the oldest entries.
 */
const nextSequenceByEndpoint = new Map<string, number>();
const SEQUENCE_MEMORY_ENTRIES = 65_536;

export function initialSolSequence(endpointKey: string): number {
  return nextSequenceByEndpoint.get(endpointKey) ?? randomInt(1, 16);
}

function rememberSolSequence(endpointKey: string, sequence: number): void {
  nextSequenceByEndpoint.delete(endpointKey);
  nextSequenceByEndpoint.set(endpointKey, sequence);
  if (nextSequenceByEndpoint.size > SEQUENCE_MEMORY_ENTRIES) {
    const oldest = nextSequenceByEndpoint.keys().next().value;
    if (oldest !== undefined) nextSequenceByEndpoint.delete(oldest);
  }
}

export function maxCharsForInboundSize(inboundPayloadSize: number): number {
  return inboundPayloadSize > 4 ? Math.min(255, inboundPayloadSize - 4) : DEFAULT_MAX_CHARS_PER_PACKET;
}

/**
 * An active SOL payload as a byte stream: write keystrokes, read the node's serial output.
 *
 * - `write()` is acknowledged (its callback runs) once the characters are queued for the BMC; the
 *   stream applies backpressure while more than a few KiB wait for acknowledgement.
 * - `sendBreak()` asks the BMC for a serial break.
 * - `close()` sends what is queued, deactivates the payload and ends the stream.
 * - When the BMC deactivates the payload or stops answering, the stream ends ('end', then 'close')
 *   without an 'error' event; `closeReason` then holds an IpmiError (SOL_DEACTIVATED / TIMEOUT).
 *   Incoming characters are pushed as they arrive (the BMC cannot be paused), so a reader that stops
 *   reading buffers them in memory.
 */
export class SolConsole extends Duplex {
  readonly info: SolConsoleInfo;
  /** Why the stream ended, when it was not our own close(); null while open or after close(). */
  closeReason: IpmiError | null = null;
  /** The last status byte the BMC sent (SolStatus bits). */
  lastStatus = 0;
  private readonly endpoint: SolEndpoint;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;
  private writeCallback: ((error?: Error | null) => void) | null = null;
  private idleWaiters: Array<() => void> = [];
  private deactivated = false;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly session: SolSessionHooks,
    info: Omit<SolConsoleInfo, 'maxCharsPerPacket' | 'initialSequence'> & { initialSequence?: number },
  ) {
    super({ writableHighWaterMark: 1024, readableHighWaterMark: 16 * 1024, allowHalfOpen: false });
    const maxCharsPerPacket = maxCharsForInboundSize(info.inboundPayloadSize);
    const initialSequence = info.initialSequence ?? initialSolSequence(session.endpointKey);
    this.info = { ...info, maxCharsPerPacket, initialSequence };
    this.endpoint = new SolEndpoint({
      maxCharsPerPacket,
      initialSequence,
      retryIntervalMs: session.timeoutMs,
      maxRetries: session.retries,
      send: (p: SolPacket) => this.session.sendSolPayload(encodeSolPacket(p)),
      // no copy: the data is a view of this packet's own decrypted payload (or datagram), used by nothing else
      deliver: (data: Buffer) => {
        this.push(data);
      },
    });
  }

  /** Feed one decrypted SOL payload from the session. */
  onPayload(payload: Buffer): void {
    if (this.destroyed) return;
    let packet: SolPacket;
    try {
      packet = decodeSolPacket(payload);
    } catch {
      return;
    }
    const status = this.endpoint.receive(packet, monotonicNow());
    this.lastStatus = status;
    if (status & SolStatus.DEACTIVATING) {
      this.deactivated = true;
      this.finish(new IpmiError('SOL_DEACTIVATED', 'the BMC deactivated the SOL payload (another session took it over, or it shut down)'));
      return;
    }
    this.afterChange();
  }

  sendBreak(): void {
    if (this.destroyed) return;
    this.endpoint.requestBreak(monotonicNow());
    this.afterChange();
  }

  /** Send what is queued (bounded wait), deactivate the payload, end the stream. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        if (this.destroyed) return;
        await this.whenIdle(this.session.timeoutMs * (this.session.retries + 1));
        if (!this.deactivated && this.session.usable) {
          this.deactivated = true;
          await this.session.deactivateSolPayload(this.info.instance).catch(() => undefined);
        }
        this.finish(null);
      })();
    }
    return this.closing;
  }

  /** End without talking to the BMC (the session is gone, or the BMC ended the payload). */
  finish(reason: IpmiError | null): void {
    if (this.destroyed) return;
    if (reason && !this.closeReason) this.closeReason = reason;
    this.push(null);
    this.destroy();
  }

  override _read(): void {
    /* data is pushed as the BMC sends it */
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.endpoint.write(chunk, monotonicNow());
    this.writeCallback = callback;
    this.afterChange();
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    const now = monotonicNow();
    for (const c of chunks) this.endpoint.write(c.chunk, now);
    this.writeCallback = callback;
    this.afterChange();
  }

  override _final(callback: (error?: Error | null) => void): void {
    void this.whenIdle(this.session.timeoutMs * (this.session.retries + 1)).then(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    rememberSolSequence(this.session.endpointKey, this.endpoint.upcomingSequence);
    this.endpoint.clear();
    for (const w of this.idleWaiters.splice(0)) w();
    const cb = this.writeCallback;
    this.writeCallback = null;
    cb?.();
    if (!this.deactivated && this.session.usable) {
      // destroy() without close(): still free the payload on the BMC, or reconnects would find it busy.
      this.deactivated = true;
      void this.session.deactivateSolPayload(this.info.instance).catch(() => undefined);
    }
    this.session.solClosed(this);
    callback(error);
  }

  private whenIdle(maxWaitMs: number): Promise<void> {
    if (this.endpoint.idle || this.destroyed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, maxWaitMs);
      const waiter = () => done();
      this.idleWaiters.push(waiter);
      function done() {
        clearTimeout(t);
        resolve();
      }
    });
  }

  private onTimer(): void {
    this.timer = null;
    if (this.destroyed) return;
    if (!this.endpoint.onTimer(monotonicNow())) {
      const error = new IpmiError('TIMEOUT', `the BMC stopped acknowledging SOL data (${this.session.retries + 1} attempts, ${this.session.timeoutMs} ms apart)`);
      this.session.solTimedOut(error);
      this.finish(error);
      return;
    }
    this.afterChange();
  }

  private afterChange(): void {
    if (this.writeCallback && this.endpoint.queuedBytes < WRITE_BUFFER_BYTES) {
      const cb = this.writeCallback;
      this.writeCallback = null;
      cb();
    }
    if (this.endpoint.idle && this.idleWaiters.length) for (const w of this.idleWaiters.splice(0)) w();
    const deadline = this.endpoint.nextDeadline;
    if (deadline === null) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
    } else if (!this.timer || this.timerAt !== deadline) {
      if (this.timer) clearTimeout(this.timer);
      this.timerAt = deadline;
      this.timer = setTimeout(() => this.onTimer(), Math.max(0, deadline - monotonicNow()));
    }
  }
}
