import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LocalCluster } from '../../support/cluster.js';
import { waitFor } from '../../support/wait.js';

/** Conductor groups as in Ironic: a node maps only onto live conductors of its own group. */
describe('cluster: conductor groups', () => {
  let cluster: LocalCluster;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    cluster = await LocalCluster.start({ name: 'gp', conductors: 0 });
    await cluster.addConductor(1);
    await cluster.addConductor(2, { SOLGATE_CONDUCTOR_GROUP: 'rack-a' });
    const api = cluster.conductor('c1');
    for (const [name, group] of [['n-default', ''], ['n-rack-a', 'rack-a'], ['n-rack-a2', 'Rack-A'], ['n-rack-b', 'rack-b']]) {
      const r = await api.api('POST', '/v1/nodes', { name, driver: 'ipmi', conductor_group: group, driver_info: { ipmi_address: '127.0.0.1', ipmi_port: 9, ipmi_password: 'x' } });
      expect(r.status).toBe(201);
      ids[name] = r.body.uuid;
      cluster.nodes.push({ uuid: r.body.uuid, name });
      await api.api('PUT', `/v1/nodes/${name}/states/console`, { enabled: true });
    }
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('runs each node’s console only on a conductor of its group', async () => {
    await waitFor(async () => (await cluster.sample([ids['n-default'], ids['n-rack-a'], ids['n-rack-a2']])).every((x) => x.serving && x.listening), { what: 'the grouped consoles' });
    const s = await cluster.sample();
    const by = Object.fromEntries(s.map((x) => [x.name, x.conductor]));
    expect(by).toEqual({ 'n-default': 'c1', 'n-rack-a': 'c2', 'n-rack-a2': 'c2', 'n-rack-b': null });
    const node = await cluster.conductor('c1').api('GET', '/v1/nodes/n-rack-a2');
    expect(node.body.conductor_group).toBe('rack-a'); // stored lower-case, as Ironic does
    expect(node.body.conductor).toBe('c2');
  });

  it('reports a node whose group has no live conductor instead of dropping it, and serves it once one joins', async () => {
    const node = await cluster.conductor('c1').api('GET', '/v1/nodes/n-rack-b');
    expect(node.body.console_enabled).toBe(true);
    expect(node.body.conductor).toBeNull();
    expect(node.body.last_error).toMatch(/No conductor is alive in conductor group 'rack-b'/);
    expect((await cluster.conductor('c1').api('GET', '/v1/nodes/n-rack-b/states/console')).body.console_enabled).toBe(false);
    const conductors = await cluster.conductor('c1').api('GET', '/v1/conductors');
    expect(conductors.body.conductors.map((c: any) => [c.hostname, c.conductor_group]).sort()).toEqual([['c1', ''], ['c2', 'rack-a']]);

    // Capital letters in the conductor's group: groups are case-insensitive on both sides (Ironic's rule).
    await cluster.addConductor(3, { SOLGATE_CONDUCTOR_GROUP: 'Rack-B' });
    await waitFor(async () => (await cluster.sample([ids['n-rack-b']]))[0].conductor === 'c3', { what: 'rack-b’s node to serve from c3 (group Rack-B)' });
    const after = await cluster.conductor('c1').api('GET', '/v1/nodes/n-rack-b');
    expect(after.body.last_error).toBeNull();
    expect(after.body.conductor).toBe('c3');
    const c3 = await cluster.conductor('c1').api('GET', '/v1/conductors/c3');
    expect(c3.body.conductor_group).toBe('rack-b');
  });
});
