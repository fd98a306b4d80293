import type { ConsoleSignals } from '#libs/console';

/**
 * Pub/sub messages about one node ("console:<uuid>" from an observed-state write, "node:<uuid>" from
 * an intent change or a released claim), turned into promises an API call can wait on: a PUT that
 * waits for the owner wakes when the owner writes, not on a poll.
 */
export class ConsoleEvents implements ConsoleSignals {
  private readonly waiters = new Map<string, Set<() => void>>();

  notify(uuid: string): void {
    const set = this.waiters.get(uuid);
    if (!set) return;
    this.waiters.delete(uuid);
    for (const w of set) w();
  }

  next(uuid: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(uuid);
      if (!set) this.waiters.set(uuid, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        const s = this.waiters.get(uuid);
        s?.delete(done);
        if (s?.size === 0) this.waiters.delete(uuid);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      set.add(done);
    });
  }

  /** Wake everyone (shutdown). */
  close(): void {
    for (const uuid of [...this.waiters.keys()]) this.notify(uuid);
  }
}
