import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '#libs/common';
import { KeyedQueue } from './keyed-queue.js';

/** A worker whose calls finish when the test says so. */
function worker() {
  const calls: string[] = [];
  const pending: Array<() => void> = [];
  let inFlight = 0;
  let maxPerKey = 0;
  const perKey = new Map<string, number>();
  const fn = async (key: string) => {
    calls.push(key);
    inFlight++;
    perKey.set(key, (perKey.get(key) ?? 0) + 1);
    maxPerKey = Math.max(maxPerKey, perKey.get(key)!);
    await new Promise<void>((r) => pending.push(r));
    perKey.set(key, perKey.get(key)! - 1);
    inFlight--;
  };
  return { fn, calls, release: () => pending.shift()?.(), releaseAll: () => pending.splice(0).forEach((r) => r()), get inFlight() { return inFlight; }, get maxPerKey() { return maxPerKey; } };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('KeyedQueue', () => {
  it('runs one call per key at a time; adds while it runs coalesce into one more run', async () => {
    const w = worker();
    const q = new KeyedQueue(w.fn, () => undefined);
    q.add('a');
    q.add('a');
    q.add('a');
    q.add('b');
    await tick();
    expect(w.calls).toEqual(['a', 'b']);
    w.releaseAll();
    await tick();
    await tick();
    expect(w.calls).toEqual(['a', 'b', 'a']);
    w.releaseAll();
    await q.whenIdle();
    expect(w.maxPerKey).toBe(1);
    expect(q.active).toBe(0);
  });

  it('addAfter: the earliest pending delay wins; cancelDelayed drops them; 0 means now', async () => {
    const clock = new ManualClock();
    const w = worker();
    const q = new KeyedQueue(w.fn, () => undefined, clock);
    q.addAfter('a', 500);
    q.addAfter('a', 100);
    q.addAfter('a', 900);
    clock.advance(99);
    await tick();
    expect(w.calls).toEqual([]);
    clock.advance(1);
    await tick();
    expect(w.calls).toEqual(['a']);
    w.releaseAll();
    clock.advance(10_000);
    await tick();
    expect(w.calls).toEqual(['a']);
    q.addAfter('b', 50);
    q.cancelDelayed();
    clock.advance(100);
    q.addAfter('c', 0);
    await tick();
    expect(w.calls).toEqual(['a', 'c']);
    w.releaseAll();
    await q.whenIdle();
  });

  it('reports a worker error and keeps going; after close nothing new runs', async () => {
    const errors: string[] = [];
    let n = 0;
    const q = new KeyedQueue(
      async () => {
        if (++n === 1) throw new Error('boom');
      },
      (k, e) => errors.push(`${k}: ${(e as Error).message}`),
    );
    q.add('x');
    await q.whenIdle();
    q.add('x');
    await q.whenIdle();
    expect(errors).toEqual(['x: boom']);
    expect(n).toBe(2);
    q.close();
    q.add('x');
    await q.whenIdle();
    expect(n).toBe(2);
  });
});
