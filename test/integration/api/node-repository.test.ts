import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { isSolgateError, newUuid } from '#libs/common';
import { NodeCatalog, NodeRepository, NodeService, validateNodeFields, type NodeRecord } from '#libs/nodes';
import { closeRedisClient, createRedisClient, Keys } from '#libs/redis';
import { uniquePrefix } from '../../support/fixtures.js';
import { RedisServer } from '../../support/redis-server.js';

/**
 * The node repository's Lua scripts against a real redis-server: the instance_uuid index Nova's
 * lookups use stays unique and clean, and only console fields bump the console stamp.
 */
describe('NodeRepository (Redis + Lua)', () => {
  let redis: RedisServer;
  let client: Redis;
  let keys: Keys;
  let repo: NodeRepository;
  let service: NodeService;

  beforeAll(async () => {
    redis = await RedisServer.start();
    client = createRedisClient(redis.url);
    keys = new Keys(uniquePrefix('repo'));
    repo = new NodeRepository(client, keys);
    service = new NodeService(repo);
  });
  afterAll(async () => {
    await closeRedisClient(client);
    await redis?.stop();
  });

  const create = (extra: Record<string, unknown> = {}) => service.create({ driver: 'ipmi', driver_info: { ipmi_address: '10.0.0.1' }, ...extra });
  const conflict = async (p: Promise<unknown>): Promise<string> => {
    const e = await p.then(
      () => undefined,
      (err: unknown) => err,
    );
    if (!isSolgateError(e) || e.code !== 'CONFLICT') throw new Error(`expected CONFLICT, got ${String(e)}`);
    return e.message;
  };

  it('keeps one node per instance_uuid and finds it with one lookup', async () => {
    const instance = newUuid();
    const a = await create({ instance_uuid: instance });
    expect(await repo.uuidForInstance(instance.toUpperCase())).toBe(a.uuid);
    const b = await create();
    expect(await conflict(create({ instance_uuid: instance }))).toMatch(
      new RegExp(`^Instance ${instance} is already associated with a node, it cannot be associated with this other node [0-9a-f-]{36}$`),
    );
    expect(await repo.all()).toHaveLength(2); // nothing stored for the refused create
    expect(await conflict(service.patch(b, [{ op: 'add', path: '/instance_uuid', value: instance }]))).toBe(
      `Instance ${instance} is already associated with a node, it cannot be associated with this other node ${b.uuid}`,
    );
    // moving the instance: clear it on a, then set it on b
    const a2 = await service.patch(a, [{ op: 'remove', path: '/instance_uuid' }]);
    expect(a2.instance_uuid).toBeNull();
    expect(await repo.uuidForInstance(instance)).toBeUndefined();
    await service.patch((await repo.get(b.uuid))!, [{ op: 'add', path: '/instance_uuid', value: instance }]);
    expect(await repo.uuidForInstance(instance)).toBe(b.uuid);
    // deleting the node frees the instance
    await repo.delete(b.uuid);
    expect(await repo.uuidForInstance(instance)).toBeUndefined();
    expect((await create({ instance_uuid: instance })).instance_uuid).toBe(instance);
  });

  it('bumps the console stamp only for fields a console is built from', async () => {
    const n = await create();
    const stamp0 = (await repo.stamps([n.uuid]))[0];
    expect(stamp0).toBe(NodeRepository.stampOf(n));
    const m = await service.patch(n, [
      { op: 'add', path: '/instance_info/image_source', value: 'glance://x' },
      { op: 'replace', path: '/maintenance', value: true },
      { op: 'add', path: '/extra/rack', value: 'r1' },
    ]);
    expect(m.rev).toBe(n.rev + 1);
    expect((await repo.stamps([n.uuid]))[0]).toBe(stamp0);
    expect(NodeRepository.stampOf((await repo.get(n.uuid))!)).toBe(stamp0);
    const d = await service.patch(m, [{ op: 'replace', path: '/driver_info/ipmi_address', value: '10.0.0.2' }]);
    const stamp2 = (await repo.stamps([n.uuid]))[0];
    expect(stamp2).not.toBe(stamp0);
    expect(NodeRepository.stampOf(d)).toBe(stamp2);
  });

  it('reads records written before the Ironic fields existed, with their defaults and a stable stamp', async () => {
    const uuid = newUuid();
    const old = { ...validateNodeFields({ driver: 'ipmi', driver_info: { ipmi_address: '10.0.0.9' }, uuid }) } as Record<string, unknown>;
    for (const k of ['instance_uuid', 'instance_info', 'maintenance', 'maintenance_reason', 'resource_class', 'owner', 'lessee', 'traits', 'shard']) delete old[k];
    await client.hset(keys.node(uuid), 'spec', JSON.stringify({ ...old, provision_state: 'enroll', created_at: 1 }), 'rev', 4, 'name', '', 'enabled', 0, 'generation', 2, 'updated_at', '');
    await client.zadd(keys.nodes(), 1, uuid);
    const n = (await repo.get(uuid)) as NodeRecord;
    expect(n).toMatchObject({ instance_uuid: null, instance_info: {}, maintenance: false, traits: [], console_rev: 4, rev: 4 });
    expect((await repo.stamps([uuid]))[0]).toBe('4.2');
    await service.patch(n, [{ op: 'add', path: '/owner', value: 'p1' }]);
    expect((await repo.stamps([uuid]))[0]).toBe('4.2'); // the first update of an old record keeps its console running
  });

  it('pages by rank in both directions and answers an unknown marker with Ironic’s 404', async () => {
    const all = await repo.listUuids();
    expect(all.length).toBeGreaterThanOrEqual(3);
    expect(await repo.listUuids({ limit: 2 })).toEqual(all.slice(0, 2));
    expect(await repo.listUuids({ limit: 2, marker: all[0] })).toEqual(all.slice(1, 3));
    expect(await repo.listUuids({ limit: 1, marker: all[all.length - 1], descending: true })).toEqual([all[all.length - 2]]);
    const missing = newUuid();
    await expect(repo.listUuids({ marker: missing })).rejects.toThrow(`Node ${missing} could not be found.`);
    expect((await repo.all()).map((n) => n.uuid)).toEqual(all);
  });

  it('the in-memory catalog follows every write through the node-changes log, reading only what changed', async () => {
    const catalog = new NodeCatalog(repo);
    const names = async () => (await catalog.all()).map((n) => n.name);
    const before = await repo.all();
    expect((await catalog.all()).map((n) => n.uuid)).toEqual(before.map((n) => n.uuid));
    const x = await create({ name: 'cat-x' });
    expect((await names()).at(-1)).toBe('cat-x');
    await service.patch(x, [{ op: 'add', path: '/owner', value: 'p9' }]);
    await repo.setConsoleIntent(x.uuid, true);
    const seen = (await catalog.all()).find((n) => n.uuid === x.uuid)!;
    expect(seen).toMatchObject({ owner: 'p9', console_enabled: true, console_generation: 1 });
    // only the changed node is re-read: count the reads
    const reads: string[][] = [];
    const getMany = repo.getMany.bind(repo);
    repo.getMany = async (uuids: string[]) => (reads.push(uuids), getMany(uuids));
    try {
      await repo.setConsoleIntent(x.uuid, false);
      expect((await catalog.all()).find((n) => n.uuid === x.uuid)!.console_enabled).toBe(false);
      expect(reads).toEqual([[x.uuid]]);
      await catalog.all();
      expect(reads).toHaveLength(1); // nothing changed: no read at all
    } finally {
      repo.getMany = getMany;
    }
    await repo.delete(x.uuid);
    expect(await names()).not.toContain('cat-x');
    // a Redis that lost its data (version back to 0) is read again from scratch
    await client.set(keys.nodesVersion(), '0');
    expect((await catalog.all()).map((n) => n.uuid)).toEqual((await repo.all()).map((n) => n.uuid));
  });
});
