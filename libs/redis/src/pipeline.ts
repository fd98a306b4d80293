import type { Redis } from 'ioredis';

/**
 * HGETALL of many keys in one round trip (a pipeline), in the order given; a missing key gives {}.
 * The first command error is thrown, so callers never mistake a failed read for an empty hash.
 */
export async function pipelineHgetall(redis: Redis, keys: readonly string[]): Promise<Record<string, string>[]> {
  if (keys.length === 0) return [];
  const pipe = redis.pipeline();
  for (const k of keys) pipe.hgetall(k);
  const res = (await pipe.exec()) ?? [];
  return res.map(([err, h]) => {
    if (err) throw err;
    return h as Record<string, string>;
  });
}
