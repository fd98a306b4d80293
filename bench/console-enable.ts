import { spawn } from 'node:child_process';
import { ConductorProcess } from '../test/support/conductor-process.js';
import { ConsoleClient } from '../test/support/console-client.js';
import { enrol, uniquePrefix } from '../test/support/fixtures.js';
import { IpmiSimBmc } from '../test/support/ipmi-sim.js';
import { freeTcpPort, tcpAccepts } from '../test/support/ports.js';
import { RedisServer } from '../test/support/redis-server.js';
import { summary, table } from './stats.js';

/**
 * PUT enable → console port accepting, PUT enable → API reports it serving, and Nova's
 * disable → enable cycle, over N cycles against one real conductor, socat, ipmitool and ipmi_sim.
 * Baseline in the same process: spawning a bare socat listener and waiting for it to accept, i.e. the
 * floor any socat-based console has on this machine. Usage: node dist/bench/console-enable.js [cycles]
 */
const cycles = Number(process.argv[2] ?? 60);
const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = now() + timeoutMs;
  while (!(await check())) {
    if (now() > deadline) throw new Error('timed out');
    await sleep(2);
  }
}

const redis = await RedisServer.start();
const bmc = await IpmiSimBmc.start({ nodeName: 'bench-node' });
const c = await ConductorProcess.start({ id: 'c-bench', redisUrl: redis.url, prefix: uniquePrefix('bench'), env: { SOLGATE_LOG_LEVEL: 'warn', SOLGATE_ALLOW_PORTS_OUTSIDE_RANGE: 'true' } }); // a fixed port from the kernel's free list
const uuid = await enrol(c, bmc, { driver_info: bmc.driverInfo({ ipmi_terminal_port: await freeTcpPort() }) });
const port = Number((await c.api('GET', `/v1/nodes/${uuid}`)).body.driver_info.ipmi_terminal_port);
const serving = async () => (await c.api('GET', `/v1/nodes/${uuid}/states/console`)).body.console_enabled === true;
const put = (enabled: boolean) => c.api('PUT', `/v1/nodes/${uuid}/states/console`, { enabled });

const baseline: number[] = [];
const toAccepting: number[] = [];
const toApi: number[] = [];
const nova: number[] = [];
const usable: number[] = [];
try {
  for (let i = 0; i < cycles; i++) {
    // baseline: a bare socat on a fresh port
    const bport = await freeTcpPort();
    const t0 = now();
    const s = spawn('socat', [`TCP4-LISTEN:${bport},bind=127.0.0.1,reuseaddr,fork`, 'SYSTEM:true'], { stdio: 'ignore' });
    await until(() => tcpAccepts(bport, '127.0.0.1', 200));
    baseline.push(now() - t0);
    s.kill('SIGKILL');

    // solgate: PUT enable → port accepting, and → API says serving
    const t1 = now();
    await put(true);
    let accepted = 0;
    let api = 0;
    await until(async () => {
      if (!accepted && (await tcpAccepts(port, '127.0.0.1', 200))) accepted = now();
      if (!api && (await serving())) api = now();
      return !!accepted && !!api;
    });
    toAccepting.push(accepted - t1);
    toApi.push(api - t1);
    await sleep(150); // let the probe's SOL session end (ipmitool deactivates on hang-up)

    // Nova's console reset: PUT disable, poll until disabled, PUT enable, poll until enabled; then a client gets a session
    const t2 = now();
    await put(false);
    await until(async () => !(await serving()));
    await put(true);
    await until(serving);
    nova.push(now() - t2);
    const client = await ConsoleClient.connect(`tcp://127.0.0.1:${port}`);
    await client.waitSession();
    usable.push(now() - t2);
    await client.close();
    await put(false);
    await until(async () => !(await tcpAccepts(port, '127.0.0.1', 200)));
    await sleep(100);
  }
} finally {
  await c.dispose();
  await bmc.stop();
  await redis.stop();
}

const rows = [
  ['baseline: spawn bare socat → accepting', baseline],
  ['PUT enable → console port accepting', toAccepting],
  ['PUT enable → GET states/console serving', toApi],
  ['Nova reset: PUT disable … GET enabled', nova],
  ['Nova reset … client sees SOL session', usable],
] as const;
const base = summary(baseline).p50;
console.log(`console enable latency, ${cycles} cycles, 1 conductor, ipmitool-socat on ipmi_sim (ms)\n`);
console.log(
  table(
    ['what', 'n', 'p50', 'p90', 'p99', 'max', 'p50 / baseline'],
    rows.map(([what, v]) => {
      const s = summary([...v]);
      return [what, s.n, s.p50, s.p90, s.p99, s.max, (s.p50 / base).toFixed(1) + '×'];
    }),
  ),
);
