import { performance } from 'node:perf_hooks';

/** Monotonic milliseconds: for deadlines and durations, never for wall time. */
export const monotonicMs = (): number => performance.now();

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** ISO-8601 with +00:00 as Ironic prints it (seconds precision). */
export function ironicTimestamp(ms: number | null | undefined): string | null {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return null;
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

/** A timer a Clock handed out; only that clock can cancel it. */
export interface ClockTimer {
  readonly id: unknown;
}

/**
 * Time as a port: the monotonic clock (deadlines, durations), the wall clock (timestamps shown to
 * people) and timers. Services take one so their tests run on a ManualClock, not on real time.
 */
export interface Clock {
  monotonicMs(): number;
  wallMs(): number;
  setTimeout(fn: () => void, ms: number): ClockTimer;
  clearTimeout(timer: ClockTimer | undefined): void;
}

export const systemClock: Clock = {
  monotonicMs,
  wallMs: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    return { id: t };
  },
  clearTimeout(timer) {
    if (timer) clearTimeout(timer.id as NodeJS.Timeout);
  },
};

/**
 * A clock that moves only when told to (unit tests, simulations): `advance(ms)` runs every timer
 * that falls due, in deadline order, each seeing the clock at its own deadline.
 */
export class ManualClock implements Clock {
  private now: number;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(
    startMs = 1_000,
    private readonly wallOffsetMs = 1_800_000_000_000,
  ) {
    this.now = startMs;
  }

  monotonicMs(): number {
    return this.now;
  }

  wallMs(): number {
    return this.now + this.wallOffsetMs;
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    const id = ++this.seq;
    this.timers.set(id, { at: this.now + Math.max(0, ms), fn });
    return { id };
  }

  clearTimeout(timer: ClockTimer | undefined): void {
    if (timer) this.timers.delete(timer.id as number);
  }

  /** Timers not yet run. */
  get pending(): number {
    return this.timers.size;
  }

  /** Move time forward by `ms` without running any timer (a paused process: they all fire late, at the next advance). */
  jump(ms: number): void {
    this.now += ms;
  }

  /** Move time forward by `ms`, running due timers (and timers they set that also fall due). */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[0] < next[0]))) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.now = Math.max(this.now, next[1].at);
      next[1].fn();
    }
    this.now = end;
  }
}
