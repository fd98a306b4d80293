import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { pipelineHgetall } from '#libs/redis';
import { uniquePrefix } from '../../support/fixtures.js';
import { RedisServer } from '../../support/redis-server.js';

describe('pipelineHgetall against a real redis-server', () => {
  let server: RedisServer;
  let redis: Redis;

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = server.client();
  });

  afterAll(async () => {
    await redis?.quit();
    await server?.stop();
  });

  it('reads many hashes in the order given, {} for a missing key, nothing for no keys', async () => {
    const p = uniquePrefix('pipe');
    await redis.hset(`${p}:a`, { x: '1' });
    await redis.hset(`${p}:c`, { y: '2', z: '3' });
    expect(await pipelineHgetall(redis, [`${p}:c`, `${p}:b`, `${p}:a`])).toEqual([{ y: '2', z: '3' }, {}, { x: '1' }]);
    expect(await pipelineHgetall(redis, [])).toEqual([]);
  });

  it('throws a command error instead of returning an empty hash', async () => {
    const p = uniquePrefix('pipe');
    await redis.set(`${p}:s`, 'a string');
    await expect(pipelineHgetall(redis, [`${p}:s`])).rejects.toThrow(/WRONGTYPE/);
  });
});
