import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '#libs/common';
import { ConductorProcess } from '../../support/conductor-process.js';
import { uniquePrefix } from '../../support/fixtures.js';
import { RedisServer } from '../../support/redis-server.js';

const execFileP = promisify(execFile);

/** `baremetal` commands solgate implements (they have their own tests: ironicclient*.test.ts, clients-node-queries.test.ts). */
const SUPPORTED = new Set([
  'conductor list', 'conductor show', 'node console disable', 'node console enable', 'node console show', 'node create',
  'node delete', 'node list', 'node show', 'node set', 'node unset', 'node maintenance set', 'node maintenance unset',
  'node add trait', 'node remove trait', 'node trait list',
]); // prettier-ignore

const N = 'un-node';
const U = '8a6f3f57-8d6c-4b8b-9a53-4e7e1c2d9b10';

/**
 * Every other command of python-ironicclient's `baremetal`, with arguments that reach the server: the
 * call must fail with a 4xx whose Ironic error body says it is not supported by this service.
 * Some supported commands appear too, with the parts of Ironic they cannot do (unmanaged fields).
 */
const UNSUPPORTED: { command: string; argv: string[]; feature: RegExp }[] = [
  ...['abort', 'adopt', 'deploy', 'inspect', 'manage', 'provide', 'rebuild', 'undeploy', 'unrescue'].map((verb) => ({
    command: `node ${verb}`,
    argv: ['node', verb, N],
    feature: /Provisioning/,
  })),
  { command: 'node clean', argv: ['node', 'clean', N, '--clean-steps', '[]'], feature: /Provisioning/ },
  { command: 'node rescue', argv: ['node', 'rescue', N, '--rescue-password', 'pw'], feature: /Provisioning/ },
  { command: 'node power on', argv: ['node', 'power', 'on', N], feature: /Power management/ },
  { command: 'node power off', argv: ['node', 'power', 'off', N], feature: /Power management/ },
  { command: 'node reboot', argv: ['node', 'reboot', N], feature: /Power management/ },
  { command: 'node boot device set', argv: ['node', 'boot', 'device', 'set', N, 'pxe'], feature: /Boot device management/ },
  { command: 'node boot device show', argv: ['node', 'boot', 'device', 'show', N], feature: /Boot device management/ },
  { command: 'node boot device show', argv: ['node', 'boot', 'device', 'show', N, '--supported'], feature: /Boot device management/ },
  { command: 'node boot mode set', argv: ['node', 'boot', 'mode', 'set', N, 'uefi'], feature: /Boot mode management/ },
  { command: 'node secure boot on', argv: ['node', 'secure', 'boot', 'on', N], feature: /Secure boot management/ },
  { command: 'node secure boot off', argv: ['node', 'secure', 'boot', 'off', N], feature: /Secure boot management/ },
  { command: 'node inject nmi', argv: ['node', 'inject', 'nmi', N], feature: /NMI injection/ },
  { command: 'node validate', argv: ['node', 'validate', N], feature: /Driver interface validation/ },
  { command: 'node passthru call', argv: ['node', 'passthru', 'call', N, 'heartbeat'], feature: /Vendor passthru/ },
  { command: 'node passthru list', argv: ['node', 'passthru', 'list', N], feature: /Vendor passthru/ },
  { command: 'node vif attach', argv: ['node', 'vif', 'attach', N, 'vif-1'], feature: /VIF attachment/ },
  { command: 'node vif detach', argv: ['node', 'vif', 'detach', N, 'vif-1'], feature: /VIF attachment/ },
  { command: 'node vif list', argv: ['node', 'vif', 'list', N], feature: /VIF attachment/ },
  { command: 'node bios setting list', argv: ['node', 'bios', 'setting', 'list', N], feature: /BIOS settings/ },
  { command: 'node bios setting show', argv: ['node', 'bios', 'setting', 'show', N, 'virtualization'], feature: /BIOS settings/ },
  { command: 'node history list', argv: ['node', 'history', 'list', N], feature: /Node history/ },
  { command: 'node history get', argv: ['node', 'history', 'get', N, U], feature: /Node history/ },
  { command: 'node set', argv: ['node', 'set', N, '--target-raid-config', '{}'], feature: /RAID configuration/ },
  { command: 'node set', argv: ['node', 'set', N, '--deploy-interface', 'direct'], feature: /Setting 'deploy_interface'/ },
  { command: 'node set', argv: ['node', 'set', N, '--protected'], feature: /Setting 'protected'/ },
  { command: 'node set', argv: ['node', 'set', N, '--retired'], feature: /Setting 'retired'/ },
  { command: 'node unset', argv: ['node', 'unset', N, '--boot-interface'], feature: /Setting 'boot_interface'/ },
  { command: 'node create', argv: ['node', 'create', '--driver', 'ipmi', '--power-interface', 'ipmitool'], feature: /Setting 'power_interface'/ },
  { command: 'node list', argv: ['node', 'list', '--chassis', U], feature: /Chassis/ },
  { command: 'port list', argv: ['port', 'list', '--node', N], feature: /Ports/ },
  ...crud('port', ['--node', U, '52:54:00:12:34:56'], ['--address', '52:54:00:12:34:57'], ['--extra', 'a'], /Ports/),
  ...crud('port group', ['--node', U], ['--name', 'pg'], ['--extra', 'a'], /Port groups/),
  ...crud('chassis', [], ['--description', 'd'], ['--description'], /Chassis/),
  ...crud('allocation', ['--resource-class', 'gold'], ['--name', 'a1'], ['--name'], /Allocations/),
  ...crud('deploy template', ['CUSTOM_T1', '--steps', '[{"interface": "bios", "step": "apply_configuration", "args": {}, "priority": 150}]'], ['--name', 'CUSTOM_T2'], ['--extra', 'a'], /Deploy templates/),
  ...crud('volume connector', ['--node', U, '--type', 'iqn', '--connector-id', 'iqn.2010-10.org.openstack:test'], ['--type', 'ip'], ['--extra', 'a'], /Volume connectors and targets/),
  ...crud('volume target', ['--node', U, '--type', 'iscsi', '--boot-index', '0', '--volume-id', 'v1'], ['--boot-index', '1'], ['--extra', 'a'], /Volume connectors and targets/),
  { command: 'driver list', argv: ['driver', 'list'], feature: /Driver information/ },
  { command: 'driver show', argv: ['driver', 'show', 'ipmi'], feature: /Driver information/ },
  { command: 'driver property list', argv: ['driver', 'property', 'list', 'ipmi'], feature: /Driver information/ },
  { command: 'driver raid property list', argv: ['driver', 'raid', 'property', 'list', 'ipmi'], feature: /Driver information/ },
  { command: 'driver passthru call', argv: ['driver', 'passthru', 'call', 'ipmi', 'lookup'], feature: /Driver information/ },
  { command: 'driver passthru list', argv: ['driver', 'passthru', 'list', 'ipmi'], feature: /Driver information/ },
  { command: 'create', argv: ['create', '@CHASSIS_FILE@'], feature: /Chassis/ },
];

/** create / delete / list / set / show / unset of one resource, each with arguments that reach the server. */
function crud(resource: string, createArgs: string[], setArgs: string[], unsetArgs: string[], feature: RegExp) {
  const words = resource.split(' ');
  return [
    { command: `${resource} create`, argv: [...words, 'create', ...createArgs], feature },
    { command: `${resource} delete`, argv: [...words, 'delete', U], feature },
    { command: `${resource} list`, argv: [...words, 'list'], feature },
    { command: `${resource} set`, argv: [...words, 'set', U, ...setArgs], feature },
    { command: `${resource} show`, argv: [...words, 'show', U], feature },
    { command: `${resource} unset`, argv: [...words, 'unset', U, ...unsetArgs], feature },
  ];
}

interface Result {
  argv: string[];
  rc: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the commands through python-ironicclient's own entry point (ironicclient.shell.main, what
 * /usr/bin/baremetal runs), many per Python process (test/support/baremetal_batch.py).
 */
async function baremetalBatch(argvs: string[][]): Promise<Result[]> {
  const script = join(packageRoot(), 'test', 'support', 'baremetal_batch.py');
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', [script], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as Result[]) : reject(new Error(`baremetal_batch.py exited ${code}`))));
    child.stdin.end(JSON.stringify(argvs));
  });
}

describe('calls solgate does not implement, driven by python-ironicclient', () => {
  let redis: RedisServer;
  let c: ConductorProcess;
  let dir: string;

  beforeAll(async () => {
    redis = await RedisServer.start();
    c = await ConductorProcess.start({ id: 'c-unsup', redisUrl: redis.url, prefix: uniquePrefix('unsup') });
    const r = await c.api('POST', '/v1/nodes', { name: N, driver: 'ipmi', driver_info: { ipmi_address: '10.0.0.1' } });
    if (r.status !== 201) throw new Error(r.text);
    dir = mkdtempSync(join(tmpdir(), 'solgate-unsup-'));
    writeFileSync(join(dir, 'chassis.json'), JSON.stringify({ chassis: [{ description: 'rack 1' }] }));
  });
  afterAll(async () => {
    await c?.dispose();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the walk covers every command ironicclient registers', async () => {
    const { stdout } = await execFileP('/usr/bin/python3', [
      '-c',
      "import json; from importlib.metadata import entry_points; print(json.dumps(sorted(e.name for e in entry_points().select(group='openstack.baremetal.v1'))))",
    ]);
    const commands = (JSON.parse(stdout) as string[]).map((n) => n.replace(/^baremetal_/, '').replace(/_/g, ' '));
    expect(commands.length).toBeGreaterThan(80);
    const walked = new Set(UNSUPPORTED.map((u) => u.command));
    // entry point names use _ for spaces (and deploy_template / port_group / volume_connector)
    const missing = commands.filter((cmd) => !SUPPORTED.has(cmd) && !walked.has(cmd));
    expect(missing).toEqual([]);
  });

  it('every unsupported verb: 400, Ironic’s error body, “not supported by this service”, never “could not be found”', async () => {
    const argvs = UNSUPPORTED.map((u) => ['--os-endpoint', c.apiUrl, '--os-auth-type', 'none', ...u.argv.map((a) => a.replace('@CHASSIS_FILE@', join(dir, 'chassis.json')))]);
    const results = await baremetalBatch(argvs);
    expect(results).toHaveLength(UNSUPPORTED.length);
    const wrong = results
      .map((r, i) => ({ command: UNSUPPORTED[i].argv.join(' '), rc: r.rc, stderr: r.stderr.trim(), feature: UNSUPPORTED[i].feature }))
      .filter(
        (r) =>
          r.rc === 0 ||
          !r.feature.test(r.stderr) ||
          !/ not supported by this service: solgate (implements|keeps) Ironic/.test(r.stderr) ||
          !/\(HTTP 400\)/.test(r.stderr) ||
          /could not be found/i.test(r.stderr),
      )
      .map(({ command, rc, stderr }) => ({ command, rc, stderr }));
    expect(wrong).toEqual([]);
  }, 600_000);

  it('answers with Ironic’s error body over plain HTTP too, and a missing node is still a 404 for the node', async () => {
    const r = await c.api('PUT', `/v1/nodes/${N}/states/power`, { target: 'power on' });
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(JSON.parse(r.body.error_message)).toEqual({
      faultcode: 'Client',
      faultstring: `Power management is not supported by this service: solgate implements Ironic's node records and serial consoles only (PUT /v1/nodes/${N}/states/power).`,
      debuginfo: null,
    });
    const missing = await c.api('PUT', '/v1/nodes/nope/states/power', { target: 'power on' });
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body.error_message).faultstring).toBe('Node nope could not be found.');
    for (const path of ['/v1/drivers', '/v1/ports/detail', '/v1/chassis/x/nodes', '/v1/allocations', '/v1/deploy_templates', '/v1/volume/targets', '/v1/shards', '/v1/events']) {
      const u = await c.api('GET', path);
      expect({ path, status: u.status }).toEqual({ path, status: 400 });
      expect(JSON.parse(u.body.error_message).faultstring).toContain('not supported by this service');
    }
    // a path Ironic does not have at all stays Ironic's plain 404
    expect((await c.api('GET', '/v1/bogus')).status).toBe(404);
  });
});
