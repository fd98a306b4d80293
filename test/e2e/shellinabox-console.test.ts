import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConductorProcess } from '../support/conductor-process.js';
import { consoleProcessesOf, enrol, setConsole, uniquePrefix, waitConsoleUrl } from '../support/fixtures.js';
import { IpmiSimBmc } from '../support/ipmi-sim.js';
import { tcpAccepts } from '../support/ports.js';
import { findProcesses } from '../support/procs.js';
import { RedisServer } from '../support/redis-server.js';
import { ShellinaboxClient } from '../support/shellinabox-client.js';
import { waitFor } from '../support/wait.js';

const portOf = (url: string) => Number(url.split(':').pop());

/** Type `text` until the node has it (ipmi_sim may drop a session's first SOL packet: bmc-sim pitfall 3). */
async function typeInto(bmc: IpmiSimBmc, c: ShellinaboxClient, text: string): Promise<void> {
  await waitFor(
    async () => {
      c.write(text);
      await new Promise((r) => setTimeout(r, 300));
      return bmc.received.includes(text);
    },
    { timeoutMs: 15_000, what: `the node to receive ${JSON.stringify(text)} from the browser session` },
  );
}

/** Print `text` on the node until the client sees it (the BMC session opens when the first viewer attaches). */
async function printTo(bmc: IpmiSimBmc, clients: ShellinaboxClient[], text: string): Promise<void> {
  await waitFor(
    async () => {
      bmc.print(`\r\n${text}\r\n`);
      await new Promise((r) => setTimeout(r, 300));
      return clients.every((c) => c.received.includes(text));
    },
    { timeoutMs: 15_000, what: `every client to see ${JSON.stringify(text)}: ${JSON.stringify(clients.map((c) => c.received.slice(-200)))}` },
  );
}
/** The node's shellinaboxd servers (not their launcher child nor their per-session supervisors). */
const shellinaboxdOf = (uuid: string) => {
  const all = findProcesses('shellinaboxd', `${uuid}.siab.sock`).filter((p) => /(^|\/)shellinaboxd$/.test(p.argv[0]));
  return all.filter((p) => !all.some((q) => q.pid === p.ppid) && p.ppid !== 1);
};
/** Every process of the node's shellinaboxd (server, launcher, sessions), orphans included. */
const anyShellinaboxdOf = (uuid: string) => findProcesses('shellinaboxd', `${uuid}.siab.sock`);
const ipmitoolsOf = (uuid: string) => findProcesses('ipmitool').filter((p) => /(^|\/)ipmitool$/.test(p.argv[0]) && p.argv.includes('activate') && p.argv.some((a) => a.includes(uuid)));

/**
 * ipmitool-shellinabox end to end, the same lifecycle as the ipmitool-socat console
 * (console-lifecycle.test.ts) and its takeover (cluster/takeover.test.ts): real redis-server,
 * Debian's shellinaboxd behind socat on the node's sticky port, real ipmitool, real ipmi_sim, and a
 * client speaking shellinabox's own page protocol.
 */
describe('ipmitool-shellinabox console end to end', () => {
  let redis: RedisServer;
  let bmc: IpmiSimBmc;
  let conductor: ConductorProcess;
  let uuid: string;
  const clients: ShellinaboxClient[] = [];
  const open = async (url: string) => {
    const c = await ShellinaboxClient.connect(url);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
    bmc = await IpmiSimBmc.start({ nodeName: 'siab-node', password: 'S3cr3t-pw' });
    conductor = await ConductorProcess.start({ id: 'c-siab', redisUrl: redis.url, prefix: uniquePrefix('siab') });
    uuid = await enrol(conductor, bmc, { console_interface: 'ipmitool-shellinabox' });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await conductor?.dispose();
    await bmc?.stop();
    await redis?.stop();
  });

  it('refuses a console_interface it does not know, in Ironic’s error format, storing nothing', async () => {
    const r = await conductor.api('POST', '/v1/nodes', { name: 'bad-iface', driver: 'ipmi', console_interface: 'ipmitool-shellinabox2', driver_info: bmc.driverInfo() });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body.error_message).faultstring).toMatch(/Invalid console_interface "ipmitool-shellinabox2": one of .*ipmitool-shellinabox/);
    expect((await conductor.api('GET', '/v1/nodes/bad-iface')).status).toBe(404);
  });

  it('serves shellinabox’s page on the node’s port; a browser session reaches the node both ways; disabling removes every process', async () => {
    await setConsole(conductor, uuid, true);
    const url = await waitConsoleUrl(conductor, uuid);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const state = await conductor.api('GET', `/v1/nodes/${uuid}/states/console`);
    expect(state.body).toEqual({ console_enabled: true, console_info: { type: 'shellinabox', url } });
    const node = await conductor.api('GET', `/v1/nodes/${uuid}`);
    expect(node.body.driver_internal_info.allocated_ipmi_terminal_port).toBe(portOf(url));
    expect(shellinaboxdOf(uuid)).toHaveLength(1);

    const page = await ShellinaboxClient.page(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/ShellInABox/);

    const client = await open(url);
    await client.waitSession();
    await printTo(bmc, [client], 'siab-node login: ');
    await typeInto(bmc, client, 'root\r');
    // a viewer of the node's broker like any other
    await waitFor(async () => (await conductor.api('GET', `/v1/nodes/${uuid}`)).body.driver_internal_info?.console_viewers === 1, { what: 'the broker to count the browser session' });
    await client.close();

    await setConsole(conductor, uuid, false);
    await waitFor(async () => !(await tcpAccepts(portOf(url))), { what: 'the console port to refuse connections' });
    await waitFor(() => consoleProcessesOf(uuid).length === 0, { what: `no socat/shellinaboxd/ipmitool left for the node: ${JSON.stringify(consoleProcessesOf(uuid).map((p) => p.argv.join(' ')))}` });
    const r = await conductor.api('GET', `/v1/nodes/${uuid}/states/console`);
    expect(r.body).toEqual({ console_enabled: false, console_info: null });
  });

  it('shares one SOL session: three browser sessions, one ipmitool, everyone sees the output, one writes', async () => {
    await setConsole(conductor, uuid, true);
    const url = await waitConsoleUrl(conductor, uuid);
    const a = await open(url);
    await a.waitFor('SOL Session operational');
    const b = await open(url);
    const c = await open(url);
    await printTo(bmc, [a, b, c], 'for-every-viewer');
    expect(ipmitoolsOf(uuid)).toHaveLength(1);
    // the first holds the write lock; the others were told they read only
    await b.waitFor('read-only');
    await c.waitFor('read-only');
    b.write('from-b');
    await typeInto(bmc, a, 'from-a\r');
    expect(bmc.received).not.toContain('from-b');
    // who: the three sessions, via shellinabox
    const who = await conductor.api('GET', `/v1/nodes/${uuid}`);
    expect(who.body.driver_internal_info.console_viewers).toBe(3);
    // and the broker metrics count them under this interface
    const metrics = (await conductor.api('GET', '/metrics')).text;
    expect(metrics).toMatch(/^solgate_console_viewers\{interface="ipmitool-shellinabox"\} 3$/m);
    expect(metrics).toMatch(/^solgate_console_bmc_sessions\{interface="ipmitool-shellinabox"\} 1$/m);
    await Promise.all([a, b, c].map((x) => x.close()));
  });

  it('gives a working session to a client that reconnects at once', async () => {
    const url = await waitConsoleUrl(conductor, uuid);
    // the previous sessions have left the broker (~.): this one writes
    await waitFor(async () => (await conductor.api('GET', `/v1/nodes/${uuid}`)).body.driver_internal_info?.console_viewers === 0, { what: 'the broker to let the sessions go' });
    const second = await open(url);
    await typeInto(bmc, second, 'second-session\r');
    await printTo(bmc, [second], 'hello-second');
    await second.close();
  });

  it('restarts a killed socat and a killed shellinaboxd on the same URL within 2 s and says why in last_error', async () => {
    const url = await waitConsoleUrl(conductor, uuid);
    const [socat] = findProcesses('socat', `${uuid}.pid`).filter((p) => p.argv[0].endsWith('socat'));
    expect(socat).toBeDefined();
    let t0 = Date.now();
    process.kill(socat!.pid, 'SIGKILL');
    await waitFor(async () => (await conductor.api('GET', `/v1/nodes/${uuid}`)).body.last_error && findProcesses('socat', `${uuid}.pid`).some((p) => p.pid !== socat!.pid && p.argv[0].endsWith('socat')), { timeoutMs: 2000, what: 'a new socat' });
    expect(await waitConsoleUrl(conductor, uuid, 2000)).toBe(url);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect((await conductor.api('GET', `/v1/nodes/${uuid}`)).body.last_error).toMatch(/socat exited unexpectedly \(killed by signal SIGKILL\)/);

    const [siab] = shellinaboxdOf(uuid);
    expect(siab).toBeDefined();
    t0 = Date.now();
    process.kill(siab!.pid, 'SIGKILL');
    await waitFor(() => shellinaboxdOf(uuid).some((p) => p.pid !== siab!.pid), { timeoutMs: 3000, what: 'a new shellinaboxd' });
    await waitFor(async () => /shellinaboxd exited/.test((await conductor.api('GET', `/v1/nodes/${uuid}`)).body.last_error ?? ''), { timeoutMs: 3000, what: 'last_error to name shellinaboxd' });
    expect(await waitConsoleUrl(conductor, uuid, 3000)).toBe(url);
    expect(Date.now() - t0).toBeLessThan(3000);
    const client = await open(url);
    await typeInto(bmc, client, 'after-restarts\r');
    await client.close();
  });

  it('never shows the BMC password in ps, API responses or logs', async () => {
    for (const p of findProcesses('')) expect(p.argv.join(' ')).not.toContain('S3cr3t-pw');
    const r = await conductor.api('GET', `/v1/nodes/${uuid}`);
    expect(r.text).not.toContain('S3cr3t-pw');
    expect(conductor.logs).not.toContain('S3cr3t-pw');
  });

  it('deletes a node whose console is enabled only after stopping that console', async () => {
    const other = await IpmiSimBmc.start({ nodeName: 'siab-doomed' });
    try {
      const id = await enrol(conductor, other, { console_interface: 'ipmitool-shellinabox' });
      await setConsole(conductor, id, true);
      const url = await waitConsoleUrl(conductor, id);
      expect(shellinaboxdOf(id)).toHaveLength(1);
      expect((await conductor.api('DELETE', `/v1/nodes/${id}`)).status).toBe(204);
      expect(consoleProcessesOf(id)).toEqual([]);
      expect(await tcpAccepts(portOf(url))).toBe(false);
    } finally {
      await other.stop();
    }
  });

  it('stops every console on SIGTERM and leaves no socat, shellinaboxd or ipmitool behind', async () => {
    await waitConsoleUrl(conductor, uuid);
    expect(shellinaboxdOf(uuid)).toHaveLength(1);
    expect(await conductor.stop()).toBe(0);
    expect(consoleProcessesOf(uuid)).toEqual([]);
    // nor any of shellinaboxd's per-session supervisors (they live outside its process group)
    expect(anyShellinaboxdOf(uuid)).toEqual([]);
  });
});

describe('ipmitool-shellinabox: TLS and takeover between two conductors', () => {
  let redis: RedisServer;
  let bmc: IpmiSimBmc;
  let certDir: string;
  let conductors: ConductorProcess[] = [];
  let uuid: string;
  const clients: ShellinaboxClient[] = [];

  beforeAll(async () => {
    certDir = mkdtempSync(join(tmpdir(), 'siab-cert-'));
    // shellinaboxd wants the key and the certificate in one PEM file named certificate.pem
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem')], { stdio: 'ignore' });
    execFileSync('sh', ['-c', `cat ${join(certDir, 'key.pem')} ${join(certDir, 'cert.pem')} > ${join(certDir, 'certificate.pem')}`]);
    redis = await RedisServer.start();
    bmc = await IpmiSimBmc.start({ nodeName: 'siab-tk', password: 'pw-tk' });
    const prefix = uniquePrefix('siabtk');
    conductors = await Promise.all(
      [1, 2].map((n) => ConductorProcess.start({ id: `s${n}`, address: `127.0.0.${n}`, redisUrl: redis.url, prefix, env: { SOLGATE_TERMINAL_CERT_DIR: certDir, SOLGATE_CONSOLE_CAPTURE: 'always' } })),
    );
    uuid = await enrol(conductors[0]!, bmc, { console_interface: 'ipmitool-shellinabox' });
    await setConsole(conductors[0]!, uuid, true);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(conductors.map((c) => c.dispose()));
    await bmc?.stop();
    await redis?.stop();
    rmSync(certDir, { recursive: true, force: true });
  });

  /** The conductor serving the node, as any live conductor's API says. */
  const owner = async () => {
    for (const c of conductors) {
      const n = await c.api('GET', `/v1/nodes/${uuid}`).catch(() => undefined);
      if (n?.status === 200) return conductors.find((x) => x.opts.id === n.body.conductor);
    }
    return undefined;
  };

  it('serves https with the configured certificate', async () => {
    const url = await waitConsoleUrl(conductors[0]!, uuid, 15_000);
    expect(url).toMatch(/^https:\/\/127\.0\.0\.[12]:\d+$/);
    const page = await ShellinaboxClient.page(`${url}/`);
    expect(page.status).toBe(200);
    const c = await ShellinaboxClient.connect(url);
    clients.push(c);
    await printTo(bmc, [c], 'over-tls');
  });

  it('takes the console over after kill -9 of its owner: the same port on the survivor, the history replayed', async () => {
    const victim0 = (await owner())!;
    const url = await waitConsoleUrl(victim0, uuid, 15_000);
    const victim = (await owner())!;
    const survivor = conductors.find((c) => c !== victim)!;
    bmc.print('\r\nbefore-the-crash\r\n');
    await clients[0]!.waitFor('before-the-crash');
    await new Promise((r) => setTimeout(r, 300)); // the broker's console log batch (~50 ms) reaches Redis
    const t0 = Date.now();
    await victim.kill9();
    const moved = await waitConsoleUrl(survivor, uuid, 15_000, url);
    expect(moved).toBe(`https://${survivor.address}:${portOf(url)}`);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(shellinaboxdOf(uuid)).toHaveLength(1);
    // nothing of the victim's shellinaboxd is left (its launcher killed the group)
    await waitFor(() => shellinaboxdOf(uuid).every((p) => !p.argv.join(' ').includes(victim.pidDir)), { what: 'the victim’s shellinaboxd to be gone' });
    const late = await ShellinaboxClient.connect(moved);
    clients.push(late);
    await late.waitFor('before-the-crash', 15_000);
    await typeInto(bmc, late, 'after-takeover\r');
  });

  it('hands the console over on a graceful stop, to a conductor that joins', async () => {
    const survivor = (await owner())!;
    const joiner = await ConductorProcess.start({ id: 's3', address: '127.0.0.3', redisUrl: redis.url, prefix: survivor.opts.prefix, env: { SOLGATE_TERMINAL_CERT_DIR: certDir } });
    conductors.push(joiner);
    const url = await waitConsoleUrl(joiner, uuid, 15_000);
    if ((await owner()) === survivor) expect(await survivor.stop()).toBe(0);
    const moved = await waitConsoleUrl(joiner, uuid, 15_000, url.includes('127.0.0.3') ? undefined : url);
    expect(moved).toBe(`https://127.0.0.3:${portOf(url)}`);
    await waitFor(() => shellinaboxdOf(uuid).length === 1 && shellinaboxdOf(uuid)[0]!.argv.join(' ').includes(joiner.pidDir), { what: 'one shellinaboxd, the joiner’s' });
    const c = await ShellinaboxClient.connect(moved);
    clients.push(c);
    await c.waitFor('before-the-crash', 15_000);
  });
});
