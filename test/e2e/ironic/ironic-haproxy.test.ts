import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { ClusterView } from '#libs/cluster';
import { packageRoot } from '#libs/common';
import { ConsoleControl } from '#libs/console';
import { PeriodicIronicSync, SYNC_MARK } from '#libs/ironic-sync';
import { createLogger } from '#libs/logging';
import { ConsoleStatusRepository, NodeRepository, type NodeRecord } from '#libs/nodes';
import { Keys } from '#libs/redis';
import { cliFor } from '../../integration/cli/cli-harness.js';
import { LocalCluster } from '../../support/cluster.js';
import { ConductorProcess } from '../../support/conductor-process.js';
import { uniquePrefix } from '../../support/fixtures.js';
import { HaproxyServer } from '../../support/haproxy.js';
import { IronicServer } from '../../support/ironic.js';
import { IpmiSimBmc } from '../../support/ipmi-sim.js';
import { NovaIronicDriver } from '../../support/nova.js';
import { Websockify, WsConsoleClient } from '../../support/websockify.js';
import { freeTcpPortBlock } from '../../support/ports.js';
import { waitFor } from '../../support/wait.js';

const execFileP = promisify(execFile);
const SOLGATE_TOKEN = 'solgate-behind-haproxy';

/**
 * Living beside a real Ironic, all parts real: Debian's Ironic 21.4 (single process, sqlite,
 * noauth) managing ipmi_sim BMCs; a 3-conductor solgate cluster synced from it with `solgate ironic
 * sync`; Debian's HAProxy running deploy/haproxy/haproxy.cfg in front of both. Then what Nova and
 * nova-serialproxy do, through HAProxy: the console reset sequence, the port validation (a second
 * sequence must give the same port), and bytes both ways through websockify.
 */
describe('solgate beside a real Ironic, behind HAProxy', () => {
  let ironic: IronicServer;
  let cluster: LocalCluster;
  let haproxy: HaproxyServer;
  let bmcs: IpmiSimBmc[] = [];
  let redis: Redis;
  let repo: NodeRepository;
  let cli: ReturnType<typeof cliFor>;
  let terminalPort: number;
  const uuids: Record<string, string> = {};
  const instances: Record<string, string> = { 'ir-1': randomUUID(), 'ir-2': randomUUID() };

  const allNodes = async (): Promise<NodeRecord[]> => repo.getMany(await repo.listUuids());
  const byName = async (name: string) => (await allNodes()).find((n) => n.name === name);
  const sync = (...args: string[]) => cli(['ironic', 'sync', '--url', ironic.url, ...args]);
  const baremetal = async (...args: string[]) =>
    (await execFileP('baremetal', ['--os-endpoint', haproxy.url, '--os-auth-type', 'none', ...args], { timeout: 30_000 })).stdout;

  beforeAll(async () => {
    // The cluster first, one conductor at a time, then Ironic: on a loaded 2-core machine, parallel
    // starts (and Ironic's seconds of Python imports) starve each other past the start timeouts.
    const bmcsP = Promise.allSettled(['ir-1', 'ir-2', 'ir-3'].map((nodeName) => IpmiSimBmc.start({ nodeName }))).then((all) => {
      for (const r of all) if (r.status === 'fulfilled') bmcs.push(r.value);
      return all.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason as unknown;
    });
    cluster = await LocalCluster.start({ name: 'ir', conductors: 0 });
    for (let n = 1; n <= 3; n++) {
      const c = new ConductorProcess({
        id: `c${n}`,
        address: `127.0.0.${n}`,
        redisUrl: cluster.redis.url,
        prefix: cluster.prefix,
        portRange: { start: 20000, stop: 21000 },
        env: { SOLGATE_LOG_LEVEL: 'info', SOLGATE_AUTH_TOKEN: SOLGATE_TOKEN },
      });
      cluster.conductors.push(c); // owned by the cluster (stopped with it) even if its start fails
      await c.start();
    }
    const bmcError = await bmcsP;
    if (bmcError) throw bmcError;
    ironic = await IronicServer.start();
    process.stderr.write(`Ironic ready ${ironic.times.readyMs} ms after spawn\n`);

    redis = new Redis(cluster.redis.url);
    repo = new NodeRepository(redis, new Keys(cluster.prefix));
    cli = cliFor(cluster.redis.url, cluster.prefix);
    terminalPort = (await freeTcpPortBlock(1, '0.0.0.0')).start;
    // ir-1: dynamic console port; ir-2: a fixed ipmi_terminal_port; ir-3: no console in Ironic
    const [b1, b2, b3] = bmcs;
    for (const [bmc, extra] of [
      [b1, { console_interface: 'ipmitool-socat' }],
      [b2, { console_interface: 'ipmitool-socat', driver_info: { ...b2.driverInfo(), ipmi_terminal_port: terminalPort } }],
      [b3, { console_interface: 'no-console' }],
    ] as const) {
      const node = await ironic.createNode({ name: bmc.nodeName, driver: 'ipmi', driver_info: bmc.driverInfo(), ...extra });
      uuids[bmc.nodeName] = node.uuid;
    }
    for (const [name, instance] of Object.entries(instances)) await ironic.patchNode(name, [{ op: 'add', path: '/instance_uuid', value: instance }]);
    haproxy = await HaproxyServer.start({ ironicUrl: ironic.url, conductors: cluster.conductors.map((c) => c.apiUrl), solgateToken: SOLGATE_TOKEN });
  }, 120_000);

  afterAll(async () => {
    await haproxy?.stop();
    await redis?.quit().catch(() => redis.disconnect());
    await cluster?.stop();
    await Promise.all(bmcs.map((b) => b.stop()));
    await ironic?.stop();
  });

  it('`solgate ironic sync` mirrors Ironic’s nodes, passwords included, and a second run changes nothing', async () => {
    const first = await sync('-o', 'json', '--progress');
    expect(first.code).toBe(0);
    // progress on stderr (forced: not a terminal here), data alone on stdout
    expect(first.stderr).toMatch(/reading Ironic \[.*\] 3\/3/);
    expect(first.stderr).toMatch(/syncing \[.*\] 3\/3/);
    const s = first.json();
    expect(s).toMatchObject({ ironic_nodes: 3, created: 3, updated: 0, deleted: 0, unchanged: 0, skipped: [], dry_run: false, ironic_version: '1.82' });
    expect(first.stdout + first.stderr).not.toContain(bmcs[0].password);

    const n1 = (await byName('ir-1'))!;
    expect(n1.uuid).toBe(uuids['ir-1']);
    expect(n1).toMatchObject({ driver: 'ipmi', console_interface: 'ipmitool-socat', conductor_group: '', console_enabled: false });
    // the password arrived: Ironic's show_password policy allows it here
    expect(n1.driver_info).toEqual({ ...bmcs[0].driverInfo() });
    expect(n1.extra).toEqual({ [SYNC_MARK]: true });
    expect(n1.instance_uuid).toBe(instances['ir-1']);
    expect(n1.maintenance).toBe(false);
    expect((await byName('ir-2'))!.driver_info.ipmi_terminal_port).toBe(terminalPort);
    expect((await byName('ir-3'))!.console_interface).toBe('no-console');

    const second = await sync();
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/3 nodes in Ironic: 0 created, 0 updated, 0 deleted, 3 unchanged, 0 skipped — nothing to change/);
  });

  it('follows Ironic: renames and driver_info changes, new and deleted nodes; never deletes what an operator created', async () => {
    const extra = await ironic.createNode({ name: 'ir-extra', driver: 'ipmi', console_interface: 'ipmitool-socat', driver_info: { ipmi_address: '127.0.0.1', ipmi_port: 9, ipmi_username: 'admin', ipmi_password: 'x' } });
    const op = await cli(['nodes', 'create', '--name', 'operator-node', '--address', '127.0.0.1', '--port', '9', '-o', 'json']);
    expect(op.code).toBe(0);
    await ironic.patchNode('ir-3', [
      { op: 'replace', path: '/name', value: 'ir-3-renamed' },
      { op: 'add', path: '/driver_info/ipmi_priv_level', value: 'OPERATOR' },
    ]);
    expect((await ironic.api('PUT', '/v1/nodes/ir-3-renamed/maintenance', { reason: 'fan' })).status).toBe(202);
    let r = await sync('-o', 'json');
    expect(r.code).toBe(0);
    let s = r.json();
    expect(s).toMatchObject({ ironic_nodes: 4, created: 1, updated: 1, deleted: 0, unchanged: 2 });
    expect(s.changes).toContainEqual({ uuid: uuids['ir-3'], name: 'ir-3-renamed', action: 'update', fields: ['driver_info.ipmi_priv_level', 'maintenance', 'maintenance_reason', 'name'] });
    expect((await repo.get(uuids['ir-3']))!).toMatchObject({ name: 'ir-3-renamed', driver_info: { ipmi_priv_level: 'OPERATOR' }, maintenance: true, maintenance_reason: 'fan' });

    await ironic.deleteNode(extra.uuid);
    r = await sync('-o', 'json');
    s = r.json();
    expect(s).toMatchObject({ created: 0, updated: 0, deleted: 1, unchanged: 3 });
    expect(await repo.get(extra.uuid)).toBeUndefined();
    expect(await byName('operator-node')).toBeDefined();
    await cli(['nodes', 'delete', 'operator-node']);
  });

  it('--watch syncs every interval (one JSON line per pass) until interrupted, then exits 0', async () => {
    const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'solgate'), 'ironic', 'sync', '--url', ironic.url, '--watch', '--interval', '1', '-o', 'json'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', SOLGATE_REDIS_URL: cluster.redis.url, SOLGATE_KEY_PREFIX: cluster.prefix },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    try {
      await waitFor(() => out.split('\n').filter(Boolean).length >= 2, { timeoutMs: 20_000, intervalMs: 100, what: 'two passes of --watch' });
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    const passes = out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    for (const p of passes.slice(1)) expect(p).toMatchObject({ created: 0, updated: 0, deleted: 0, unchanged: 3 });
  });

  it('stops with a clear message when Ironic masks every password, and changes nothing', async () => {
    const policy = join(ironic.dir, 'policy.yaml');
    const allowed = readFileSync(policy, 'utf8');
    writeFileSync(policy, '{}\n');
    const later = new Date(Date.now() + 2000);
    utimesSync(policy, later, later); // oslo.policy reloads the file when its mtime changes
    try {
      const before = JSON.stringify(await allNodes());
      const r = await waitFor(
        async () => {
          const res = await sync();
          return res.code === 1 ? res : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 200, what: 'Ironic to mask passwords' },
      );
      expect(r.stderr).toContain('error: Ironic returned every BMC password masked (******)');
      expect(r.stderr).toContain('"show_password"');
      expect(JSON.stringify(await allNodes())).toBe(before);
      // the escape hatch keeps the passwords solgate already has
      const forced = await sync('--allow-masked-passwords', '-o', 'json');
      expect(forced.json()).toMatchObject({ created: 0, updated: 0, deleted: 0, unchanged: 3 });
      expect((await byName('ir-1'))!.driver_info.ipmi_password).toBe(bmcs[0].password);
    } finally {
      writeFileSync(policy, allowed);
      const later2 = new Date(Date.now() + 4000);
      utimesSync(policy, later2, later2);
    }
  });

  it('HAProxy: the version documents and node lists are Ironic’s, the console calls solgate’s (authorized by Ironic)', async () => {
    const viaProxy = (await fetch(`${haproxy.url}/`).then((r) => r.json())) as any;
    const direct = await ironic.api('GET', '/');
    expect(viaProxy.name).toBe('OpenStack Ironic API');
    expect(viaProxy.versions[0].version).toBe(direct.body.versions[0].version);

    // python-ironicclient through HAProxy: node list from Ironic, console from solgate
    const list = JSON.parse(await baremetal('node', 'list', '--fields', 'uuid', 'name', 'provision_state', '-f', 'json'));
    expect(list.map((n: any) => n.Name).sort()).toEqual(['ir-1', 'ir-2', 'ir-3-renamed']);
    await baremetal('node', 'console', 'enable', 'ir-1');
    const shown = await waitFor(
      async () => {
        const c = JSON.parse(await baremetal('node', 'console', 'show', 'ir-1', '-f', 'json'));
        return c.console_enabled ? c : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200, what: 'the console to show enabled through HAProxy' },
    );
    expect(shown.console_info).toEqual({ type: 'socat', url: expect.stringMatching(/^tcp:\/\/127\.0\.0\.[123]:\d+$/) });
    // Ironic itself never saw the console enabled
    expect((await ironic.api('GET', `/v1/nodes/${uuids['ir-1']}`)).body.console_enabled).toBe(false);
    const log = haproxy.log;
    expect(log).toMatch(/ironic\/ironic .*"GET \/v1\/nodes\/?\?fields=/);
    expect(log).toMatch(/solgate\/conductor-\d .*"PUT \/v1\/nodes\/ir-1\/states\/console /);
    expect(log).toMatch(/solgate\/conductor-\d .*"GET \/v1\/nodes\/ir-1\/states\/console /);
    expect(log).not.toMatch(/ironic\/ironic .*\/states\/console /);

    // a 202's Location names the endpoint the client used; unknown nodes get Ironic's 404
    const put = await fetch(`${haproxy.url}/v1/nodes/ir-1/states/console`, {
      method: 'PUT',
      headers: { 'X-OpenStack-Ironic-API-Version': '1.78', 'Content-Type': 'application/json' },
      body: JSON.stringify({ enabled: false }),
    });
    expect(put.status).toBe(202);
    expect(put.headers.get('location')).toBe(`${haproxy.url}/v1/nodes/ir-1/states/console`);
    const missing = await fetch(`${haproxy.url}/v1/nodes/nope/states/console`, { headers: { 'X-OpenStack-Ironic-API-Version': '1.78' } });
    expect(missing.status).toBe(404);
    expect(JSON.parse(((await missing.json()) as any).error_message).faultstring).toBe('Node nope could not be found.');
    // solgate's token is HAProxy's business: a direct call without it is refused
    expect((await cluster.api.api('GET', '/v1/nodes/ir-1/states/console')).status).toBe(401);
  });

  for (const name of ['ir-2', 'ir-1']) {
    it(`Nova’s console sequence through HAProxy, nova-serialproxy’s port validation and bytes both ways through websockify (${name}: ${name === 'ir-2' ? 'ipmi_terminal_port' : 'dynamic port'})`, async () => {
      const bmc = bmcs.find((b) => b.nodeName === name)!;
      const nova = new NovaIronicDriver({ endpoint: () => haproxy.url });
      // the console is on, as after the instance's first console request; Nova resets it on every request
      const on = await fetch(`${haproxy.url}/v1/nodes/${name}/states/console`, {
        method: 'PUT',
        headers: { 'X-OpenStack-Ironic-API-Version': '1.78', 'Content-Type': 'application/json' },
        body: JSON.stringify({ enabled: true }),
      });
      expect(on.status).toBe(202);
      await waitFor(async () => JSON.parse(await baremetal('node', 'console', 'show', name, '-f', 'json')).console_enabled, { timeoutMs: 15_000, intervalMs: 200, what: `${name}'s console to serve` });

      const t0 = performance.now();
      const first = await nova.getSerialConsole(instances[name]); // disable → poll → enable → poll, through HAProxy
      const sequenceMs = performance.now() - t0;
      expect(first.node).toBe(uuids[name]);
      if (name === 'ir-2') expect(first.port).toBe(terminalPort);
      // nova-serialproxy: validate_console_port runs get_serial_console again and compares the port
      const t1 = performance.now();
      const { valid, console: again } = await nova.validateConsolePort(instances[name], String(first.port));
      process.stderr.write(`Nova sequence through HAProxy (${name}): ${Math.round(sequenceMs)} ms, validation ${Math.round(performance.now() - t1)} ms\n`);
      expect({ valid, port: again.port, host: again.host }).toEqual({ valid: true, port: first.port, host: first.host });

      // nova-serialproxy's data path: websockify in front of the console's TCP port
      const proxy = await Websockify.start(again.host, again.port);
      try {
        const ws = await WsConsoleClient.connect(proxy.url);
        try {
          await ws.waitFor('SOL Session operational');
          ws.write('z'); // ipmi_sim may drop a session's first SOL packet (see ConsoleClient.primeIpmiSim)
          await new Promise((r) => setTimeout(r, 150));
          bmc.print(`${name} login: `);
          await ws.waitFor(`${name} login: `);
          ws.write(`hello-${name}\r`);
          await bmc.waitReceived(`hello-${name}`);
        } finally {
          await ws.close();
        }
      } finally {
        await proxy.stop();
      }
    });
  }

  it('the periodic sync: one holder of the lease syncs; a graceful stop hands it over at once', async () => {
    const keys = new Keys(uniquePrefix('irp'));
    const log = createLogger('silent');
    const mk = (memberId: string) =>
      new PeriodicIronicSync(
        { url: ironic.url, intervalMs: 500, token: undefined, cloud: undefined, memberId, leaseTtlMs: 10_000 },
        { redis, keys, nodes: new NodeRepository(redis, keys), consoles: new ConsoleControl(new NodeRepository(redis, keys), new ConsoleStatusRepository(redis, keys), () => ClusterView.empty(160)), log },
      );
    const a = mk('sync-a');
    const b = mk('sync-b');
    const nodes = new NodeRepository(redis, keys);
    try {
      a.start();
      b.start();
      await waitFor(async () => (await nodes.count()) === 3, { timeoutMs: 10_000, what: 'the periodic sync to mirror 3 nodes' });
      await new Promise((r) => setTimeout(r, 1500));
      const holders = [a, b].filter((x) => x.lastSummary);
      expect(holders).toHaveLength(1);
      const [holder, other] = holders[0] === a ? [a, b] : [b, a];
      await holder.close();
      const added = await ironic.createNode({ name: 'ir-late', driver: 'ipmi', driver_info: { ipmi_address: '127.0.0.1', ipmi_username: 'admin', ipmi_password: 'x' } });
      try {
        // the other instance takes the lease at its next renewal tick and finishes a pass with the new node
        await waitFor(async () => !!(await nodes.get(added.uuid)) && other.lastSummary?.ironic_nodes === 4, {
          timeoutMs: 10_000,
          what: 'the other instance to take the lease and sync',
        });
      } finally {
        await ironic.deleteNode(added.uuid);
      }
    } finally {
      await a.close();
      await b.close();
    }
    expect(await redis.exists(keys.lease('ironic-sync'))).toBe(0);
  });

  it('a conductor with SOLGATE_IRONIC_URL keeps its cluster in step with Ironic', async () => {
    const c = new ConductorProcess({
      id: 'ir-sync',
      address: '127.0.0.9',
      redisUrl: cluster.redis.url,
      prefix: uniquePrefix('irc'),
      env: { SOLGATE_IRONIC_URL: ironic.url, SOLGATE_IRONIC_SYNC_INTERVAL: '1' },
    });
    try {
      await c.start();
      const list = await waitFor(
        async () => {
          const r = await c.api('GET', '/v1/nodes');
          return r.body?.nodes?.length === 3 ? r.body.nodes : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 100, what: 'the conductor to mirror Ironic' },
      );
      expect(list.map((n: any) => n.uuid).sort()).toEqual(Object.values(uuids).sort());
      expect(c.logs).toContain('took the Ironic sync lease');
    } finally {
      await c.dispose();
    }
    expect(c.logs).not.toContain(bmcs[0].password);
  });
});
