import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { LocalCluster } from '../../support/cluster.js';
import type { IpmiSimBmc } from '../../support/ipmi-sim.js';
import { NovaIronicDriver, type SerialConsole } from '../../support/nova.js';
import { waitFor } from '../../support/wait.js';
import { Websockify, WsConsoleClient } from '../../support/websockify.js';

/**
 * Nova end to end: Nova's own console code (test/support/nova.ts, with its timing) against three
 * conductors and real ipmi_sim BMCs, ports from the range. What nova-serialproxy needs: the port of
 * the token survives the second reset it runs (validate_console_port), bytes flow both ways through
 * websockify, and after the owner is killed the console comes back elsewhere on the same port.
 */
describe('Nova: get_serial_console, validate_console_port, websockify, takeover', () => {
  let cluster: LocalCluster;
  let nova: NovaIronicDriver;
  const instances: string[] = [];
  /** The conductor Nova talks to: any live one that is not about to be killed. */
  let endpoint = '';

  /** Bytes both ways between a WebSocket client (nova-serialproxy's browser side) and the node. */
  async function bytesBothWays(token: SerialConsole, bmc: IpmiSimBmc, tag: string): Promise<void> {
    const proxy = await Websockify.start(token.host, token.port);
    let ws: WsConsoleClient | undefined;
    try {
      ws = await WsConsoleClient.connect(proxy.url);
      await ws.waitFor('SOL Session operational');
      // ipmi_sim drops the first SOL packet of a session in some cases (see ConsoleClient.primeIpmiSim)
      ws.write('z');
      await new Promise((r) => setTimeout(r, 150));
      bmc.print(`from-node-${tag}\r\n`);
      await ws.waitFor(`from-node-${tag}`);
      ws.write(`to-node-${tag}\r`);
      await bmc.waitReceived(`to-node-${tag}`);
    } finally {
      await ws?.close();
      await proxy.stop();
    }
  }

  beforeAll(async () => {
    cluster = await LocalCluster.start({ name: 'nova', conductors: 3, bmcNodes: 3 });
    endpoint = cluster.api.apiUrl;
    for (const n of cluster.nodes) {
      const instance = randomUUID();
      const r = await cluster.api.api('PATCH', `/v1/nodes/${n.uuid}`, [{ op: 'add', path: '/instance_uuid', value: instance }]);
      if (r.status !== 200) throw new Error(r.text);
      instances.push(instance);
    }
    await cluster.enableAll();
    await cluster.waitAllServing(60_000);
    nova = new NovaIronicDriver({ endpoint: () => endpoint });
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('50 consecutive sequences + port validations keep every port; bytes both ways through websockify on every 10th', async () => {
    const changed: string[] = [];
    const portsByNode = new Map<string, Set<number>>();
    for (let i = 0; i < 50; i++) {
      const k = i % instances.length;
      const token = await nova.getSerialConsole(instances[k]);
      const check = await nova.validateConsolePort(instances[k], String(token.port));
      if (!check.valid) changed.push(`#${i} ${cluster.nodes[k].name}: ${token.port} → ${check.console.port}`);
      portsByNode.set(token.node, (portsByNode.get(token.node) ?? new Set()).add(token.port).add(check.console.port));
      if (i % 10 === 9) await bytesBothWays(check.console, cluster.nodes[k].bmc!, `${i}`);
    }
    expect(changed).toEqual([]);
    // one port per node for the whole run, and no two nodes on one host:port
    expect([...portsByNode.values()].map((s) => s.size)).toEqual([1, 1, 1]);
  }, 1_200_000);

  it('after kill -9 of the owner the console comes back on a survivor with the same port', async () => {
    const k = 0;
    const node = cluster.nodes[k];
    const before = await nova.getSerialConsole(instances[k]);
    const owner = cluster.conductors.find((c) => c.address === before.host)!;
    expect(owner).toBeDefined();
    endpoint = cluster.conductors.find((c) => c !== owner)!.apiUrl; // Nova's endpoint survives
    await owner.kill9();
    const url = await waitFor(
      async () => {
        const r = await fetch(`${endpoint}/v1/nodes/${node.uuid}/states/console`, { headers: { 'X-OpenStack-Ironic-API-Version': '1.78' } });
        const body = (await r.json()) as { console_enabled: boolean; console_info: { url: string } | null };
        return body.console_enabled && !body.console_info!.url.includes(`//${before.host}:`) ? body.console_info!.url : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50, what: `the console of ${node.name} to serve from a survivor` },
    );
    expect(url).toBe(`tcp://${new URL(url.replace('tcp:', 'http:')).hostname}:${before.port}`);
    // Nova's whole path again, through the survivor: same port, new host, bytes both ways
    const after = await nova.getSerialConsole(instances[k]);
    expect(after.port).toBe(before.port);
    expect(after.host).not.toBe(before.host);
    const check = await nova.validateConsolePort(instances[k], String(after.port));
    expect(check.valid).toBe(true);
    await bytesBothWays(check.console, node.bmc!, 'after-takeover');
  }, 300_000);
});
