import { systemClock, type Clock, type ClockTimer } from '#libs/common';

/**
 * controller-runtime's work queue, per key: at most one worker call in flight per key; a key added
 * while its worker runs is marked dirty and runs once more afterwards (however many adds came in);
 * `addAfter` brings a key back after a delay (the earliest pending delay wins). Different keys run
 * concurrently: the worker bounds what must be bounded (starts, stops).
 */
export class KeyedQueue {
  private readonly running = new Map<string, { dirty: boolean }>();
  private readonly delayed = new Map<string, { atMs: number; timer: ClockTimer }>();
  private idleWaiters: Array<() => void> = [];
  private closed = false;

  constructor(
    private readonly worker: (key: string) => Promise<void>,
    private readonly onError: (key: string, err: unknown) => void,
    private readonly clock: Clock = systemClock,
  ) {}

  add(key: string): void {
    if (this.closed) return;
    const r = this.running.get(key);
    if (r) {
      r.dirty = true;
      return;
    }
    const state = { dirty: false };
    this.running.set(key, state);
    void this.run(key, state);
  }

  /** Add `key` in `ms` (0: now). A pending earlier delay is kept; a later one is brought forward. */
  addAfter(key: string, ms: number): void {
    if (this.closed) return;
    if (ms <= 0) return this.add(key);
    const atMs = this.clock.monotonicMs() + ms;
    const pending = this.delayed.get(key);
    if (pending && pending.atMs <= atMs) return;
    if (pending) this.clock.clearTimeout(pending.timer);
    const timer = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { atMs, timer });
  }

  /** Cancel every delayed add (shutdown: no retries any more). Keys already running finish. */
  cancelDelayed(): void {
    for (const d of this.delayed.values()) this.clock.clearTimeout(d.timer);
    this.delayed.clear();
  }

  /** Keys running now (or dirty). */
  get active(): number {
    return this.running.size;
  }

  /** Resolves when no key runs (delayed adds do not count). */
  whenIdle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** No more work: delayed adds cancelled, new adds ignored. */
  close(): void {
    this.closed = true;
    this.cancelDelayed();
  }

  private async run(key: string, state: { dirty: boolean }): Promise<void> {
    try {
      do {
        state.dirty = false;
        try {
          await this.worker(key);
        } catch (e) {
          this.onError(key, e);
        }
      } while (state.dirty && !this.closed);
    } finally {
      this.running.delete(key);
      if (this.running.size === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }
}
