import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConductorProcess } from '../support/conductor-process.js';
import { ConsoleClient } from '../support/console-client.js';
import { consoleProcessesOf, enrol, setConsole, uniquePrefix, waitConsoleUrl } from '../support/fixtures.js';
import { IpmiSimBmc } from '../support/ipmi-sim.js';
import { tcpAccepts } from '../support/ports.js';
import { findProcesses, isAlive } from '../support/procs.js';
import { RedisServer } from '../support/redis-server.js';
import { BOUNDS_MS, reportMs } from '../support/timing.js';
import { waitFor } from '../support/wait.js';

/**
 * One conductor, real redis-server, real socat + ipmitool, real ipmi_sim: a console end to end as
 * Nova uses it.
 */
describe('ipmitool-socat console end to end', () => {
  let redis: RedisServer;
  let bmc: IpmiSimBmc;
  let conductor: ConductorProcess;
  let uuid: string;

  beforeAll(async () => {
    redis = await RedisServer.start();
    bmc = await IpmiSimBmc.start({ nodeName: 'e2e-node', password: 'S3cr3t-pw' });
    conductor = await ConductorProcess.start({ id: 'c-e2e', redisUrl: redis.url, prefix: uniquePrefix('e2e') });
    uuid = await enrol(conductor, bmc);
  });

  afterAll(async () => {
    await conductor?.dispose();
    await bmc?.stop();
    await redis?.stop();
  });

  it('serves the node’s serial line both ways, and disabling removes every process', async () => {
    await setConsole(conductor, uuid, true);
    const url = await waitConsoleUrl(conductor, uuid);
    expect(url).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const node = await conductor.api('GET', `/v1/nodes/${uuid}`);
    expect(node.body.console_enabled).toBe(true);
    expect(node.body.conductor).toBe('c-e2e');
    expect(node.body.driver_internal_info.allocated_ipmi_terminal_port).toBe(Number(url.split(':').pop()));

    const client = await ConsoleClient.connect(url);
    await client.waitSession();
    bmc.print('\r\nDebian GNU/Linux 12 e2e-node ttyS0\r\n\r\ne2e-node login: ');
    await client.waitFor('e2e-node login: ');
    client.write('root\r');
    await bmc.waitReceived('root\r');
    await client.close();

    await setConsole(conductor, uuid, false);
    await waitFor(async () => !(await tcpAccepts(Number(url.split(':').pop()))), { what: 'the console port to refuse connections' });
    await waitFor(() => consoleProcessesOf(uuid).length === 0, { what: 'no socat/ipmitool left for the node' });
    const r = await conductor.api('GET', `/v1/nodes/${uuid}/states/console`);
    expect(r.body).toEqual({ console_enabled: false, console_info: null });
  });

  it('gives a working session to a client that reconnects at once', async () => {
    await setConsole(conductor, uuid, true);
    const url = await waitConsoleUrl(conductor, uuid);
    const first = await ConsoleClient.connect(url);
    await first.waitSession();
    await first.primeIpmiSim();
    first.write('x');
    await bmc.waitReceived('x');
    await first.close();
    const second = await ConsoleClient.connect(url);
    await second.waitSession();
    await second.primeIpmiSim();
    second.write('second-session\r');
    await bmc.waitReceived('second-session\r');
    bmc.print('hello-second');
    await second.waitFor('hello-second');
    expect(second.received).not.toContain('already active');
    await second.close();
  });

  it('restarts a killed socat on the same URL and says why in last_error', async () => {
    const url = await waitConsoleUrl(conductor, uuid);
    const [socat] = findProcesses('socat', `${uuid}.pid`).filter((p) => p.argv[0].endsWith('socat'));
    expect(socat).toBeDefined();
    const t0 = Date.now();
    process.kill(socat.pid, 'SIGKILL');
    await waitFor(() => !isAlive(socat.pid), { timeoutMs: 5000, what: 'the killed socat to be gone' });
    await waitFor(
      async () => {
        const r = await conductor.api('GET', `/v1/nodes/${uuid}`);
        return r.body.last_error && findProcesses('socat', `${uuid}.pid`).some((p) => p.pid !== socat.pid && p.argv[0].endsWith('socat'));
      },
      { timeoutMs: BOUNDS_MS.socatRestart, what: 'a new socat' },
    );
    const again = await waitConsoleUrl(conductor, uuid, BOUNDS_MS.socatRestart);
    expect(reportMs('killed socat → serving again', Date.now() - t0, 'target ≤ 2 s, bench/console-enable.ts')).toBeLessThan(BOUNDS_MS.socatRestart);
    expect(again).toBe(url);
    const node = await conductor.api('GET', `/v1/nodes/${uuid}`);
    expect(node.body.last_error).toMatch(/socat exited unexpectedly \(killed by signal SIGKILL\)/);
    const client = await ConsoleClient.connect(again);
    await client.waitSession();
    await client.close();
  });

  it('never shows the BMC password in ps, API responses or logs', async () => {
    for (const p of findProcesses('')) expect(p.argv.join(' ')).not.toContain('S3cr3t-pw');
    const all = [
      await conductor.api('GET', `/v1/nodes/${uuid}`),
      await conductor.api('GET', '/v1/nodes/detail'),
      await conductor.api('PATCH', `/v1/nodes/${uuid}`, [{ op: 'replace', path: '/driver_info/ipmi_password', value: 'S3cr3t-pw' }]),
    ];
    for (const r of all) {
      expect(r.status).toBe(200);
      expect(r.text).not.toContain('S3cr3t-pw');
    }
    expect(all[0].body.driver_info.ipmi_password).toBe('******');
    expect(conductor.logs).not.toContain('S3cr3t-pw');
  });

  it('deletes a node whose console is enabled only after stopping that console', async () => {
    const other = await IpmiSimBmc.start({ nodeName: 'e2e-doomed' });
    try {
      const id = await enrol(conductor, other);
      await setConsole(conductor, id, true);
      const url = await waitConsoleUrl(conductor, id);
      const del = await conductor.api('DELETE', `/v1/nodes/${id}`);
      expect(del.status).toBe(204);
      // synchronous, as in Ironic: by the time DELETE answers, nothing of the console is left
      expect(consoleProcessesOf(id)).toEqual([]);
      expect(await tcpAccepts(Number(url.split(':').pop()))).toBe(false);
      expect((await conductor.api('GET', `/v1/nodes/${id}`)).status).toBe(404);
    } finally {
      await other.stop();
    }
  });

  it('stops every console on SIGTERM and leaves no socat or ipmitool behind', async () => {
    await waitConsoleUrl(conductor, uuid);
    expect(consoleProcessesOf(uuid).length).toBeGreaterThan(0);
    expect(await conductor.stop()).toBe(0);
    expect(consoleProcessesOf(uuid)).toEqual([]);
    expect(conductor.logs).toMatch(/console stopped/);
  });
});
