import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConductorProcess } from '../../support/conductor-process.js';
import { uniquePrefix } from '../../support/fixtures.js';
import { RedisServer } from '../../support/redis-server.js';

/** Ironic's error body → its faultstring. */
const fault = (body: any): string => JSON.parse(body.error_message).faultstring;

const INSTANCE_A = '6f0f4a8e-3c52-4d0a-9d7e-2b4b0a1c9e11';
const INSTANCE_B = '0b7b4c1d-9a3e-4f25-8a6c-5d2e1f0a7b33';

/**
 * The node queries an Ironic client makes (Nova's driver, ironicclient, openstacksdk), against a real
 * conductor and Redis, checked against Ironic 21.4's semantics and messages.
 */
describe('node queries with Ironic’s semantics', () => {
  let redis: RedisServer;
  let c: ConductorProcess;
  const uuids: Record<string, string> = {};

  const node = async (name: string, extra: Record<string, unknown> = {}) => {
    const r = await c.api('POST', '/v1/nodes', { name, driver: 'ipmi', driver_info: { ipmi_address: '10.0.0.1', ipmi_password: 'pw' }, ...extra }, { 'X-OpenStack-Ironic-API-Version': '1.82' });
    if (r.status !== 201) throw new Error(`${r.status} ${r.text}`);
    uuids[name] = r.body.uuid;
  };
  const names = (body: any): string[] => body.nodes.map((n: any) => n.name);
  const list = async (query: string, version = '1.82') => {
    const r = await c.api('GET', `/v1/nodes${query}`, undefined, { 'X-OpenStack-Ironic-API-Version': version });
    return r;
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
    c = await ConductorProcess.start({ id: 'c-q', redisUrl: redis.url, prefix: uniquePrefix('q') });
    // q1..q6 in creation order; a spread of every filterable field
    await node('q1', { resource_class: 'gold', owner: 'pa', conductor_group: 'Rack1', instance_uuid: INSTANCE_A, description: 'GPU box' });
    await node('q2', { resource_class: 'silver', owner: 'pb', lessee: 'pa', maintenance: true, maintenance_reason: 'fan' });
    await node('q3', { resource_class: 'gold', lessee: 'pc', instance_uuid: INSTANCE_B, traits: ['CUSTOM_GPU'] });
    await node('q4', { owner: 'pb', shard: 'shard-1' });
    await node('q5', { resource_class: 'silver', shard: 'shard-2', instance_info: { image_source: 'glance://img', admin_password: 'secret' } });
    await node('q6', { driver: 'pxe_ipmitool_socat' });
  });
  afterAll(async () => {
    await c?.dispose();
    await redis?.stop();
  });

  it('filters as Ironic does, alone and combined', async () => {
    const cases: [string, string[]][] = [
      ['', ['q1', 'q2', 'q3', 'q4', 'q5', 'q6']],
      [`?instance_uuid=${INSTANCE_A}`, ['q1']],
      [`?instance_uuid=${INSTANCE_A.toUpperCase().replace(/-/g, '')}`, ['q1']],
      ['?instance_uuid=00000000-0000-4000-8000-000000000000', []],
      ['?associated=True', ['q1', 'q3']],
      ['?associated=false', ['q2', 'q4', 'q5', 'q6']],
      ['?maintenance=true', ['q2']],
      ['?maintenance=0', ['q1', 'q3', 'q4', 'q5', 'q6']],
      ['?retired=true', []],
      ['?retired=false', ['q1', 'q2', 'q3', 'q4', 'q5', 'q6']],
      ['?driver=ipmi', ['q1', 'q2', 'q3', 'q4', 'q5', 'q6']],
      ['?driver=redfish', []],
      ['?provision_state=enroll', ['q1', 'q2', 'q3', 'q4', 'q5', 'q6']],
      ['?provision_state=active', []],
      ['?resource_class=gold', ['q1', 'q3']],
      ['?conductor_group=rack1', ['q1']],
      ['?conductor_group=RACK1', ['q1']],
      ['?conductor_group=', ['q2', 'q3', 'q4', 'q5', 'q6']],
      ['?fault=power%20failure', []],
      ['?owner=pb', ['q2', 'q4']],
      ['?lessee=pa', ['q2']],
      ['?project=pa', ['q1', 'q2']],
      ['?description_contains=gpu', ['q1']],
      ['?shard=SHARD-1,shard-2', ['q4', 'q5']],
      ['?sharded=true', ['q4', 'q5']],
      ['?sharded=false', ['q1', 'q2', 'q3', 'q6']],
      ['?conductor=c-q', ['q2', 'q3', 'q4', 'q5', 'q6']], // q1's group rack1 has no conductor
      ['?conductor=nobody', []],
      ['?resource_class=silver&maintenance=false', ['q5']],
      ['?owner=pb&associated=false&maintenance=true', ['q2']],
    ];
    for (const [query, expected] of cases) {
      const r = await list(query);
      expect({ query, status: r.status, names: r.status === 200 ? names(r.body) : r.text }).toEqual({ query, status: 200, names: expected });
    }
  });

  it('looks a node up by instance_uuid on /v1/nodes/detail as Nova’s driver does, with no next link', async () => {
    const r = await list(`/detail?instance_uuid=${INSTANCE_B}&limit=1`);
    expect(r.status).toBe(200);
    expect(r.body.nodes).toHaveLength(1);
    expect(r.body.nodes[0]).toMatchObject({ name: 'q3', instance_uuid: INSTANCE_B, traits: ['CUSTOM_GPU'], resource_class: 'gold', maintenance: false });
    expect(r.body.next).toBeUndefined();
    // Nova's own fields (nova/virt/ironic/driver.py _NODE_FIELDS) on the plain list
    const fields = 'uuid,power_state,target_power_state,provision_state,target_provision_state,last_error,maintenance,properties,instance_uuid,traits,resource_class';
    const f = await list(`?instance_uuid=${INSTANCE_B}&fields=${fields}`);
    expect(f.body.nodes).toEqual([
      {
        uuid: uuids.q3,
        power_state: null,
        target_power_state: null,
        provision_state: 'enroll',
        target_provision_state: null,
        last_error: null,
        maintenance: false,
        properties: {},
        instance_uuid: INSTANCE_B,
        traits: ['CUSTOM_GPU'],
        resource_class: 'gold',
        links: expect.any(Array),
      },
    ]);
  });

  it('shows fields in Ironic’s order, links kept, on lists and on one node; masks instance secrets', async () => {
    const r = await list('?fields=driver,uuid,conductor,console_enabled&limit=1');
    expect(Object.keys(r.body.nodes[0])).toEqual(['uuid', 'driver', 'console_enabled', 'links', 'conductor']);
    expect(r.body.nodes[0]).toMatchObject({ uuid: uuids.q1, driver: 'ipmi', console_enabled: false, conductor: null });
    const one = await c.api('GET', `/v1/nodes/q5?fields=instance_info,name`);
    expect(one.body).toEqual({ instance_info: { image_source: 'glance://img', admin_password: '******' }, name: 'q5', links: expect.any(Array) });
    const full = await c.api('GET', '/v1/nodes/q5', undefined, { 'X-OpenStack-Ironic-API-Version': '1.82' });
    expect(full.body).toMatchObject({ shard: 'shard-2', instance_info: { admin_password: '******' }, owner: null, lessee: null, traits: [] });
    // a field newer than the requested version is not shown, and cannot be asked for
    const old = await c.api('GET', '/v1/nodes/q4', undefined, { 'X-OpenStack-Ironic-API-Version': '1.49' });
    expect(old.body.owner).toBeUndefined();
    expect(old.body.conductor).toBe('c-q');
    expect((await c.api('GET', '/v1/nodes/q4?fields=owner', undefined, { 'X-OpenStack-Ironic-API-Version': '1.49' })).status).toBe(406);
    expect((await c.api('GET', '/v1/nodes/q4?fields=name', undefined, { 'X-OpenStack-Ironic-API-Version': '1.7' })).status).toBe(406);
  });

  it('sorts by any sortable column, ties by creation, both directions', async () => {
    expect(names((await list('?sort_key=name&sort_dir=desc')).body)).toEqual(['q6', 'q5', 'q4', 'q3', 'q2', 'q1']);
    expect(names((await list('?sort_key=resource_class')).body)).toEqual(['q4', 'q6', 'q1', 'q3', 'q2', 'q5']); // NULL first
    expect(names((await list('?sort_key=resource_class&sort_dir=desc')).body)).toEqual(['q5', 'q2', 'q3', 'q1', 'q6', 'q4']);
    expect(names((await list('?sort_key=maintenance&sort_dir=desc&resource_class=silver')).body)).toEqual(['q2', 'q5']);
    expect(names((await list('?sort_dir=desc')).body)).toEqual(['q6', 'q5', 'q4', 'q3', 'q2', 'q1']);
  });

  it('pages with limit, marker and next links that keep the query, as ironicclient follows them', async () => {
    const seen: string[] = [];
    let url: string | undefined = '/v1/nodes?resource_class=silver&limit=1';
    const nexts: string[] = [];
    while (url) {
      const r: { status: number; body: any } = await c.api('GET', url);
      expect(r.status).toBe(200);
      seen.push(...names(r.body));
      url = r.body.next ? new URL(r.body.next).pathname + new URL(r.body.next).search : undefined;
      if (r.body.next) nexts.push(r.body.next);
    }
    expect(seen).toEqual(['q2', 'q5']);
    expect(nexts[0]).toBe(`${c.apiUrl}/v1/nodes?sort_key=id&sort_dir=asc&resource_class=silver&fields=instance_uuid,maintenance,power_state,provision_state,uuid,name&limit=1&marker=${uuids.q2}`);
    // unfiltered default order, by rank
    const p1 = await list('?limit=4');
    expect(names(p1.body)).toEqual(['q1', 'q2', 'q3', 'q4']);
    const p2 = await c.api('GET', new URL(p1.body.next).pathname + new URL(p1.body.next).search);
    expect(names(p2.body)).toEqual(['q5', 'q6']);
    expect(p2.body.next).toBeUndefined();
    expect((await list('/detail?limit=5')).body.next).toBe(`${c.apiUrl}/v1/nodes/detail?sort_key=id&sort_dir=asc&limit=5&marker=${uuids.q5}`);
    expect((await list('?detail=True&limit=6')).body.next).toBe(`${c.apiUrl}/v1/nodes?sort_key=id&sort_dir=asc&detail=True&limit=6&marker=${uuids.q6}`);
    // a marker that does not match the filters still positions the page (keyset), as in Ironic
    expect(names((await list(`?sort_key=name&marker=${uuids.q3}&resource_class=silver`)).body)).toEqual(['q5']);
    // a limit above Ironic's max_limit is capped, not refused
    expect(names((await list('?limit=99999999999999999999999')).body)).toHaveLength(6);
  });

  it('refuses every bad parameter with Ironic’s status and message, never a 500', async () => {
    const cases: [string, number, string, string?][] = [
      ['?limit=0', 400, 'Limit must be positive'],
      ['?limit=-5', 400, 'Limit must be positive'],
      ['?limit=ten', 400, 'Expected an integer for limit: ten'],
      ['?limit=1e3', 400, 'Expected an integer for limit: 1e3'],
      ['?marker=nope', 400, 'Expected UUID for marker: nope'],
      ['?marker=00000000-0000-4000-8000-000000000000', 404, 'Node 00000000-0000-4000-8000-000000000000 could not be found.'],
      ['?instance_uuid=xyz', 400, 'Expected UUID for instance_uuid: xyz'],
      ['?associated=perhaps', 400, "Invalid associated: Unrecognized value 'perhaps', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'"],
      ['?maintenance=', 400, "Invalid maintenance: Unrecognized value ''"],
      ['?sort_dir=up', 400, "Invalid sort direction: up. Acceptable values are 'asc' or 'desc'"],
      ['?sort_key=properties', 400, 'The sort_key value properties is an invalid field for sorting'],
      ['?sort_key=conductor', 400, 'The sort_key value "conductor" is an invalid field for sorting'],
      ['?sort_key=bogus', 400, 'The sort_key value "bogus" is an invalid field for sorting'],
      ['?sort_key=owner', 406, 'Request not acceptable.', '1.49'],
      ['?fields=bogus', 400, 'Field bogus is not a valid field.'],
      ['?fields=created_at', 400, 'Field created_at is not a valid field.'],
      ['?fields=name&detail=True', 400, 'Can not specify ?detail=True and fields in the same request.'],
      ['?detail=True', 400, 'Invalid query parameter ?detail=True received.', '1.42'],
      ['?detail=maybe', 400, "Invalid detail: Unrecognized value 'maybe'"],
      ['?provision_state=flying', 400, 'Provision state "flying" is not valid'],
      ['?fault=bad', 400, 'Unrecognized fault "bad" is specified, allowed faults are'],
      ['?driver=ipmi', 406, 'Request not acceptable. The minimal required API version should be 1.16', '1.15'],
      ['?resource_class=x', 406, 'Request not acceptable. The minimal required API version should be 1.21', '1.20'],
      ['?conductor_group=x', 406, 'Request not acceptable. The minimal required API version should be 1.46', '1.45'],
      ['?conductor=x', 406, 'Request not acceptable. The minimal required API version should be 1.49', '1.48'],
      ['?owner=x', 406, 'Request not acceptable. The minimal required API version should be 1.50', '1.49'],
      ['?lessee=x', 406, 'Request not acceptable. The minimal required API version should be 1.65', '1.64'],
      ['?shard=x', 406, 'Request not acceptable. The minimal required API version should be 1.82', '1.81'],
      ['?fields=name', 406, 'Request not acceptable.', '1.7'],
      ['?bogus=1&other=2', 400, 'Unexpected arguments: bogus, other'],
      ['?driver=a&driver=b', 400, "Expected string for driver: ['a', 'b']"],
      ['?chassis_uuid=00000000-0000-4000-8000-000000000000', 400, 'Chassis are not supported by this service'],
      ['/detail?fields=name', 400, 'Unexpected arguments: fields'],
      ['/detail?detail=True', 400, 'Unexpected arguments: detail'],
    ];
    for (const [query, status, message, version] of cases) {
      const r = await list(query, version ?? '1.82');
      expect({ query, status: r.status }).toEqual({ query, status });
      expect({ query, message: fault(r.body) }).toEqual({ query, message: expect.stringContaining(message) });
      expect(JSON.parse(r.body.error_message).faultcode).toBe('Client');
    }
  });

  it('single node: only `fields` is accepted, validated after the lookup', async () => {
    expect(fault((await c.api('GET', '/v1/nodes/q1?limit=1')).body)).toBe('Unexpected arguments: limit');
    expect((await c.api('GET', '/v1/nodes/nope?fields=bogus')).status).toBe(404);
    expect(fault((await c.api('GET', '/v1/nodes/q1?fields=bogus')).body)).toBe('Field bogus is not a valid field.');
  });

  it('keeps instance_uuid unique (Ironic’s 409) and writes the new fields with PATCH', async () => {
    const dup = await c.api('PATCH', '/v1/nodes/q4', [{ op: 'add', path: '/instance_uuid', value: INSTANCE_A }]);
    expect(dup.status).toBe(409);
    expect(fault(dup.body)).toBe(`Instance ${INSTANCE_A} is already associated with a node, it cannot be associated with this other node ${uuids.q4}`);
    const p = await c.api(
      'PATCH',
      '/v1/nodes/q6',
      [
        { op: 'add', path: '/instance_uuid', value: '9a0c0c1e-1b7e-4d0e-8c1e-7f6d5c4b3a21' },
        { op: 'add', path: '/instance_info/root_gb', value: 10 },
        { op: 'replace', path: '/resource_class', value: 'bronze' },
        { op: 'add', path: '/traits', value: ['CUSTOM_B', 'CUSTOM_A'] },
      ],
      { 'X-OpenStack-Ironic-API-Version': '1.82' },
    );
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({ instance_uuid: '9a0c0c1e-1b7e-4d0e-8c1e-7f6d5c4b3a21', instance_info: { root_gb: 10 }, resource_class: 'bronze', traits: ['CUSTOM_A', 'CUSTOM_B'] });
    expect(names((await list('?associated=true')).body)).toEqual(['q1', 'q3', 'q6']);
    // version gates on write: owner needs 1.50 (406), lessee 1.65
    expect((await c.api('PATCH', '/v1/nodes/q6', [{ op: 'add', path: '/owner', value: 'p' }], { 'X-OpenStack-Ironic-API-Version': '1.49' })).status).toBe(406);
    expect((await c.api('POST', '/v1/nodes', { driver: 'ipmi', lessee: 'p' }, { 'X-OpenStack-Ironic-API-Version': '1.64' })).status).toBe(406);
    const unmanaged = await c.api('PATCH', '/v1/nodes/q6', [{ op: 'replace', path: '/deploy_interface', value: 'ramdisk' }]);
    expect(unmanaged.status).toBe(400);
    expect(fault(unmanaged.body)).toMatch(/^Setting 'deploy_interface' is not supported by this service/);
  });

  it('maintenance and traits endpoints behave as Ironic’s', async () => {
    const put = await c.api('PUT', '/v1/nodes/q4/maintenance', { reason: 'PSU' });
    expect(put.status).toBe(202);
    expect(put.text).toBe('');
    expect((await c.api('GET', '/v1/nodes/q4')).body).toMatchObject({ maintenance: true, maintenance_reason: 'PSU' });
    expect((await c.api('PUT', '/v1/nodes/q4/maintenance', { reason: 5 })).status).toBe(400);
    expect((await c.api('DELETE', '/v1/nodes/q4/maintenance')).status).toBe(202);
    expect((await c.api('GET', '/v1/nodes/q4')).body).toMatchObject({ maintenance: false, maintenance_reason: null });

    expect((await c.api('PUT', '/v1/nodes/q4/traits', { traits: ['CUSTOM_Z', 'CUSTOM_Y'] })).status).toBe(204);
    const add = await c.api('PUT', '/v1/nodes/q4/traits/CUSTOM_X');
    expect(add.status).toBe(204);
    expect(add.headers.get('location')).toBe(`${c.apiUrl}/v1/nodes/q4/traits/CUSTOM_X`);
    expect((await c.api('GET', '/v1/nodes/q4/traits')).body).toEqual({ traits: ['CUSTOM_X', 'CUSTOM_Y', 'CUSTOM_Z'] });
    expect((await c.api('PUT', '/v1/nodes/q4/traits/lower')).status).toBe(400);
    const missing = await c.api('DELETE', '/v1/nodes/q4/traits/CUSTOM_NOPE');
    expect(missing.status).toBe(404);
    expect(fault(missing.body)).toBe(`Node ${uuids.q4} doesn't have a trait 'CUSTOM_NOPE'`);
    expect((await c.api('DELETE', '/v1/nodes/q4/traits/CUSTOM_Y')).status).toBe(204);
    expect((await c.api('GET', '/v1/nodes/q4/traits')).body).toEqual({ traits: ['CUSTOM_X', 'CUSTOM_Z'] });
    expect((await c.api('DELETE', '/v1/nodes/q4/traits')).status).toBe(204);
    expect((await c.api('GET', '/v1/nodes/q4/traits')).body).toEqual({ traits: [] });
    expect((await c.api('GET', '/v1/nodes/q4/traits', undefined, { 'X-OpenStack-Ironic-API-Version': '1.36' })).status).toBe(404);
  });

  it('conductors honour fields, detail and paging', async () => {
    const plain = await c.api('GET', '/v1/conductors');
    expect(plain.body.conductors).toEqual([{ hostname: 'c-q', conductor_group: '', links: expect.any(Array), alive: true }]);
    const detail = await c.api('GET', '/v1/conductors?detail=True');
    expect(Object.keys(detail.body.conductors[0])).toEqual(['created_at', 'updated_at', 'hostname', 'conductor_group', 'drivers', 'links', 'alive']);
    expect((await c.api('GET', '/v1/conductors?fields=hostname,alive')).body.conductors).toEqual([{ hostname: 'c-q', links: expect.any(Array), alive: true }]);
    expect((await c.api('GET', '/v1/conductors/c-q?fields=drivers')).body).toEqual({ drivers: ['ipmi'], links: expect.any(Array) });
    const limited = await c.api('GET', '/v1/conductors?limit=1');
    expect(limited.body.next).toBe(`${c.apiUrl}/v1/conductors?sort_key=id&sort_dir=asc&fields=hostname,conductor_group,alive&limit=1&marker=c-q`);
    const bad: [string, number, string][] = [
      ['?fields=bogus', 400, 'Field(s) "bogus" are not valid'],
      ['?fields=hostname&detail=True', 400, 'Can not specify ?detail=True and fields in the same request.'],
      ['?sort_key=alive', 400, 'The sort_key value alive is an invalid field for sorting'],
      ['?limit=0', 400, 'Limit must be positive'],
      ['?marker=nobody', 404, 'Conductor nobody could not be found.'],
      ['?detail=sure', 400, "Invalid detail: Unrecognized value 'sure', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'"],
      ['/c-q?fields=bogus', 400, 'Field(s) "bogus" are not valid'],
    ];
    for (const [query, status, message] of bad) {
      const r = await c.api('GET', `/v1/conductors${query}`);
      expect({ query, status: r.status, message: fault(r.body) }).toEqual({ query, status, message });
    }
  });
});
