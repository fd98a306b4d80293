/**
 * A node's console history: a ring buffer of the last `capacity` bytes of output, addressed by
 * absolute offsets (bytes since the console's first output, continued across takeovers), so a late
 * joiner's replay ends exactly where live output starts. Pure.
 */
export class HistoryBuffer {
  private readonly buf: Buffer;
  /** Absolute offset one past the last byte held. */
  private end: number;
  private size = 0;
  /** Where this history begins (taken as a line start: the console's first byte, or a predecessor's first kept byte). */
  private readonly origin: number;

  constructor(
    readonly capacity: number,
    startOffset = 0,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error('history capacity must be a positive integer');
    this.buf = Buffer.alloc(capacity);
    this.end = startOffset;
    this.origin = startOffset;
  }

  /** Absolute offset of the next byte to be appended. */
  get endOffset(): number {
    return this.end;
  }

  /** Absolute offset of the oldest byte held. */
  get startOffset(): number {
    return this.end - this.size;
  }

  get length(): number {
    return this.size;
  }

  append(data: Buffer): void {
    const n = data.length;
    if (n === 0) return;
    const cap = this.capacity;
    if (n >= cap) {
      data.copy(this.buf, 0, n - cap);
      this.end += n;
      this.size = cap;
      this.rotateTo((this.end - cap) % cap); // keep the physical start where offsets expect it
      return;
    }
    const at = this.end % cap;
    const first = Math.min(n, cap - at);
    data.copy(this.buf, at, 0, first);
    if (first < n) data.copy(this.buf, 0, first);
    this.end += n;
    this.size = Math.min(cap, this.size + n);
  }

  /** Bytes from absolute offset `from` (clamped to what is held) to the end. */
  since(from: number): Buffer {
    const start = Math.max(from, this.startOffset);
    if (start >= this.end) return Buffer.alloc(0);
    const n = this.end - start;
    const cap = this.capacity;
    const at = start % cap;
    if (at + n <= cap) return Buffer.from(this.buf.subarray(at, at + n));
    return Buffer.concat([this.buf.subarray(at), this.buf.subarray(0, n - (cap - at))]);
  }

  /**
   * The last at most `maxBytes`, starting at a line start: the first byte after a LF (or CR) in
   * the window, unless the window is one unbroken line (then all of it: better than nothing).
   * Returns the data and its absolute start offset.
   */
  tail(maxBytes: number): { offset: number; data: Buffer } {
    if (maxBytes <= 0 || this.size === 0) return { offset: this.end, data: Buffer.alloc(0) };
    const windowStart = Math.max(this.startOffset, this.end - maxBytes);
    const data = this.since(windowStart);
    // A window that starts right after a line end (or at the very first byte) starts a line.
    const before = windowStart > this.startOffset ? this.since(windowStart - 1)[0] : undefined;
    if (windowStart === this.origin || before === 0x0a || (before === 0x0d && data[0] !== 0x0a)) return { offset: windowStart, data };
    if (before === 0x0d && data.length > 1) return { offset: windowStart + 1, data: data.subarray(1) }; // the LF of a CRLF
    for (let i = 0; i < data.length; i++) {
      const c = data[i];
      if (c === 0x0a || c === 0x0d) {
        let j = i + 1;
        if (c === 0x0d && data[j] === 0x0a) j++;
        if (j >= data.length) break; // the only line end is the last byte: keep the whole window
        return { offset: windowStart + j, data: data.subarray(j) };
      }
    }
    return { offset: windowStart, data };
  }

  private rotateTo(physicalStart: number): void {
    if (physicalStart === 0) return;
    const copy = Buffer.from(this.buf);
    // copy holds the last `cap` bytes in order at 0..cap; place them so byte k of them sits at (physicalStart + k) % cap
    const cap = this.capacity;
    copy.copy(this.buf, physicalStart, 0, cap - physicalStart);
    copy.copy(this.buf, 0, cap - physicalStart);
  }
}
