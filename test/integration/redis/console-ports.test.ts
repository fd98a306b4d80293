import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { newUuid } from '#libs/common';
import { ConsolePortRepository, NodeRepository, NodeService, type NodeRecord } from '#libs/nodes';
import { Keys } from '#libs/redis';
import { uniquePrefix } from '../../support/fixtures.js';
import { RedisServer } from '../../support/redis-server.js';

/**
 * Sticky console ports against a real redis-server (the Lua scripts createNode, updateNode,
 * deleteNode and allocateConsolePort): one port per node for as long as it exists, never shared,
 * fixed ports reserved on write (409), freed ports reused lowest first.
 */
describe('sticky console ports (Redis)', () => {
  let server: RedisServer;
  let redis: Redis;
  let keys: Keys;
  let nodes: NodeRepository;
  let service: NodeService;
  let ports: ConsolePortRepository;
  const range = { start: 20000, stop: 20005 };

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    await redis.quit();
    await server.stop();
  });
  beforeEach(() => {
    keys = new Keys(uniquePrefix('ports'));
    nodes = new NodeRepository(redis, keys);
    service = new NodeService(nodes);
    ports = new ConsolePortRepository(redis, keys);
  });

  const create = (terminalPort?: number) =>
    service.create({ uuid: newUuid(), driver: 'ipmi', driver_info: { ipmi_address: '10.0.0.1', ...(terminalPort ? { ipmi_terminal_port: terminalPort } : {}) } });
  const fresh = async (n: NodeRecord) => (await nodes.get(n.uuid))!;

  it('hands out the range in order, one port per node, and a node keeps its port on every later ask', async () => {
    const a = await create();
    const b = await create();
    expect(await ports.allocate(a, range)).toBe(20000);
    expect(await ports.allocate(b, range)).toBe(20001);
    for (let i = 0; i < 3; i++) expect(await ports.allocate(await fresh(a), range)).toBe(20000);
    expect((await fresh(a)).allocated_port).toBe(20000);
    expect(Object.fromEntries(await ports.holders())).toEqual({ 20000: a.uuid, 20001: b.uuid });
  });

  it('keeps the port across disable → enable (intent changes do not touch it)', async () => {
    const a = await create();
    const port = await ports.allocate(a, range);
    await nodes.setConsoleIntent(a.uuid, true);
    await nodes.setConsoleIntent(a.uuid, false);
    await nodes.setConsoleIntent(a.uuid, true);
    expect((await fresh(a)).allocated_port).toBe(port);
    expect(await ports.allocate(await fresh(a), range)).toBe(port);
  });

  it('frees the port when the node is deleted; the lowest freed port is handed out next', async () => {
    const [a, b, c] = [await create(), await create(), await create()];
    for (const n of [a, b, c]) await ports.allocate(n, range);
    await nodes.delete(b.uuid);
    await nodes.delete(a.uuid);
    expect([...(await ports.holders()).keys()]).toEqual([20002]);
    const d = await create();
    const e = await create();
    const f = await create();
    expect([await ports.allocate(d, range), await ports.allocate(e, range), await ports.allocate(f, range)]).toEqual([20000, 20001, 20003]);
  });

  it('reserves a fixed ipmi_terminal_port on create; a second node asking for it gets 409 and nothing is stored', async () => {
    const a = await create(30000);
    expect(a.allocated_port).toBe(30000);
    expect(await ports.allocate(a, range)).toBe(30000);
    const before = await nodes.count();
    await expect(create(30000)).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining(`allocated to node ${a.uuid}`) });
    expect(await nodes.count()).toBe(before);
  });

  it('a fixed port inside the range is skipped by the allocator', async () => {
    await create(20000);
    const b = await create();
    expect(await ports.allocate(b, range)).toBe(20001);
  });

  it('PATCH to a port another node holds: 409, nothing changed; to a free one: moved, the old one freed; removed: back to the range', async () => {
    const a = await create();
    const b = await create();
    const pa = await ports.allocate(a, range);
    await ports.allocate(b, range);
    const bNode = await fresh(b);
    await expect(service.patch(bNode, [{ op: 'add', path: '/driver_info/ipmi_terminal_port', value: pa }])).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await fresh(b)).rev).toBe(bNode.rev);
    const moved = await service.patch(bNode, [{ op: 'add', path: '/driver_info/ipmi_terminal_port', value: 31000 }]);
    expect(moved.allocated_port).toBe(31000);
    expect((await ports.holders()).get(20001)).toBeUndefined();
    const back = await service.patch(await fresh(b), [{ op: 'remove', path: '/driver_info/ipmi_terminal_port' }]);
    expect(back.allocated_port).toBeNull();
    expect(await ports.allocate(back, range)).toBe(20001);
    expect((await ports.holders()).get(31000)).toBeUndefined();
  });

  it('a node created before sticky ports with a fixed port another node already holds: CONFLICT at allocation, naming the holder', async () => {
    const a = await create();
    await ports.allocate(a, range);
    const legacy = await create();
    await redis.hset(keys.node(legacy.uuid), 'spec', JSON.stringify({ ...JSON.parse((await redis.hget(keys.node(legacy.uuid), 'spec'))!), driver_info: { ipmi_address: '10.0.0.1', ipmi_terminal_port: 20000 } }));
    await expect(ports.allocate(await fresh(legacy), range)).rejects.toMatchObject({ reason: 'CONFLICT', message: expect.stringContaining(a.uuid) });
  });

  it('says EXHAUSTED when every port of the range is held, and recovers when one is freed', async () => {
    const all: NodeRecord[] = [];
    for (let i = 0; i < 5; i++) {
      const n = await create();
      await ports.allocate(n, range);
      all.push(n);
    }
    const late = await create();
    await expect(ports.allocate(late, range)).rejects.toMatchObject({ reason: 'EXHAUSTED' });
    await nodes.delete(all[3].uuid);
    expect(await ports.allocate(late, range)).toBe(20003);
  });

  it('a new range (cluster restarted with another SOLGATE_PORT_RANGE): ports outside it are given back and reallocated inside', async () => {
    const a = await create();
    expect(await ports.allocate(a, range)).toBe(20000);
    expect(await ports.allocate(await fresh(a), { start: 25000, stop: 25010 })).toBe(25000);
    expect([...(await ports.holders()).keys()]).toEqual([25000]);
  });

  it('never gives two nodes one port, however many ask at once', async () => {
    const many = await Promise.all(Array.from({ length: 40 }, () => create()));
    const wide = { start: 21000, stop: 21100 };
    const got = await Promise.all(many.map((n) => ports.allocate(n, wide)));
    expect(new Set(got).size).toBe(40);
    expect(Math.max(...got)).toBe(21039);
  });
});
