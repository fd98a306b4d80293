import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BmcFleet, type SimBmc } from '#libs/ipmi';
import { ConductorProcess } from '../support/conductor-process.js';
import { ConsoleClient } from '../support/console-client.js';
import { consoleProcessesOf, enrol, setConsole, uniquePrefix, waitConsoleUrl } from '../support/fixtures.js';
import { IpmiSimBmc } from '../support/ipmi-sim.js';
import { urlListens } from '../support/net.js';
import { portBlockFor, tcpAccepts } from '../support/ports.js';
import { findProcesses } from '../support/procs.js';
import { RedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait.js';

/**
 * native-ipmi-socat end to end, as the ipmitool-socat tests do it: a real conductor from the built
 * tree, real socat and redis-server; the SOL session is held inside the conductor (libs/ipmi). BMCs:
 * OpenIPMI's ipmi_sim (cipher suite 3) and the fleet simulator in this process (suite 17), which
 * records every SOL activation so the tests can check that no two sessions ever overlapped.
 */

const PASSWORD = 'N4tive-S3cret';
const FLEET_PASSWORD = 'Fl33t-S3cret';
const portOf = (url: string) => Number(url.split(':').pop());

/** Enrol a node for a fleet BMC with the native console interface. */
async function enrolFleet(c: ConductorProcess, bmc: SimBmc, name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await c.api('POST', '/v1/nodes', {
    name,
    driver: 'ipmi',
    console_interface: 'native-ipmi-socat',
    driver_info: { ipmi_address: '127.0.0.1', ipmi_port: bmc.port, ipmi_username: 'admin', ipmi_password: FLEET_PASSWORD, ipmi_cipher_suite: 17, ...extra },
  });
  if (r.status !== 201) throw new Error(`enrol failed: ${r.status} ${r.text}`);
  return r.body.uuid;
}

/** The node's socat listener (not a per-connection child). */
function socatListener(uuid: string) {
  const socats = findProcesses('socat', `${uuid}.pid`).filter((p) => p.argv[0].endsWith('socat'));
  return socats.find((p) => !socats.some((q) => q.pid === p.ppid));
}

describe('native-ipmi-socat console end to end', () => {
  let redis: RedisServer;
  let sim: IpmiSimBmc;
  let fleet: BmcFleet;
  let conductor: ConductorProcess;
  let simNode: string;
  let fleetNode: string;

  beforeAll(async () => {
    redis = await RedisServer.start();
    [sim, fleet] = await Promise.all([IpmiSimBmc.start({ nodeName: 'native-sim', password: PASSWORD }), BmcFleet.start({ count: 3, password: FLEET_PASSWORD, cipherSuites: [3, 17] })]);
    conductor = await ConductorProcess.start({ id: 'c-native', redisUrl: redis.url, prefix: uniquePrefix('native') });
    simNode = await enrol(conductor, sim, { console_interface: 'native-ipmi-socat' });
    fleetNode = await enrolFleet(conductor, fleet.bmc(1), 'native-fleet');
  });

  afterAll(async () => {
    await conductor?.dispose();
    await Promise.all([sim?.stop(), fleet?.stop()]);
    await redis?.stop();
  });

  it('serves an ipmi_sim node (cipher suite 3) both ways through socat and the conductor’s own SOL client', async () => {
    await setConsole(conductor, simNode, true);
    const url = await waitConsoleUrl(conductor, simNode);
    const r = await conductor.api('GET', `/v1/nodes/${simNode}/states/console`);
    expect(r.body).toEqual({ console_enabled: true, console_info: { type: 'socat', url } });
    expect(url).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const socat = socatListener(simNode)!;
    // each client runs the broker's relay to the node's UNIX socket; many at once
    expect(socat.argv.join(' ')).toMatch(new RegExp(`EXEC:perl \\S+/console-relay\\.pl \\S+/lease ${conductor.pidDir}/${simNode}\\.sock,nofork`));
    expect(socat.argv.join(' ')).not.toContain('max-children=1,');

    const client = await ConsoleClient.connect(url);
    await client.waitSession();
    await client.primeIpmiSim();
    sim.print('\r\nDebian GNU/Linux 12 native-sim ttyS0\r\n\r\nnative-sim login: ');
    await client.waitFor('native-sim login: ');
    client.write('root\r');
    await sim.waitReceived('root\r');
    // no ipmitool, no shell: the only processes of this console are socat and socat's per-client child
    expect(consoleProcessesOf(simNode).filter((p) => /ipmitool|sol-session/.test(p.argv.join(' ')))).toEqual([]);
    await client.close();

    await setConsole(conductor, simNode, false);
    await waitFor(async () => !(await tcpAccepts(portOf(url))), { what: 'the console port to refuse connections' });
    await waitFor(() => consoleProcessesOf(simNode).length === 0, { what: 'no socat left for the node' });
    // nothing left active on the BMC: deactivating finds nothing to deactivate
    expect(await sim.ipmitool('sol', 'deactivate')).toContain('already de-activated');
  });

  it('serves a fleet-simulator node (cipher suite 17) both ways', async () => {
    const bmc = fleet.bmc(1);
    await setConsole(conductor, fleetNode, true);
    const url = await waitConsoleUrl(conductor, fleetNode);
    expect((await conductor.api('GET', `/v1/nodes/${fleetNode}/states/console`)).body.console_info.type).toBe('socat');
    const client = await ConsoleClient.connect(url);
    await client.waitSession();
    expect(bmc.solOwner).not.toBeNull();
    bmc.print('\r\nnode1 login: ');
    await client.waitFor('node1 login: ');
    client.write('admin\r');
    await bmc.waitReceived('admin\r');
    await client.close();
  });

  it('gives a working session to a client that reconnects at once', async () => {
    const bmc = fleet.bmc(1);
    const url = await waitConsoleUrl(conductor, fleetNode);
    const first = await ConsoleClient.connect(url);
    await first.waitSession();
    first.write('first\r');
    await bmc.waitReceived('first\r');
    await first.close();
    const second = await ConsoleClient.connect(url);
    await second.waitSession();
    second.write('second-session\r');
    await bmc.waitReceived('second-session\r');
    bmc.print('hello-second');
    await second.waitFor('hello-second');
    expect(second.received).not.toContain('already active');
    await second.close();
    expect(bmc.maxConcurrentSolSessions).toBe(1);
  });

  it('restarts a killed socat on the same URL within 2 s and says why in last_error', async () => {
    const url = await waitConsoleUrl(conductor, fleetNode);
    const socat = socatListener(fleetNode);
    expect(socat).toBeDefined();
    const t0 = Date.now();
    process.kill(socat!.pid, 'SIGKILL');
    await waitFor(
      async () => {
        const r = await conductor.api('GET', `/v1/nodes/${fleetNode}`);
        const again = socatListener(fleetNode);
        return r.body.last_error && again && again.pid !== socat!.pid;
      },
      { timeoutMs: 2000, what: 'a new socat' },
    );
    const again = await waitConsoleUrl(conductor, fleetNode, 2000);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(again).toBe(url);
    const node = await conductor.api('GET', `/v1/nodes/${fleetNode}`);
    expect(node.body.last_error).toMatch(/socat exited unexpectedly \(killed by signal SIGKILL\)/);
    const client = await ConsoleClient.connect(again);
    await client.waitSession();
    await client.close();
  });

  it('disabling closes the port, leaves no socat and no session on the BMC', async () => {
    const bmc = fleet.bmc(1);
    const url = await waitConsoleUrl(conductor, fleetNode);
    const client = await ConsoleClient.connect(url); // a client still connected when the console is disabled
    await client.waitSession();
    await setConsole(conductor, fleetNode, false);
    await waitFor(async () => !(await tcpAccepts(portOf(url))), { what: 'the console port to refuse connections' });
    await waitFor(() => consoleProcessesOf(fleetNode).length === 0, { what: 'no socat left for the node' });
    await waitFor(() => bmc.activeSessions === 0 && bmc.solOwner === null, { what: 'no IPMI session left on the BMC' });
    await waitFor(() => client.closed, { what: 'the client to be disconnected' });
    expect(bmc.maxConcurrentSolSessions).toBe(1);
  });

  it('bad credentials: the client gets a clear error line, last_error says so, the listener keeps running', async () => {
    const bad = await enrolFleet(conductor, fleet.bmc(2), 'native-badpw', { ipmi_password: 'not-the-password' });
    await setConsole(conductor, bad, true);
    const url = await waitConsoleUrl(conductor, bad);
    const client = await ConsoleClient.connect(url);
    await waitFor(() => client.closed, { what: 'the client to be disconnected' });
    expect(client.received).toMatch(/Error: Unable to establish IPMI v2 \/ RMCP\+ session: wrong password .*\(BAD_PASSWORD\)/);
    const node = await waitFor(
      async () => {
        const r = await conductor.api('GET', `/v1/nodes/${bad}`);
        return r.body.last_error ? r : undefined;
      },
      { what: 'last_error to be set' },
    );
    expect(node.body.last_error).toMatch(/SOL session failed.*wrong password.*BAD_PASSWORD/);
    expect(node.body.driver_internal_info.console_state).toBe('running');
    expect(await waitConsoleUrl(conductor, bad)).toBe(url);
    expect(urlListens(url)).toBe(true);
    expect(conductor.exitCode).toBeUndefined();
    expect(conductor.logs).toMatch(/SOL session failed/);
    expect(conductor.logs).toContain('BAD_PASSWORD');
    expect(fleet.bmc(2).solHistory).toEqual([]);
    await setConsole(conductor, bad, false);
  });

  it('a BMC that stops answering mid-session: the client is told and stays, last_error says so, the session comes back once it answers', async () => {
    const bmc = fleet.bmc(3);
    const node = await enrolFleet(conductor, bmc, 'native-silent');
    await setConsole(conductor, node, true);
    const url = await waitConsoleUrl(conductor, node);
    const client = await ConsoleClient.connect(url);
    await client.waitSession();
    bmc.unresponsive = true;
    client.write('x'); // unacknowledged: the SOL client gives up after its retries (3 x 1 s)
    await client.waitFor('[solgate: BMC session lost, retrying]', 10_000);
    expect(client.closed).toBe(false);
    const r = await waitFor(
      async () => {
        const n = await conductor.api('GET', `/v1/nodes/${node}`);
        return /TIMEOUT/.test(n.body.last_error ?? '') ? n : undefined;
      },
      { what: 'last_error to report the timeout' },
    );
    expect(r.body.driver_internal_info.console_state).toBe('running');
    bmc.unresponsive = false;
    // the broker retries with backoff; the same client sees the session come back, marked in its history
    await client.waitFor('[solgate: BMC session re-established', 20_000);
    client.write('after-the-gap\r');
    await bmc.waitReceived('after-the-gap\r');
    await client.close();
    const again = await ConsoleClient.connect(url);
    await again.waitFor('BMC session lost'); // the late joiner's replay shows the gap
    await again.close();
    await setConsole(conductor, node, false);
    await waitFor(() => bmc.solOwner === null, { what: 'SOL to be released' });
    expect(bmc.maxConcurrentSolSessions).toBe(1);
  });

  it('never shows a native node’s BMC password in ps, API responses or logs', async () => {
    await setConsole(conductor, fleetNode, true);
    const url = await waitConsoleUrl(conductor, fleetNode);
    const client = await ConsoleClient.connect(url);
    await client.waitSession();
    for (const p of findProcesses('')) {
      expect(p.argv.join(' ')).not.toContain(FLEET_PASSWORD);
      expect(p.argv.join(' ')).not.toContain(PASSWORD);
    }
    await client.close();
    const all = [
      await conductor.api('GET', `/v1/nodes/${fleetNode}`),
      await conductor.api('GET', `/v1/nodes/${simNode}`),
      await conductor.api('GET', '/v1/nodes/detail'),
      await conductor.api('GET', `/v1/nodes/${fleetNode}/states/console`),
    ];
    for (const r of all) {
      expect(r.status).toBe(200);
      expect(r.text).not.toContain(FLEET_PASSWORD);
      expect(r.text).not.toContain(PASSWORD);
    }
    expect(all[0].body.driver_info.ipmi_password).toBe('******');
    expect(conductor.logs).toMatch(/SOL session started/);
    expect(conductor.logs).not.toContain(FLEET_PASSWORD);
    expect(conductor.logs).not.toContain(PASSWORD);
  });

  it('stops every console on SIGTERM and leaves no socat and no IPMI session behind', async () => {
    const bmc = fleet.bmc(1);
    const url = await waitConsoleUrl(conductor, fleetNode);
    const client = await ConsoleClient.connect(url);
    await client.waitSession();
    expect(await conductor.stop()).toBe(0);
    expect(consoleProcessesOf(fleetNode)).toEqual([]);
    await waitFor(() => bmc.activeSessions === 0 && bmc.solOwner === null, { timeoutMs: 2000, what: 'no IPMI session left on the BMC' });
  });
});

describe('native-ipmi-socat takeover', () => {
  let redis: RedisServer;
  let fleet: BmcFleet;
  const conductors: ConductorProcess[] = [];
  let uuid: string;

  beforeAll(async () => {
    redis = await RedisServer.start();
    fleet = await BmcFleet.start({ count: 1, password: FLEET_PASSWORD, cipherSuites: [3, 17] });
    const prefix = uniquePrefix('native-tk');
    conductors.push(
      ...(await Promise.all(
        [1, 2].map((n) => ConductorProcess.start({ id: `c${n}`, address: `127.0.0.${n}`, redisUrl: redis.url, prefix, portRange: portBlockFor(prefix), env: { SOLGATE_LOG_LEVEL: 'info' } })),
      )),
    );
    uuid = await enrolFleet(conductors[0], fleet.bmc(1), 'native-tk');
  });

  afterAll(async () => {
    await Promise.all(conductors.map((c) => c.dispose()));
    await fleet?.stop();
    await redis?.stop();
  });

  it('a survivor serves the console within 2 s of a kill -9 of its owner, and the BMC never sees two SOL sessions at once', async () => {
    const bmc = fleet.bmc(1);
    await setConsole(conductors[0], uuid, true);
    const url = await waitConsoleUrl(conductors[0], uuid);
    const owner = conductors.find((c) => url.startsWith(`tcp://${c.address}:`))!;
    const survivor = conductors.find((c) => c !== owner)!;
    // a client is attached on the owner when it dies: its SOL session is left active on the BMC
    const client = await ConsoleClient.connect(url);
    await client.waitSession();
    client.write('before\r');
    await bmc.waitReceived('before\r');
    expect(bmc.solOwner).not.toBeNull();

    const t0 = performance.now();
    await owner.kill9();
    const newUrl = await waitFor(
      async () => {
        const r = await survivor.api('GET', `/v1/nodes/${uuid}/states/console`);
        const u: string | undefined = r.body?.console_info?.url;
        return u && u.startsWith(`tcp://${survivor.address}:`) && urlListens(u) ? u : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 20, what: 'the survivor to serve the console' },
    );
    const ms = performance.now() - t0;
    process.stdout.write(`native takeover: console served by ${survivor.opts.id} ${Math.round(ms)} ms after kill -9 of ${owner.opts.id}\n`);
    expect(ms).toBeLessThan(2000);
    expect(urlListens(url)).toBe(false); // nothing of the dead owner listens

    const again = await ConsoleClient.connect(newUrl);
    await again.waitSession();
    again.write('after\r');
    await bmc.waitReceived('after\r');
    bmc.print('survivor-says-hi');
    await again.waitFor('survivor-says-hi');
    await again.close();
    expect(bmc.solHistory.length).toBeGreaterThanOrEqual(2);
    expect(bmc.maxConcurrentSolSessions).toBeLessThanOrEqual(1);
  });
});
