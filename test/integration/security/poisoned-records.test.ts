import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { ConsoleStatusRepository, NodeRepository } from '#libs/nodes';
import { ClaimRepository } from '#libs/cluster';
import { Keys, RecordProblems } from '#libs/redis';
import { ConductorProcess } from '../../support/conductor-process.js';
import { uniquePrefix, waitConsoleUrl } from '../../support/fixtures.js';
import { RedisServer } from '../../support/redis-server.js';
import { waitFor } from '../../support/wait.js';
import { cliFor } from '../cli/cli-harness.js';

const PASSWORD = 'poison-pw-Secret9';

/**
 * Finding 3 of the hardening issue: one node record that does not parse made every reconcile pass
 * fail (so a crashed conductor's consoles were not taken over), GET /v1/nodes answer 400
 * "Malformed JSON in the request body", and `solgate nodes list`/`doctor` fail; a key of the wrong
 * type or a non-uuid index member gave 500s and WRONGTYPE. Now every reader skips and reports a bad
 * record, and no other node notices.
 */
describe('security: poisoned records in Redis', () => {
  let redis: RedisServer;
  let client: Redis;
  let c1: ConductorProcess;
  let c2: ConductorProcess;
  const prefix = uniquePrefix('poison');
  const keys = new Keys(prefix);
  const cli = () => cliFor(redis.url, prefix);
  const good: string[] = [];
  const badJson = randomUUID();
  const wrongType = randomUUID();
  const badStatus = randomUUID();

  const create = async (uuid: string, name: string) => {
    const r = await c1.api('POST', '/v1/nodes', { uuid, name, driver: 'ipmi', driver_info: { ipmi_address: '127.0.0.1', ipmi_port: 9, ipmi_username: 'admin', ipmi_password: PASSWORD } });
    if (r.status !== 201) throw new Error(`create ${name}: ${r.status} ${r.text}`);
    expect((await c1.api('PUT', `/v1/nodes/${uuid}/states/console`, { enabled: true })).status).toBe(202);
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
    client = new Redis(redis.url);
    c1 = await ConductorProcess.start({ id: 'p1', redisUrl: redis.url, prefix, address: '127.0.0.1', portRange: { start: 21000, stop: 21100 } });
    c2 = await ConductorProcess.start({ id: 'p2', redisUrl: redis.url, prefix, address: '127.0.0.2', portRange: { start: 21000, stop: 21100 } });
    for (let i = 0; i < 6; i++) {
      const uuid = randomUUID();
      good.push(uuid);
      await create(uuid, `good-${i}`);
    }
    for (const [uuid, name] of [[badJson, 'bad-json'], [wrongType, 'wrong-type'], [badStatus, 'bad-status']] as const) await create(uuid, name);
    for (const u of [...good, badJson, wrongType, badStatus]) await waitConsoleUrl(c1, u, 20_000);

    // the poison: bad JSON in a spec (with the password in it), a node key of another type, a
    // status key of another type, and members that are not node uuids in every index
    await client.hset(keys.node(badJson), 'spec', `{"uuid": "${badJson}", "driver_info": {"ipmi_password": "${PASSWORD}"`);
    await client.del(keys.node(wrongType));
    await client.set(keys.node(wrongType), 'not a hash');
    await client.del(keys.consoleState(badStatus));
    await client.rpush(keys.consoleState(badStatus), 'not a hash');
    await client.zadd(keys.nodes(), 1, 'not-a-uuid');
    await client.zadd(keys.nodes(), 2, `${keys.prefix}:x`);
    await client.sadd(keys.consoleEnabled(), 'garbage');
    await client.hset(keys.nodeNames(), 'junk-name', 'zzz');
    await client.incr(keys.nodesVersion()); // conductors re-read everything
  }, 120_000);

  afterAll(async () => {
    await c1?.dispose();
    await c2?.dispose();
    client?.disconnect();
    await redis?.stop();
  });

  it('repositories skip and report the bad records; the others read normally', async () => {
    const problems = new RecordProblems();
    const nodes = new NodeRepository(client, keys, problems);
    const listed = await nodes.listUuids();
    expect(listed).not.toContain('not-a-uuid');
    const read = await nodes.getMany(listed);
    expect(read.map((n) => n.uuid).sort()).toEqual([...good, badStatus].sort());
    expect((await nodes.consoleEnabledUuids()).sort()).toEqual([...good, badJson, wrongType, badStatus].sort());
    const stub = await nodes.get(badJson);
    expect(stub).toMatchObject({ uuid: badJson, console_enabled: false, console_interface: 'no-console', driver_info: {} });
    expect(stub!.record_error).toMatch(/unreadable \(spec is not valid JSON/);
    expect((await nodes.get(wrongType))!.record_error).toMatch(/another Redis type than a hash/);
    expect(await nodes.listUuids({ limit: 3 })).toHaveLength(3); // pages are filled past the junk member
    const statuses = await new ConsoleStatusRepository(client, keys, problems).getMany([good[0], badStatus]);
    expect(statuses[0].state).toBe('running');
    expect(statuses[1]).toMatchObject({ state: 'stopped', last_error: expect.stringMatching(/unreadable/) });
    expect(await new ClaimRepository(client, keys, problems).getMany([good[0]])).toHaveLength(1);
    const reported = problems.current().map((p) => `${p.key} ${p.problem}`).join('\n');
    for (const k of [keys.node(badJson), keys.node(wrongType), keys.consoleState(badStatus), keys.nodes(), keys.consoleEnabled()]) expect(reported).toContain(k);
    expect(reported).not.toContain(PASSWORD);
  });

  it('the API lists, details and shows without failing; a bad record shows why and cannot be patched', async () => {
    const list = await c1.api('GET', '/v1/nodes');
    expect(list.status).toBe(200);
    expect(list.body.nodes.map((n: { uuid: string }) => n.uuid).sort()).toEqual([...good, badStatus].sort());
    const detail = await c2.api('GET', '/v1/nodes/detail');
    expect(detail.status).toBe(200);
    expect(detail.body.nodes.find((n: { uuid: string }) => n.uuid === badStatus).last_error).toMatch(/console state of this node is unreadable/);
    const paged = await c1.api('GET', '/v1/nodes?limit=4');
    expect(paged.body.nodes).toHaveLength(4);
    const one = await c1.api('GET', `/v1/nodes/${badJson}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ uuid: badJson, console_enabled: false, last_error: expect.stringMatching(/unreadable.*delete it and enrol the node again/) });
    const byName = await c1.api('GET', '/v1/nodes/junk-name');
    expect(byName.status).toBe(404);
    const patch = await c1.api('PATCH', `/v1/nodes/${badJson}`, [{ op: 'replace', path: '/description', value: 'x' }]);
    expect(patch.status).toBe(409);
    for (const r of [list, detail, one, patch]) expect(r.text).not.toContain(PASSWORD);
    const metrics = await (await fetch(`${c1.apiUrl}/metrics`)).text();
    expect(Number(/^solgate_unreadable_records (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(4);
    expect(Number(/^solgate_unreadable_record_reads_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
  });

  it('reconcile passes go on: good consoles keep running, a new one starts, and a crashed conductor’s are taken over', async () => {
    const fresh = randomUUID();
    await create(fresh, 'fresh');
    await waitConsoleUrl(c2, fresh, 20_000);
    const before = await Promise.all(good.map(async (u) => (await c1.api('GET', `/v1/nodes/${u}`)).body.conductor as string));
    expect(before).toContain('p1');
    await c1.kill9();
    await waitFor(
      async () => {
        const docs = await Promise.all([...good, fresh].map(async (u) => (await c2.api('GET', `/v1/nodes/${u}/states/console`)).body));
        return docs.every((d) => d.console_enabled && typeof d.console_info?.url === 'string' && d.console_info.url.includes('127.0.0.2'));
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'p2 to serve every good console after p1 crashed' },
    );
    expect(c2.logs).toContain('skipping an unreadable record');
    expect(c2.logs).not.toContain(PASSWORD);
    expect(c2.logs).not.toMatch(/reconcile pass failed/);
  }, 60_000);

  it('`solgate nodes list` works and says what it skipped; `doctor` names every bad record; `nodes delete` removes one', async () => {
    const list = await cli()(['nodes', 'list', '-o', 'json']);
    expect(list.code).toBe(0);
    expect(list.json<{ uuid: string }[]>().map((n) => n.uuid)).not.toContain(badJson);
    expect(list.stderr).toMatch(/skipped \d+ unreadable records? in Redis/);
    const doctor = await cli()(['doctor', '--skip-binaries', '-o', 'json']);
    expect(doctor.code).toBe(1);
    const findings = doctor.json<{ level: string; check: string; subject: string; message: string }[]>().filter((f) => f.check === 'record');
    const text = findings.map((f) => `${f.level} ${f.subject} ${f.message}`).join('\n');
    expect(text).toContain(`fail ${badJson} ${keys.node(badJson)}: spec is not valid JSON`);
    expect(text).toContain(`fail ${wrongType} ${keys.node(wrongType)}: the key holds a string, not a hash`);
    expect(text).toContain(`fail ${badStatus} ${keys.consoleState(badStatus)}: the key holds a list, not a hash`);
    expect(text).toContain('member "not-a-uuid" is not a node uuid');
    expect(text).toContain('member "garbage" is not a node uuid');
    expect(text).toContain('maps to "zzz", not a node uuid');
    expect(doctor.stdout + doctor.stderr).not.toContain(PASSWORD);
    const show = await cli()(['nodes', 'show', badJson, '-o', 'json']);
    expect(show.code).toBe(0);
    expect(show.json().last_error).toMatch(/unreadable/);
    const del = await cli()(['nodes', 'delete', badJson, wrongType]);
    expect({ code: del.code, stderr: del.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(await client.exists(keys.node(badJson), keys.node(wrongType))).toBe(0);
  }, 60_000);
});
