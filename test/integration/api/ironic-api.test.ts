import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '#libs/common';
import { ConductorProcess } from '../../support/conductor-process.js';
import { uniquePrefix } from '../../support/fixtures.js';
import { findProcesses } from '../../support/procs.js';
import { RedisServer } from '../../support/redis-server.js';

const execFileP = promisify(execFile);

/** Ironic's error body: {"error_message": "<JSON with faultcode, faultstring, debuginfo>"}. */
function fault(body: any): { faultcode: string; faultstring: string; debuginfo: null } {
  expect(typeof body.error_message).toBe('string');
  return JSON.parse(body.error_message);
}

const goodNode = (name: string, info: Record<string, unknown> = {}) => ({
  name,
  driver: 'ipmi',
  console_interface: 'ipmitool-socat',
  driver_info: { ipmi_address: '127.0.0.1', ipmi_port: 9999, ipmi_username: 'admin', ipmi_password: 'pw', ipmi_cipher_suite: 3, ...info },
});

describe('Ironic-compatible API', () => {
  let redis: RedisServer;
  let c: ConductorProcess;

  beforeAll(async () => {
    redis = await RedisServer.start();
    c = await ConductorProcess.start({ id: 'c-api', redisUrl: redis.url, prefix: uniquePrefix('api') });
  });
  afterAll(async () => {
    await c?.dispose();
    await redis?.stop();
  });

  it('serves the version documents and the microversion headers on every /v1 response', async () => {
    const root = await c.api('GET', '/', undefined, { 'X-OpenStack-Ironic-API-Version': '' });
    expect(root.status).toBe(200);
    expect(root.body.default_version).toMatchObject({ id: 'v1', min_version: '1.1', version: '1.82' });
    for (const path of ['/v1', '/v1/']) {
      const r = await fetch(`${c.apiUrl}${path}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('x-openstack-ironic-api-minimum-version')).toBe('1.1');
      expect(r.headers.get('x-openstack-ironic-api-maximum-version')).toBe('1.82');
      expect(r.headers.get('x-openstack-ironic-api-version')).toBe('1.1');
      expect(r.headers.get('openstack-request-id')).toMatch(/^req-[0-9a-f-]{36}$/);
    }
    const err = await c.api('GET', '/v1/nodes/nope');
    expect(err.status).toBe(404);
    expect(err.headers.get('x-openstack-ironic-api-version')).toBe('1.78');
    expect(fault(err.body)).toEqual({ faultcode: 'Client', faultstring: 'Node nope could not be found.', debuginfo: null });
  });

  it('answers 406 for microversions out of range or malformed, as Ironic words it', async () => {
    const high = await c.api('GET', '/v1/nodes', undefined, { 'X-OpenStack-Ironic-API-Version': '9.99' });
    expect(high.status).toBe(406);
    expect(high.headers.get('x-openstack-ironic-api-maximum-version')).toBe('1.82');
    expect(high.headers.get('x-openstack-ironic-api-version')).toBeNull();
    expect(JSON.parse(high.body.error_message).description).toMatch(/Version 9.99 requested but not supported.*\[1\.1, 1\.82\]/);
    const bad = await c.api('GET', '/v1/nodes', undefined, { 'X-OpenStack-Ironic-API-Version': 'abc' });
    expect(bad.status).toBe(406);
    expect(JSON.parse(bad.body.error_message).description).toBe('Invalid value for X-OpenStack-Ironic-API-Version header');
    const latest = await c.api('GET', '/v1/nodes', undefined, { 'X-OpenStack-Ironic-API-Version': 'latest' });
    expect(latest.headers.get('x-openstack-ironic-api-version')).toBe('1.82');
  });

  it('creates, shows, patches and deletes a node in Ironic’s shape, masking the password', async () => {
    const r = await c.api('POST', '/v1/nodes', goodNode('node-a'));
    expect(r.status).toBe(201);
    expect(r.headers.get('location')).toBe(`${c.apiUrl}/v1/nodes/${r.body.uuid}`);
    expect(r.body).toMatchObject({ name: 'node-a', driver: 'ipmi', console_interface: 'ipmitool-socat', console_enabled: false, provision_state: 'enroll', conductor: 'c-api', last_error: null });
    expect(r.body.driver_info).toEqual({ ipmi_address: '127.0.0.1', ipmi_port: 9999, ipmi_username: 'admin', ipmi_password: '******', ipmi_cipher_suite: 3 });
    expect(r.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);

    const byName = await c.api('GET', '/v1/nodes/node-a');
    expect(byName.body).toEqual((await c.api('GET', `/v1/nodes/${r.body.uuid}`)).body);
    // Before 1.5 names are not identifiers; fields newer than the requested version are absent.
    expect((await c.api('GET', '/v1/nodes/node-a', undefined, { 'X-OpenStack-Ironic-API-Version': '1.1' })).status).toBe(404);
    const old = await c.api('GET', `/v1/nodes/${r.body.uuid}`, undefined, { 'X-OpenStack-Ironic-API-Version': '1.1' });
    expect(old.body.name).toBeUndefined();
    expect(old.body.console_enabled).toBe(false);

    const patched = await c.api('PATCH', '/v1/nodes/node-a', [{ op: 'replace', path: '/driver_info/ipmi_port', value: 9101 }, { op: 'add', path: '/extra/rack', value: 'r1' }]);
    expect(patched.status).toBe(200);
    expect(patched.body.driver_info.ipmi_port).toBe(9101);
    expect(patched.body.extra).toEqual({ rack: 'r1' });
    expect(patched.body.updated_at).not.toBeNull();

    const list = await c.api('GET', '/v1/nodes');
    expect(list.body.nodes.find((n: any) => n.uuid === r.body.uuid)).toEqual({
      uuid: r.body.uuid, instance_uuid: null, maintenance: false, power_state: null, provision_state: 'enroll', name: 'node-a', links: expect.any(Array),
    });
    expect((await c.api('GET', '/v1/nodes/detail')).body.nodes[0].driver_info.ipmi_password).toBe('******');

    const del = await c.api('DELETE', '/v1/nodes/node-a');
    expect(del.status).toBe(204);
    expect((await c.api('GET', `/v1/nodes/${r.body.uuid}`)).status).toBe(404);
  });

  it('maps legacy driver names onto ipmi + ipmitool-socat', async () => {
    const r = await c.api('POST', '/v1/nodes', { driver: 'pxe_ipmitool_socat', driver_info: { ipmi_address: 'bmc-1.example.com' } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ driver: 'ipmi', console_interface: 'ipmitool-socat' });
    await c.api('DELETE', `/v1/nodes/${r.body.uuid}`);
  });

  it('refuses bad input with 4xx and Ironic’s error body, storing nothing and starting nothing', async () => {
    const before = (await c.api('GET', '/v1/nodes')).body.nodes.length;
    const cases: Array<[string, unknown, number, RegExp]> = [
      ['malformed JSON', '{"name": "node-x", "driver": ', 400, /Malformed JSON/],
      ['unknown field', { name: 'node-x', driver: 'ipmi', bogus: 1 }, 400, /Additional properties are not allowed \('bogus' was unexpected\)/],
      ['driver_info of the wrong type', { driver: 'ipmi', driver_info: 'x' }, 400, /driver_info/],
      ['port of the wrong type', goodNode('n1', { ipmi_port: 'abc' }), 400, /ipmi_port/],
      ['name of the wrong type', { ...goodNode('n1'), name: 5 }, 400, /name/],
      ['address with socat syntax', goodNode('n1', { ipmi_address: '127.0.0.1,fork' }), 400, /ipmi_address/],
      ['address with a blank', goodNode('n1', { ipmi_address: 'a b' }), 400, /ipmi_address/],
      ['user name with socat syntax', goodNode('n1', { ipmi_username: 'a",fork!!SYSTEM:touch /tmp/x,"' }), 400, /ipmi_username/],
      ['port out of range', goodNode('n1', { ipmi_port: 70000 }), 400, /ipmi_port/],
      ['terminal port out of range', goodNode('n1', { ipmi_terminal_port: 0 }), 400, /ipmi_terminal_port/],
      ['cipher suite out of range', goodNode('n1', { ipmi_cipher_suite: 42 }), 400, /ipmi_cipher_suite/],
      ['unknown driver', { driver: 'redfish' }, 400, /driver/],
      ['unknown console interface', { ...goodNode('n1'), console_interface: 'telnet' }, 400, /console_interface/],
    ];
    for (const [what, body, status, message] of cases) {
      const r = await c.api('POST', '/v1/nodes', body);
      expect({ what, status: r.status }).toEqual({ what, status });
      expect(fault(r.body).faultstring).toMatch(message);
      expect(fault(r.body).faultcode).toBe('Client');
    }
    // a field newer than the requested microversion: 406 "Request not acceptable."
    const old = await c.api('POST', '/v1/nodes', goodNode('n1'), { 'X-OpenStack-Ironic-API-Version': '1.1' });
    expect(old.status).toBe(406);
    expect(fault(old.body).faultstring).toBe('Request not acceptable.');
    expect((await c.api('GET', '/v1/nodes')).body.nodes.length).toBe(before);
    expect(findProcesses('touch /tmp/x')).toEqual([]);
    expect(findProcesses('socat', c.pidDir)).toEqual([]);
  });

  it('refuses bad patches without changing the node', async () => {
    const r = await c.api('POST', '/v1/nodes', goodNode('node-p'));
    const bad: Array<[unknown, RegExp]> = [
      [[{ op: 'replace', path: '/driver_info/ipmi_address', value: 'x,fork' }], /ipmi_address/],
      [[{ op: 'replace', path: '/console_enabled', value: true }], /internal attribute/],
      [[{ op: 'replace', path: '/uuid', value: '3f1b7c2e-0000-4000-8000-000000000000' }], /internal attribute/],
      [[{ op: 'move', path: '/name', from: '/description' }], /add, replace or remove/],
      [{ op: 'replace' }, /JSON Patch list/],
    ];
    for (const [ops, message] of bad) {
      const p = await c.api('PATCH', '/v1/nodes/node-p', ops);
      expect(p.status).toBe(400);
      expect(fault(p.body).faultstring).toMatch(message);
    }
    expect((await c.api('GET', '/v1/nodes/node-p')).body.driver_info).toEqual(r.body.driver_info);
    await c.api('DELETE', '/v1/nodes/node-p');
  });

  it('answers 409 for a duplicate name and 404 for unknown nodes and conductors', async () => {
    await c.api('POST', '/v1/nodes', goodNode('node-d'));
    const dup = await c.api('POST', '/v1/nodes', goodNode('node-d'));
    expect(dup.status).toBe(409);
    expect(fault(dup.body).faultstring).toBe('A node with name node-d already exists.');
    for (const [method, path] of [['GET', '/v1/nodes/nope/states/console'], ['PUT', '/v1/nodes/nope/states/console'], ['PATCH', '/v1/nodes/nope'], ['DELETE', '/v1/nodes/nope']]) {
      const body = method === 'PUT' ? { enabled: true } : method === 'PATCH' ? [{ op: 'add', path: '/extra/a', value: 1 }] : undefined;
      const r = await c.api(method, path, body);
      expect({ method, status: r.status }).toEqual({ method, status: 404 });
      expect(fault(r.body).faultstring).toBe('Node nope could not be found.');
    }
    const cond = await c.api('GET', '/v1/conductors/nope');
    expect(cond.status).toBe(404);
    expect(fault(cond.body).faultstring).toBe('Conductor nope could not be found.');
    expect((await c.api('GET', '/v1/conductors', undefined, { 'X-OpenStack-Ironic-API-Version': '1.1' })).status).toBe(404);
    const list = await c.api('GET', '/v1/conductors');
    expect(list.body.conductors).toEqual([{ hostname: 'c-api', conductor_group: '', links: expect.any(Array), alive: true }]);
    await c.api('DELETE', '/v1/nodes/node-d');
  });

  it('validates console PUTs as Ironic does', async () => {
    await c.api('POST', '/v1/nodes', goodNode('node-c'));
    const maybe = await c.api('PUT', '/v1/nodes/node-c/states/console', { enabled: 'maybe' });
    expect(maybe.status).toBe(400);
    expect(fault(maybe.body).faultstring).toBe(
      "Invalid enabled: Unrecognized value 'maybe', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'",
    );
    const missing = await c.api('PUT', '/v1/nodes/node-c/states/console', {});
    expect(missing.status).toBe(400);
    expect(fault(missing.body).faultstring).toBe('Missing mandatory parameter: enabled');
    await c.api('POST', '/v1/nodes', { ...goodNode('node-nc'), console_interface: 'no-console' });
    const nc = await c.api('PUT', '/v1/nodes/node-nc/states/console', { enabled: true });
    expect(nc.status).toBe(400);
    expect(fault(nc.body).faultstring).toBe('Driver ipmi does not support console (disabled or not implemented).');
    expect((await c.api('GET', '/v1/nodes/node-nc/states/console')).body).toEqual({ console_enabled: false, console_info: null });
    const ok = await c.api('PUT', '/v1/nodes/node-c/states/console', { enabled: 'false' });
    expect(ok.status).toBe(202);
    expect(ok.text).toBe('');
    expect(ok.headers.get('location')).toBe(`${c.apiUrl}/v1/nodes/node-c/states/console`);
    await c.api('DELETE', '/v1/nodes/node-c');
    await c.api('DELETE', '/v1/nodes/node-nc');
  });

  it('requires X-Auth-Token on /v1 when SOLGATE_AUTH_TOKEN is set (the version document stays open)', async () => {
    const secured = await ConductorProcess.start({ id: 'c-auth', redisUrl: redis.url, prefix: uniquePrefix('auth'), env: { SOLGATE_AUTH_TOKEN: 'tok-123' } });
    try {
      expect((await secured.api('GET', '/v1')).status).toBe(200);
      const denied = await secured.api('GET', '/v1/nodes');
      expect(denied.status).toBe(401);
      expect(fault(denied.body).faultcode).toBe('Client');
      expect((await secured.api('GET', '/v1/nodes', undefined, { 'X-Auth-Token': 'wrong' })).status).toBe(401);
      expect((await secured.api('GET', '/v1/nodes', undefined, { 'X-Auth-Token': 'tok-123' })).status).toBe(200);
    } finally {
      await secured.dispose();
    }
  });

  it('refuses to boot on bad configuration, listing every bad variable', async () => {
    const bin = join(packageRoot(), 'bin', 'solgate-conductor');
    const r = await execFileP(process.execPath, [bin], {
      env: { PATH: process.env.PATH, SOLGATE_API_PORT: 'eighty', SOLGATE_PORT_RANGE: '5000:4000', SOLGATE_SOCAT_ADDRESS: 'not-an-ip', SOLGATE_HEARTBEAT_TIMEOUT: '1', SOLGATE_LOG_LEVEL: 'loud' },
    }).catch((e) => e);
    expect(r.code).toBe(1);
    for (const v of ['SOLGATE_API_PORT', 'SOLGATE_PORT_RANGE', 'SOLGATE_SOCAT_ADDRESS', 'SOLGATE_HEARTBEAT_TIMEOUT', 'SOLGATE_LOG_LEVEL']) expect(r.stderr).toContain(v);
  });
});
