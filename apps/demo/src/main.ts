import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '#libs/common';
import { ConductorProcess, IpmiSimBmc, RedisServer, waitFor } from '#libs/testing';

/**
 * The local demo cluster (scripts/demo.sh): real redis-server, real ipmi_sim BMCs whose serial
 * lines this process plays (a getty: press Enter for a login prompt), real conductors from the
 * built tree. Everything it starts dies with it (parent-death signals), and Ctrl-C stops it cleanly.
 */
const { values } = parseArgs({ options: { nodes: { type: 'string', default: '6' }, conductors: { type: 'string', default: '3' } } });
const nodeCount = Math.max(1, Math.min(50, Number(values.nodes)));
const conductorCount = Math.max(1, Math.min(9, Number(values.conductors)));
const say = (s: string) => process.stdout.write(`${s}\n`);

const logDir = join(packageRoot(), '.tmp', 'demo');
mkdirSync(logDir, { recursive: true });

const redis = await RedisServer.start({ appendonly: true });
say(`redis-server      ${redis.url} (append-only file in ${redis.dir})`);
const bmcs: IpmiSimBmc[] = [];
for (let i = 1; i <= nodeCount; i++) {
  const bmc = await IpmiSimBmc.start({ nodeName: `node${i}` });
  bmcs.push(bmc);
}
say(`ipmi_sim BMCs     ${bmcs.map((b) => `${b.nodeName}=udp/${b.ipmiPort}`).join(' ')}`);

const conductors: ConductorProcess[] = [];
for (let i = 1; i <= conductorCount; i++) {
  conductors.push(
    await ConductorProcess.start({
      id: `conductor-${i}`,
      address: `127.0.0.${i}`,
      apiPort: 6385,
      redisUrl: redis.url,
      prefix: 'solgate',
      portRange: { start: 10000, stop: 11000 },
      env: { SOLGATE_LOG_LEVEL: 'info' },
      logFile: join(logDir, `conductor-${i}.log`),
    }),
  );
}
const api = conductors[0];
say(`conductors        ${conductors.map((c) => `${c.opts.id}=${c.apiUrl}`).join(' ')} (logs in ${logDir})`);

for (const bmc of bmcs) {
  const r = await api.api('POST', '/v1/nodes', { name: bmc.nodeName, driver: 'ipmi', console_interface: 'ipmitool-socat', driver_info: bmc.driverInfo() });
  if (r.status !== 201) throw new Error(`enrolling ${bmc.nodeName} failed: ${r.text}`);
  await api.api('PUT', `/v1/nodes/${bmc.nodeName}/states/console`, { enabled: true });
}
const urls = new Map<string, { url: string; conductor: string }>();
await waitFor(
  async () => {
    for (const bmc of bmcs) {
      if (urls.has(bmc.nodeName)) continue;
      const r = await api.api('GET', `/v1/nodes/${bmc.nodeName}/states/console`);
      if (r.body?.console_enabled) {
        const node = await api.api('GET', `/v1/nodes/${bmc.nodeName}`);
        urls.set(bmc.nodeName, { url: r.body.console_info.url, conductor: node.body.conductor });
      }
    }
    return urls.size === bmcs.length;
  },
  { timeoutMs: 30_000, what: 'every console to serve' },
);

say('');
say('Consoles (press Enter in a console for a login prompt; ~. ends the session):');
for (const bmc of bmcs) {
  const { url, conductor } = urls.get(bmc.nodeName)!;
  const [, host, port] = /^tcp:\/\/(.+):(\d+)$/.exec(url)!;
  say(`  ${bmc.nodeName.padEnd(8)} ${url.padEnd(24)} on ${conductor.padEnd(12)}  socat -,raw,echo=0 TCP:${host}:${port}`);
}
say('');
say('Try:');
say(`  curl -s -H 'X-OpenStack-Ironic-API-Version: 1.78' ${api.apiUrl}/v1/nodes/node1/states/console`);
say(`  baremetal --os-endpoint ${api.apiUrl} --os-auth-type none node console show node1`);
say(`  bin/solgate --redis ${redis.url} conductors`);
say(`  bin/solgate --redis ${redis.url} console show --all`);
say(`  kill -9 ${conductors[conductors.length - 1].pid}   # a conductor crash: its consoles move within 2 s`);
say('');
say('Ctrl-C stops the demo.');

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  say('\nstopping: conductors hand their consoles over and exit...');
  await Promise.all(conductors.map((c) => c.dispose()));
  await Promise.all(bmcs.map((b) => b.stop()));
  await redis.stop();
  say('stopped; nothing left running.');
  process.exit(0);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
