import { randomUUID } from 'node:crypto';
import { LocalCluster } from '../test/support/cluster.js';
import { NovaIronicDriver } from '../test/support/nova.js';
import { summary, table } from './stats.js';

/**
 * Nova's serial console path against a 3-conductor cluster, with Nova's own code and timing
 * (test/support/nova.ts: _get_node_console_with_reset with BackOffLoopingCall's ~1 s polls and 10 s
 * budget), then nova-serialproxy's validate_console_port (a second full sequence that must return
 * the same port). Consoles are ipmitool-socat on OpenIPMI ipmi_sim BMCs with ports from the range
 * (no ipmi_terminal_port). Sequences rotate over the nodes, one at a time, as one Nova compute does.
 * Usage: node dist/bench/nova-console.js [sequences] [nodes]
 */
const sequences = Number(process.argv[2] ?? 50);
const nodeCount = Number(process.argv[3] ?? 3);
const now = () => performance.now();

const cluster = await LocalCluster.start({ name: 'bnova', conductors: 3, bmcNodes: nodeCount, env: { SOLGATE_LOG_LEVEL: 'warn' } });
try {
  const instances: string[] = [];
  for (const n of cluster.nodes) {
    const instance = randomUUID();
    const r = await cluster.api.api('PATCH', `/v1/nodes/${n.uuid}`, [{ op: 'add', path: '/instance_uuid', value: instance }]);
    if (r.status !== 200) throw new Error(r.text);
    instances.push(instance);
  }
  await cluster.enableAll();
  await cluster.waitAllServing(60_000);
  const nova = new NovaIronicDriver({ endpoint: () => cluster.api.apiUrl });

  const seq: number[] = [];
  const val: number[] = [];
  const seqPolls: number[] = [];
  let portChanged = 0;
  let hostChanged = 0;
  let failures = 0;
  for (let i = 0; i < sequences; i++) {
    const instance = instances[i % instances.length];
    try {
      const t0 = now();
      const token = await nova.getSerialConsole(instance);
      const t1 = now();
      const check = await nova.validateConsolePort(instance, String(token.port));
      const t2 = now();
      seq.push(t1 - t0);
      val.push(t2 - t1);
      seqPolls.push(token.polls);
      if (!check.valid) portChanged++;
      if (check.console.host !== token.host) hostChanged++;
    } catch (e) {
      failures++;
      process.stderr.write(`sequence ${i}: ${(e as Error).message}\n`);
    }
  }
  const s = summary(seq);
  const v = summary(val);
  const p = summary(seqPolls);
  console.log(`Nova console sequence, ${sequences} sequences over ${nodeCount} nodes, 3 conductors, Nova's own polling (ms)\n`);
  console.log(
    table(
      ['what', 'n', 'p50', 'p90', 'max'],
      [
        ['get_serial_console (lookup, GET, disable→poll, enable→poll)', s.n, s.p50, s.p90, s.max],
        ['validate_console_port (the same again, port compared)', v.n, v.p50, v.p90, v.max],
        ['GET …/states/console per sequence (Nova’s polls)', p.n, p.p50, p.p90, p.max],
      ],
    ),
  );
  console.log(`\nvalidated port differed: ${portChanged}/${seq.length}; host differed: ${hostChanged}/${seq.length}; failed sequences: ${failures}`);
} finally {
  await cluster.stop();
}
