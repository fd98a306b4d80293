import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConductorProcess } from '../support/conductor-process.js';
import { ConsoleClient } from '../support/console-client.js';
import { consoleProcessesOf, enrol, setConsole, uniquePrefix, waitConsoleUrl } from '../support/fixtures.js';
import { IpmiSimBmc } from '../support/ipmi-sim.js';
import { freeTcpPort, freeUdpPort, tcpAccepts } from '../support/ports.js';
import { isAlive } from '../support/procs.js';
import { RedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait.js';

/** What a conductor leaves behind when it is killed, and what it cleans up when it comes back. */
describe('conductor crash, restart and leftovers', () => {
  let redis: RedisServer;
  let bmc: IpmiSimBmc;
  let c: ConductorProcess;
  let uuid: string;

  beforeAll(async () => {
    redis = await RedisServer.start();
    bmc = await IpmiSimBmc.start({ nodeName: 'rr-node' });
    c = await ConductorProcess.start({ id: 'c-rr', redisUrl: redis.url, prefix: uniquePrefix('rr') });
    uuid = await enrol(c, bmc);
  });
  afterAll(async () => {
    await c?.dispose();
    await bmc?.stop();
    await redis?.stop();
  });

  it('leaves no listening console when killed with SIGKILL, and serves again after a restart', async () => {
    await setConsole(c, uuid, true);
    const url = await waitConsoleUrl(c, uuid);
    const port = Number(url.split(':').pop());
    const client = await ConsoleClient.connect(url);
    await client.waitSession();
    await c.kill9();
    // parent-death signals: the kernel takes the launcher and socat down, the launcher the rest of each group
    await waitFor(() => consoleProcessesOf(uuid).length === 0, { timeoutMs: 3000, what: 'the dead conductor’s consoles to go' });
    expect(await tcpAccepts(port)).toBe(false);
    await client.close();

    const t0 = Date.now();
    await c.start();
    const again = await waitConsoleUrl(c, uuid);
    expect(again).toBe(url);
    const c2 = await ConsoleClient.connect(again);
    await c2.waitSession();
    await c2.close();
    process.stdout.write(`restart → console serving again in ${Date.now() - t0} ms\n`);
  });

  it('reaps a console left in its pid directory, after checking the process is that console', async () => {
    await c.stop();
    // Plant what a crashed conductor could leave: a socat holding this node's pid file.
    const port = await freeTcpPort();
    const pidFile = join(c.pidDir, `${uuid}.pid`);
    const stray = spawn('socat', [`-L${pidFile}`, `TCP4-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, 'EXEC:/bin/cat'], { detached: true, stdio: 'ignore' });
    await waitFor(() => tcpAccepts(port), { what: 'the stray socat to listen' });
    // ...and an unrelated process whose pid is written in another node's pid file: not ours, never killed.
    const bystander = spawn('sleep', ['30'], { stdio: 'ignore' });
    const otherPid = join(c.pidDir, '00000000-0000-4000-8000-000000000000.pid');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(otherPid, String(bystander.pid));
    await c.start();
    await waitFor(() => !isAlive(stray.pid!), { timeoutMs: 5000, what: 'the stray socat to be reaped' });
    expect(isAlive(bystander.pid!)).toBe(true);
    expect(c.logs).toMatch(/reaping a console left by an earlier run/);
    bystander.kill();
    await waitConsoleUrl(c, uuid);
  });

  it('reaps the socket an ipmitool session was opening on (<uuid>.sol.sock) when killed with SIGKILL meanwhile', async () => {
    // A node whose BMC never answers: its broker's one ipmitool keeps trying to activate SOL while
    // the broker waits for it on <uuid>.sol.sock.
    const r = await c.api('POST', '/v1/nodes', {
      name: 'rr-silent-bmc',
      driver: 'ipmi',
      console_interface: 'ipmitool-socat',
      driver_info: bmc.driverInfo({ ipmi_port: await freeUdpPort() }),
    });
    expect(r.status).toBe(201);
    const silent: string = r.body.uuid;
    await setConsole(c, silent, true);
    const client = await ConsoleClient.connect(await waitConsoleUrl(c, silent)); // on-demand capture: a client opens the session
    const solSocket = join(c.pidDir, `${silent}.sol.sock`);
    await waitFor(() => existsSync(solSocket), { what: 'the broker to wait for ipmitool on its socket' });
    await c.kill9();
    await waitFor(() => consoleProcessesOf(silent).length === 0, { timeoutMs: 3000, what: 'the dead conductor’s consoles to go' });
    expect(existsSync(solSocket)).toBe(true); // nothing but the next start can remove it
    await client.close();

    await c.start();
    await waitConsoleUrl(c, silent); // serving again; with no client, no session is being opened
    expect(existsSync(solSocket)).toBe(false);
  });
});
