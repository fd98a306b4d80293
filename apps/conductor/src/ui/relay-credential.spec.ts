import { describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { RelayCredentials } from './relay-credential.js';

/** Just what RelayCredentials uses of Redis, counting the commands. */
function fakeRedis() {
  const store = new Map<string, string>();
  const calls = { set: 0, get: 0 };
  const redis = {
    async set(k: string, v: string) {
      calls.set++;
      if (!store.has(k)) store.set(k, v);
      return 'OK';
    },
    async get(k: string) {
      calls.get++;
      return store.get(k) ?? null;
    },
  } as unknown as Redis;
  return { redis, calls, store };
}

describe('RelayCredentials', () => {
  it('verifies what it signed, for that path only', async () => {
    const { redis } = fakeRedis();
    const r = new RelayCredentials(redis, 'k');
    const cred = await r.sign({ from: 'c-1', clientAddress: '192.0.2.9' }, '/ui/ws/nodes/n1/console');
    expect(await r.verify(cred, '/ui/ws/nodes/n1/console')).toEqual({ from: 'c-1', clientAddress: '192.0.2.9' });
    expect(await r.verify(cred, '/ui/ws/nodes/n2/console')).toBeUndefined();
  });

  it('does not turn a flood of forged credentials into Redis commands (one re-read of the secret per 5 s)', async () => {
    const { redis, calls } = fakeRedis();
    const r = new RelayCredentials(redis, 'k');
    await r.sign({ from: 'c-1', clientAddress: 'x' }, '/p'); // secret loaded
    const before = calls.get + calls.set;
    const forged = `v1.c-1.${Date.now()}.eA.${'A'.repeat(43)}`;
    for (let i = 0; i < 200; i++) expect(await r.verify(forged, '/p')).toBeUndefined();
    expect(calls.get + calls.set - before).toBeLessThanOrEqual(2); // one refresh: SET NX + GET
  });

  it('still picks up a replaced secret (a new Redis) on a mismatch', async () => {
    const a = fakeRedis();
    const signer = new RelayCredentials(a.redis, 'k');
    const cred = await signer.sign({ from: 'c-1', clientAddress: 'x' }, '/p');
    const b = fakeRedis();
    const verifier = new RelayCredentials(b.redis, 'k');
    await verifier.sign({ from: 'c-2', clientAddress: 'y' }, '/p'); // loads its own secret
    b.store.set('k', a.store.get('k')!); // Redis replaced: the cluster secret is a's now
    expect(await verifier.verify(cred, '/p')).toEqual({ from: 'c-1', clientAddress: 'x' });
  });
});
