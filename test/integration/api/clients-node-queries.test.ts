import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ConductorProcess } from '../../support/conductor-process.js';
import { uniquePrefix } from '../../support/fixtures.js';
import { RedisServer } from '../../support/redis-server.js';

const execFileP = promisify(execFile);
const INSTANCE = '3d0e9c52-2f1b-4f7e-9a51-6c8d7e2b1a44';

/**
 * The node queries as real Ironic clients make them: python-ironicclient's `baremetal` (Debian) and
 * openstacksdk (Debian python3-openstacksdk, what Nova's ironic driver is built on), with no auth.
 */
describe('ironicclient and openstacksdk node queries', () => {
  let redis: RedisServer;
  let c: ConductorProcess;
  const uuids: Record<string, string> = {};

  const baremetal = async (...args: string[]): Promise<any> => {
    const { stdout } = await execFileP('baremetal', ['--os-endpoint', c.apiUrl, '--os-auth-type', 'none', ...args, '-f', 'json'], { timeout: 60_000 });
    return JSON.parse(stdout);
  };
  /** openstacksdk from Debian's Python (not whatever python3 comes first in PATH). */
  const sdk = async (code: string, lines = false): Promise<any> => {
    const script = `import json, openstack\nconn = openstack.connect(auth_type='none', baremetal_endpoint_override='${c.apiUrl}')\n${code}`;
    const { stdout } = await execFileP('/usr/bin/python3', ['-c', script], { timeout: 60_000 });
    return lines ? stdout.trim().split('\n').map((l) => JSON.parse(l)) : JSON.parse(stdout);
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
    c = await ConductorProcess.start({ id: 'c-clients', redisUrl: redis.url, prefix: uniquePrefix('clients') });
    const specs: [string, Record<string, unknown>][] = [
      ['cl-1', { instance_uuid: INSTANCE, resource_class: 'gold' }],
      ['cl-2', { maintenance: true, maintenance_reason: 'fan' }],
      ['cl-3', { driver: 'pxe_ipmitool_socat', console_interface: 'native-ipmi-socat' }],
    ];
    for (const [name, extra] of specs) {
      const r = await c.api('POST', '/v1/nodes', { name, driver: 'ipmi', driver_info: { ipmi_address: '10.0.0.1', ipmi_password: 'pw' }, ...extra });
      if (r.status !== 201) throw new Error(r.text);
      uuids[name] = r.body.uuid;
    }
  });
  afterAll(async () => {
    await c?.dispose();
    await redis?.stop();
  });

  it('baremetal node list --fields uuid console_enabled driver', async () => {
    expect(await baremetal('node', 'list', '--fields', 'uuid', 'console_enabled', 'driver')).toEqual(
      ['cl-1', 'cl-2', 'cl-3'].map((n) => ({ UUID: uuids[n], 'Console Enabled': false, Driver: 'ipmi' })),
    );
  }, 180_000);

  it('baremetal node list --driver / --maintenance / --associated filter on the server', async () => {
    const row = (n: string, instance: string | null, maintenance: boolean) => ({
      UUID: uuids[n],
      Name: n,
      'Instance UUID': instance,
      'Power State': null,
      'Provisioning State': 'enroll',
      Maintenance: maintenance,
    });
    expect(await baremetal('node', 'list', '--driver', 'redfish')).toEqual([]);
    expect(await baremetal('node', 'list', '--driver', 'ipmi', '--maintenance')).toEqual([row('cl-2', null, true)]);
    expect(await baremetal('node', 'list', '--associated')).toEqual([row('cl-1', INSTANCE, false)]);
    expect(await baremetal('node', 'list', '--unassociated', '--sort', 'name:desc')).toEqual([row('cl-3', null, false), row('cl-2', null, true)]);
  }, 180_000);

  it('baremetal node show --instance finds the node by instance_uuid', async () => {
    const shown = await baremetal('node', 'show', '--instance', INSTANCE);
    expect(shown).toMatchObject({ uuid: uuids['cl-1'], name: 'cl-1', instance_uuid: INSTANCE, resource_class: 'gold', maintenance: false });
    expect(shown.driver_info.ipmi_password).toBe('******');
    await expect(baremetal('node', 'show', '--instance', '00000000-0000-4000-8000-000000000000')).rejects.toThrow(/could not be found|Not Found|not found/i);
  }, 180_000);

  it('openstacksdk conn.baremetal.nodes(instance_id=…) returns that node only, with and without Nova’s fields', async () => {
    const found = await sdk(
      `print(json.dumps([[n.id, n.name, n.instance_id, n.resource_class] for n in conn.baremetal.nodes(instance_id='${INSTANCE}', details=True)]))`,
    );
    expect(found).toEqual([[uuids['cl-1'], 'cl-1', INSTANCE, 'gold']]);
    const novaFields = await sdk(
      `fields = ('uuid', 'power_state', 'target_power_state', 'provision_state', 'target_provision_state', 'last_error', 'maintenance', 'properties', 'instance_uuid', 'traits', 'resource_class')\n` +
        `print(json.dumps([[n.id, n.instance_id, n.is_maintenance, n.traits, n.resource_class] for n in conn.baremetal.nodes(instance_id='${INSTANCE}', fields=fields)]))\n` +
        `print(json.dumps([n.id for n in conn.baremetal.nodes(instance_id='00000000-0000-4000-8000-000000000000')]))\n` +
        `print(json.dumps(sorted(n.name for n in conn.baremetal.nodes(details=True, is_maintenance=False))))`,
      true,
    );
    expect(novaFields).toEqual([[[uuids['cl-1'], INSTANCE, false, [], 'gold']], [], ['cl-1', 'cl-3']]);
  }, 180_000);
});
