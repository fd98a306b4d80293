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
