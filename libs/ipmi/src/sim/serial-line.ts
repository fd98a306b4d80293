import { EventEmitter } from 'node:events';

export type SerialBehaviour = 'shell' | 'silent';

/**
 * The simulated node's serial port, as the BMC sees it. `print()` is the node writing to its UART
 * (it reaches the SOL console if one is active, and is lost otherwise, as on hardware); `received`
 * is everything typed into SOL. The default behaviour is a getty: echo what is typed and print
 * `<name> login: ` on every Enter.
 */
export class SimSerialLine extends EventEmitter {
  /** Everything that came in through SOL, as latin1 text. */
  received = '';
  /** Bytes printed while a console was attached / while none was. */
  printedBytes = 0;
  lostBytes = 0;
  breaks = 0;
  private lastWasCr = false;
  /** Set by the BMC: where node output goes while SOL is active. */
  sink: ((data: Buffer) => void) | null = null;

  constructor(
    readonly name: string,
    public behaviour: SerialBehaviour = 'shell',
  ) {
    super();
    this.setMaxListeners(0);
  }

  get prompt(): string {
    return `${this.name} login: `;
  }

  /** The node prints. */
  print(data: string | Buffer): void {
    const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    if (!b.length) return;
    if (this.sink) {
      this.printedBytes += b.length;
      this.sink(b);
    } else {
      this.lostBytes += b.length;
    }
  }

  /**
   * The node prints `text` at `bytesPerSecond` (a UART's pace: 115200 baud ≈ 11,520 bytes/s), in
   * chunks every `tickMs`. Resolves when all of it was printed (or lost, with no console attached).
   */
  async printPaced(text: string | Buffer, bytesPerSecond: number, tickMs = 10): Promise<void> {
    const b = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
    const per = Math.max(1, Math.round((bytesPerSecond * tickMs) / 1000));
    const t0 = performance.now();
    for (let at = 0; at < b.length; at += per) {
      this.print(b.subarray(at, at + per));
      const due = t0 + ((at + per) / bytesPerSecond) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }

  /** Characters arriving from the SOL console. */
  input(data: Buffer): void {
    const text = data.toString('latin1');
    this.received += text;
    if (this.behaviour === 'shell') {
      let out = '';
      for (const ch of text) {
        if (ch === '\n' && this.lastWasCr) {
          this.lastWasCr = false;
          continue;
        }
        this.lastWasCr = ch === '\r';
        out += ch === '\r' || ch === '\n' ? `\r\n${this.prompt}` : ch;
      }
      if (out) this.print(out);
    }
    this.emit('input', text);
  }

  sendBreak(): void {
    this.breaks++;
    this.emit('break');
  }

  /** Resolve once `text` has been received through SOL (since the last `clearReceived`). */
  waitReceived(text: string, timeoutMs = 5000): Promise<void> {
    if (this.received.includes(text)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onInput = () => {
        if (!this.received.includes(text)) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for node ${this.name} to receive ${JSON.stringify(text)}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('input', onInput);
      };
      this.on('input', onInput);
    });
  }

  clearReceived(): void {
    this.received = '';
  }
}
