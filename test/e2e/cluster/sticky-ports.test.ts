import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cliFor } from '../../integration/cli/cli-harness.js';
import { LocalCluster } from '../../support/cluster.js';
import { ConductorProcess } from '../../support/conductor-process.js';
import { waitFor } from '../../support/wait.js';

const portOf = (url: string) => Number(url.split(':').pop());

/**
 * Nova end to end, the port side (issue 9): a node keeps one console port for as long as it exists,
 * across disable → enable (nova-serialproxy's validate_console_port runs the reset again and compares
 * the port), a conductor restart and a crash takeover (new host, same port); PUT answers once the
 * owner has acted, so Nova's first poll sees the final state; ports are unique cluster-wide; the
 * cluster's settings are the same on every conductor.
 */
describe('cluster: sticky console ports, PUT that waits for the owner, cluster settings', () => {
  let cluster: LocalCluster;
  const ports = new Map<string, number>();
  const uuids = () => cluster.nodes.map((n) => n.uuid);

  beforeAll(async () => {
    cluster = await LocalCluster.start({ name: 'sp', conductors: 3, dummyNodes: 24, env: { SOLGATE_CONSOLE_PUT_WAIT: '10' } });
    await cluster.enableAll();
    for (const s of await cluster.waitAllServing(60_000)) ports.set(s.uuid, portOf(s.url!));
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('gives every node its own port, shown as driver_internal_info.allocated_ipmi_terminal_port and by `solgate nodes show`', async () => {
    expect(new Set(ports.values()).size).toBe(ports.size);
    const u = uuids()[0];
    const node = await cluster.api.api('GET', `/v1/nodes/${u}`);
    expect(node.body.driver_internal_info).toMatchObject({ allocated_ipmi_terminal_port: ports.get(u), console_state: 'running' });
    const cli = cliFor(cluster.redis.url, cluster.prefix);
    const shown = await cli(['nodes', 'show', u, '-o', 'json']);
    expect(shown.code).toBe(0);
    expect(shown.json().driver_internal_info.allocated_ipmi_terminal_port).toBe(ports.get(u));
  });

  it('Nova’s reset (PUT disable, GET, PUT enable, GET): the first GET after each PUT already shows the final state, on the same port', async () => {
    const api = cluster.conductor('c1');
    for (const u of uuids().slice(0, 8)) {
      expect((await api.api('PUT', `/v1/nodes/${u}/states/console`, { enabled: false })).status).toBe(202);
      const off = await api.api('GET', `/v1/nodes/${u}/states/console`);
      expect(off.body).toEqual({ console_enabled: false, console_info: null });
      expect((await api.api('PUT', `/v1/nodes/${u}/states/console`, { enabled: true })).status).toBe(202);
      const on = await api.api('GET', `/v1/nodes/${u}/states/console`);
      expect(on.body.console_enabled).toBe(true);
      expect(portOf(on.body.console_info.url)).toBe(ports.get(u));
    }
  });

  it('keeps every port when a conductor restarts (its consoles move away and back)', async () => {
    const c2 = cluster.conductor('c2');
    await c2.stop();
    for (const s of await cluster.waitAllServing(30_000)) expect(portOf(s.url!)).toBe(ports.get(s.uuid));
    await c2.start();
    await waitFor(async () => (await cluster.sample()).some((x) => x.conductor === 'c2' && x.serving && x.listening), { timeoutMs: 30_000, what: 'c2 to serve again' });
    for (const s of await cluster.waitAllServing(30_000)) expect(portOf(s.url!)).toBe(ports.get(s.uuid));
  }, 90_000);

  it('after a kill -9 the console comes back on a survivor with the same port (new host), and the crashed conductor stays listed with alive: false', async () => {
    const before = await cluster.sample();
    const victims = before.filter((x) => x.conductor === 'c3');
    expect(victims.length).toBeGreaterThan(0);
    await cluster.conductor('c3').kill9();
    const after = await waitFor(
      async () => {
        const s = await cluster.sample(victims.map((v) => v.uuid));
        return s.every((x) => x.serving && x.listening && x.conductor !== 'c3') ? s : undefined;
      },
      { timeoutMs: 30_000, what: 'c3’s consoles to serve on a survivor' },
    );
    for (const s of after) {
      expect(portOf(s.url!)).toBe(ports.get(s.uuid));
      expect(s.url).not.toMatch(/^tcp:\/\/127\.0\.0\.3:/);
    }
    const list = await cluster.conductor('c1').api('GET', '/v1/conductors');
    expect(list.body.conductors.map((c: { hostname: string; alive: boolean }) => [c.hostname, c.alive]).sort()).toEqual([
      ['c1', true],
      ['c2', true],
      ['c3', false],
    ]);
    expect((await cluster.conductor('c1').api('GET', '/v1/conductors/c3')).body).toMatchObject({ hostname: 'c3', alive: false });
  }, 90_000);

  it('refuses a fixed ipmi_terminal_port another node holds (409, nothing stored); accepts a free one and uses it', async () => {
    const api = cluster.conductor('c1');
    const taken = ports.get(uuids()[0])!;
    const r = await api.api('POST', '/v1/nodes', { name: 'sp-fixed', driver: 'ipmi', driver_info: { ipmi_address: '127.0.0.1', ipmi_port: 9, ipmi_terminal_port: taken } });
    expect(r.status).toBe(409);
    expect(JSON.parse(r.body.error_message).faultstring).toContain(`Console port ${taken}`);
    expect((await api.api('GET', '/v1/nodes/sp-fixed')).status).toBe(404);
    const free = cluster.conductor('c1').opts.portRange!.stop - 1;
    const ok = await api.api('POST', '/v1/nodes', { name: 'sp-fixed', driver: 'ipmi', driver_info: { ipmi_address: '127.0.0.1', ipmi_port: 9, ipmi_terminal_port: free } });
    expect(ok.status).toBe(201);
    expect(ok.body.driver_internal_info.allocated_ipmi_terminal_port).toBe(free);
    const patch = await api.api('PATCH', `/v1/nodes/${uuids()[1]}`, [{ op: 'add', path: '/driver_info/ipmi_terminal_port', value: free }]);
    expect(patch.status).toBe(409);
  });

  it('a conductor started with other cluster settings refuses to start and says which', async () => {
    const odd = new ConductorProcess({
      id: 'c9',
      address: '127.0.0.9',
      redisUrl: cluster.redis.url,
      prefix: cluster.prefix,
      portRange: cluster.conductor('c1').opts.portRange,
      env: { SOLGATE_RING_VNODES: '80' },
    });
    try {
      await expect(odd.start()).rejects.toThrow(/exited \(1\)/);
      await waitFor(() => odd.logs.includes('SOLGATE_RING_VNODES=80 (cluster: 160)'), { timeoutMs: 5000, what: 'the refusal message' });
      expect(odd.logs).not.toMatch(/^\s+at /m); // an operator's message, not a stack trace
    } finally {
      await odd.dispose();
    }
  }, 60_000);

  it('the CLI reads the ring and liveness settings from Redis (no --vnodes / --heartbeat-timeout)', async () => {
    const cli = cliFor(cluster.redis.url, cluster.prefix);
    const ring = await cli(['ring', '-o', 'json']);
    expect(ring.code).toBe(0);
    expect(ring.json()[0]).toMatchObject({ vnodes: 160, members: ['c1', 'c2'] });
    const old = await cli(['--vnodes', '80', 'ring']);
    expect(old.code).toBe(2);
  });
});
