import { newUuid } from '#libs/common';
import { NodeRepository, validateNodeFields } from '#libs/nodes';
import { closeRedisClient, createRedisClient, Keys } from '#libs/redis';
import { ConductorProcess } from '../test/support/conductor-process.js';
import { uniquePrefix } from '../test/support/fixtures.js';
import { RedisServer } from '../test/support/redis-server.js';
import { summary, table } from './stats.js';

/**
 * The node queries Ironic clients make, against one conductor holding N nodes (default 10,000): the
 * latency of each API call as a client sees it (HTTP round trip included), over R repetitions.
 * Nodes are written straight through the repository (same Lua as the API) so that enrolment does not
 * dominate the run. Usage: node dist/bench/node-queries.js [nodes] [repetitions]
 */
const count = Number(process.argv[2] ?? 10_000);
const reps = Number(process.argv[3] ?? 30);
const now = () => performance.now();

const NOVA_FIELDS = 'uuid,power_state,target_power_state,provision_state,target_provision_state,last_error,maintenance,properties,instance_uuid,traits,resource_class';

const redis = await RedisServer.start();
const prefix = uniquePrefix('bench-q');
const client = createRedisClient(redis.url);
const repo = new NodeRepository(client, new Keys(prefix));
const c = await ConductorProcess.start({ id: 'c-bench-q', redisUrl: redis.url, prefix, env: { SOLGATE_LOG_LEVEL: 'warn' } });
const instances: string[] = [];
try {
  const t0 = now();
  for (let i = 0; i < count; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, count - i) }, (_, j) => {
        const n = i + j;
        const instance = n % 2 === 0 ? newUuid() : null; // half the fleet is deployed
        if (instance) instances.push(instance);
        const fields = validateNodeFields({
          name: `node-${String(n).padStart(5, '0')}`,
          driver: 'ipmi',
          driver_info: { ipmi_address: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, ipmi_username: 'admin', ipmi_password: 'pw' },
          conductor_group: n % 10 === 0 ? 'rack-a' : '',
          resource_class: ['gold', 'silver', 'bronze', 'iron'][n % 4],
          maintenance: n % 100 === 0,
          instance_uuid: instance,
          instance_info: instance ? { image_source: 'glance://image', root_gb: 100 } : {},
          owner: `project-${n % 50}`,
          properties: { cpus: 64, memory_mb: 262_144, local_gb: 1_000 },
          traits: n % 3 === 0 ? ['CUSTOM_GPU'] : [],
        });
        return repo.create(fields, 'available');
      }),
    );
  }
  process.stderr.write(`enrolled ${count} nodes in ${((now() - t0) / 1000).toFixed(1)} s\n`);

  const target = instances[Math.floor(instances.length / 2)];
  const calls: [string, string][] = [
    ['Nova lookup: ?instance_uuid=X&fields=<Nova’s 11>', `/v1/nodes?instance_uuid=${target}&fields=${NOVA_FIELDS}`],
    ['/v1/nodes/detail?instance_uuid=X (old Nova, node show --instance)', `/v1/nodes/detail?instance_uuid=${target}`],
    ['one node: /v1/nodes/{uuid}?fields=<Nova’s 11>', 'ONE'],
    ['list, first page (1,000, default fields)', '/v1/nodes'],
    ['list, limit=100', '/v1/nodes?limit=100'],
    ['filter, few matches: ?maintenance=true', '/v1/nodes?maintenance=true'],
    ['filter: ?resource_class=gold&limit=100', '/v1/nodes?resource_class=gold&limit=100'],
    ['filter: ?associated=true&fields=uuid,instance_uuid (1,000)', '/v1/nodes?associated=true&fields=uuid,instance_uuid'],
    ['filter: ?conductor=c-bench-q&limit=100 (ring owner)', '/v1/nodes?conductor=c-bench-q&limit=100'],
    ['filter: ?conductor_group=rack-a&driver=ipmi&owner=project-0', '/v1/nodes?conductor_group=rack-a&driver=ipmi&owner=project-0'],
    ['sort: ?sort_key=name&sort_dir=desc&limit=100', '/v1/nodes?sort_key=name&sort_dir=desc&limit=100'],
    ['detail page: /v1/nodes/detail?limit=1000', '/v1/nodes/detail?limit=1000'],
  ];
  const oneUuid = (await c.api('GET', `/v1/nodes?instance_uuid=${target}`)).body.nodes[0].uuid;
  const rows: (string | number)[][] = [];
  for (const [label, path0] of calls) {
    const path = path0 === 'ONE' ? `/v1/nodes/${oneUuid}?fields=${NOVA_FIELDS}` : path0;
    const times: number[] = [];
    let items = 0;
    let bytes = 0;
    for (let i = 0; i < reps; i++) {
      const t = now();
      const r = await c.api('GET', path);
      times.push(now() - t);
      if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.text}`);
      items = r.body.nodes?.length ?? 1;
      bytes = r.text.length;
    }
    const s = summary(times);
    rows.push([label, items, Math.round(bytes / 1024), s.p50, s.p90, s.max]);
  }

  // Nova's periodic cache refresh: every node with Nova's fields, following next links
  const refresh: number[] = [];
  for (let i = 0; i < Math.min(reps, 5); i++) {
    const t = now();
    let url: string | undefined = `/v1/nodes?fields=${NOVA_FIELDS}`;
    let seen = 0;
    while (url) {
      const r: { body: { nodes: unknown[]; next?: string } } = await c.api('GET', url);
      seen += r.body.nodes.length;
      url = r.body.next ? r.body.next.slice(r.body.next.indexOf('/v1/')) : undefined;
    }
    if (seen !== count) throw new Error(`refresh saw ${seen} nodes`);
    refresh.push(now() - t);
  }
  const rs = summary(refresh);
  rows.push([`Nova cache refresh: all pages of ?fields=<Nova’s 11>`, count, '', rs.p50, rs.p90, rs.max]);

  console.log(`node queries, ${count} nodes, 1 conductor, ${reps} repetitions each (ms, HTTP round trip included)\n`);
  console.log(table(['call', 'items', 'KiB', 'p50', 'p90', 'max'], rows));
} finally {
  await c.dispose();
  await closeRedisClient(client);
  await redis.stop();
}
