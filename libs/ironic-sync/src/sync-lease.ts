import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { monotonicMs } from '#libs/common';
import { registerLuaScripts, runScript, type Keys } from '#libs/redis';

export type LeaseStatus = { held: true; epoch: number; taken: boolean } | { held: false; epoch: number; holder: string };

/**
 * A cluster-wide lease so that one conductor at a time runs the periodic Ironic sync. Taken and
 * renewed by a Lua compare-and-set on a random per-process token (acquireLease-2.lua), released only
 * by that token (releaseLease-1.lua). The holder also fences itself on its own monotonic clock: it
 * counts the lease from *before* the Redis call that granted it, minus a safety margin, and stops
 * writing the moment that deadline passes even if Redis is unreachable (`held()`), so two
 * conductors never write at once unless clocks run more than the margin apart.
 */
export class SyncLease {
  readonly token = randomBytes(16).toString('hex');
  private deadline = 0;
  epoch = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    readonly name: string,
    readonly holder: string,
    readonly ttlMs: number,
    private readonly now: () => number = monotonicMs,
  ) {
    registerLuaScripts(redis);
  }

  /** Take or renew; on success the local deadline moves to (time before the call) + ttl − margin. */
  async acquire(): Promise<LeaseStatus> {
    const t0 = this.now();
    const [status, epoch, holder] = await runScript<[string, string, string]>(
      this.redis,
      'acquireLease',
      [this.keys.lease(this.name), this.keys.leaseEpoch(this.name)],
      [this.token, this.holder, this.ttlMs],
    );
    if (status === 'BUSY') {
      this.deadline = 0;
      return { held: false, epoch: Number(epoch), holder };
    }
    this.epoch = Number(epoch);
    this.deadline = t0 + this.ttlMs - Math.max(500, this.ttlMs / 5);
    return { held: true, epoch: this.epoch, taken: status === 'TAKEN' };
  }

  /** Whether this process may still act as the holder (local clock only: no Redis round trip). */
  held(): boolean {
    return this.now() < this.deadline;
  }

  /** Give it up (only if still ours). Never throws. */
  async release(): Promise<void> {
    this.deadline = 0;
    await runScript(this.redis, 'releaseLease', [this.keys.lease(this.name)], [this.token]).catch(() => undefined);
  }
}
