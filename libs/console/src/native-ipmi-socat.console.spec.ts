import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ConsoleClient as Client } from '../../../test/support/console-client.js';
import { waitFor } from '../../../test/support/wait.js';
import { BmcFleet } from '#libs/ipmi';
import { nodeFieldDefaults, type DriverInfo, type NodeRecord } from '#libs/nodes';
import { NativeIpmiSocatConsole, nativeSessionTarget } from './native-ipmi-socat.console.js';
import { PidDirectory } from './pid-dir.js';
import { DEFAULT_BROKER_SETTINGS } from './broker/brokered-console.driver.js';
import { SOL_BANNER } from './sol-bridge.js';

const log = pino({ level: 'silent' });

function node(uuid: string, driver_info: DriverInfo): NodeRecord {
  return {
    uuid,
    name: null,
    driver: 'ipmi',
    console_interface: 'native-ipmi-socat',
    driver_info,
    conductor_group: '',
    description: null,
    extra: {},
    properties: {},
    ...nodeFieldDefaults(),
    console_rev: 1,
    console_enabled: true,
    console_generation: 1,
    provision_state: 'active',
    created_at: 0,
    updated_at: null,
    rev: 1,
  };
}


/** A client as the relay connects it: the hello line names its TCP peer. */
async function connect(path: string, peer = '127.0.0.1 40001'): Promise<Client> {
  const c = await Client.connect(path);
  c.write(`SOLGATE-PEER ${peer}\n`);
  return c;
}

const until = (check: () => boolean, what: string, timeoutMs = 5000) => waitFor(check, { timeoutMs, intervalMs: 5, what });

describe('nativeSessionTarget', () => {
  it('takes the connection parameters from driver_info; no cipher suite means automatic selection', () => {
    expect(nativeSessionTarget({ ipmi_address: '10.0.0.5', ipmi_port: '6230', ipmi_username: 'admin', ipmi_password: 'pw', ipmi_priv_level: 'OPERATOR' })).toEqual({
      host: '10.0.0.5',
      port: 6230,
      username: 'admin',
      password: 'pw',
      cipherSuite: undefined,
      privLevel: 'OPERATOR',
    });
    expect(nativeSessionTarget({ ipmi_address: '[fd00::1]', ipmi_cipher_suite: 17 })).toMatchObject({ host: 'fd00::1', username: '', password: '', cipherSuite: 17, privLevel: 'ADMINISTRATOR' });
  });

  it.each([
    [{}, /ipmi_address/],
    [{ ipmi_address: 'h,fork' }, /ipmi_address/],
    [{ ipmi_address: 'h', ipmi_port: 0 }, /ipmi_port/],
    [{ ipmi_address: 'h', ipmi_priv_level: 'ROOT' }, /ipmi_priv_level/],
    [{ ipmi_address: 'h', ipmi_cipher_suite: 6 }, /native-ipmi-socat.*cipher suite 6/i],
  ])('refuses %j with INVALID_INPUT', (info, message) => {
    expect(() => nativeSessionTarget(info as DriverInfo)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', message: expect.stringMatching(message) }));
  });
});

describe('NativeIpmiSocatConsole against the fleet simulator', () => {
  let fleet: BmcFleet;
  let dir: string;
  let pidDir: PidDirectory;
  let driver: NativeIpmiSocatConsole;
  let errors: Array<[string, string]>;
  const uuid = '0b9c3f8e-2f6a-4d3b-9a51-7f0c2d1e4a10';

  beforeAll(async () => {
    fleet = await BmcFleet.start({ count: 1, cipherSuites: [3, 17], password: 'fleet-secret-pw' });
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'native-console-'));
    pidDir = new PidDirectory(dir);
    errors = [];
    driver = new NativeIpmiSocatConsole({ pidDir, log, leaseValid: () => true, settings: { ...DEFAULT_BROKER_SETTINGS, lingerMs: 50 } });
    driver.onSessionError = (u, m) => errors.push([u, m]);
  });
  afterEach(async () => {
    await driver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const info = (extra: DriverInfo = {}): DriverInfo => ({
    ipmi_address: '127.0.0.1',
    ipmi_port: fleet.bmc(1).port,
    ipmi_username: 'admin',
    ipmi_password: 'fleet-secret-pw',
    ipmi_cipher_suite: 17,
    ...extra,
  });

  it('serves the node’s serial line through its socket; the last viewer leaving ends the session after the linger', async () => {
    const bmc = fleet.bmc(1);
    const peer = await driver.prepare(node(uuid, info()));
    expect(peer).toEqual({ relay: ['perl', expect.stringMatching(/console-relay\.pl$/), pidDir.leaseFile, pidDir.socketPath(uuid)], maxClients: DEFAULT_BROKER_SETTINGS.maxViewers + 8 });
    expect(statSync(pidDir.socketPath(uuid)).mode & 0o777).toBe(0o600);
    const c = await connect(pidDir.socketPath(uuid));
    await until(() => c.received.includes(SOL_BANNER), 'the banner');
    bmc.print('node1 login: ');
    await until(() => c.received.includes('node1 login: '), 'node output');
    c.socket.write('root\r');
    await bmc.waitReceived('root\r');
    expect(driver.get(uuid)?.who()).toMatchObject([{ address: '127.0.0.1:40001', via: 'tcp', writer: true }]);
    c.socket.destroy();
    await until(() => bmc.activeSessions === 0 && bmc.solOwner === null, 'the BMC to have no session');
    expect(bmc.maxConcurrentSolSessions).toBe(1);
  });

  it('two clients share one SOL session: both see the node, only the first types', async () => {
    const bmc = fleet.bmc(1);
    const before = bmc.solHistory.length;
    await driver.prepare(node(uuid, info()));
    const a = await connect(pidDir.socketPath(uuid), '10.1.1.1 1111');
    await until(() => a.received.includes(SOL_BANNER), 'the banner');
    const b = await connect(pidDir.socketPath(uuid), '10.2.2.2 2222');
    await until(() => b.received.includes('[solgate: read-only: 10.1.1.1:1111 holds the write lock]'), 'the read-only notice');
    b.write('from-b\r');
    a.write('from-a\r');
    await bmc.waitReceived('from-a\r');
    expect(bmc.received).not.toContain('from-b');
    bmc.print('both-see-this');
    await until(() => a.received.includes('both-see-this') && b.received.includes('both-see-this'), 'both to see the output');
    expect(bmc.solHistory.length - before).toBe(1);
    a.socket.destroy();
    b.socket.destroy();
  });

  it('reuses the bridge when socat restarts, and cleanup removes it and its files', async () => {
    const n = node(uuid, info());
    await driver.prepare(n);
    const inode = statSync(pidDir.socketPath(uuid)).ino;
    await driver.prepare(n);
    expect(statSync(pidDir.socketPath(uuid)).ino).toBe(inode);
    expect(driver.brokerCount).toBe(1);
    await driver.cleanup(n, { sessionWasActive: false, reason: 'disabled' });
    expect(driver.brokerCount).toBe(0);
    expect(existsSync(pidDir.socketPath(uuid))).toBe(false);
  });

  it('reports bad credentials to the client and through onSessionError, without the password', async () => {
    await driver.prepare(node(uuid, info({ ipmi_password: 'wrong-password' })));
    const c = await connect(pidDir.socketPath(uuid));
    await until(() => c.closed, 'the client to be disconnected');
    expect(c.received).toMatch(/Error: Unable to establish IPMI v2 \/ RMCP\+ session: .*\(BAD_PASSWORD\)\r\n$/);
    expect(errors).toHaveLength(1);
    expect(errors[0][1]).toMatch(/BAD_PASSWORD/);
    expect(errors[0][1]).not.toContain('wrong-password');
  });

  it('close(): every session and bridge of the conductor ends', async () => {
    const bmc = fleet.bmc(1);
    await driver.prepare(node(uuid, info()));
    const c = await connect(pidDir.socketPath(uuid));
    await until(() => c.received.includes(SOL_BANNER), 'the banner');
    await driver.close();
    await until(() => c.received.includes(Buffer.from('[solgate: console moving to another conductor — reconnect]').toString('latin1')), 'the notice');
    expect(bmc.activeSessions).toBe(0);
    expect(existsSync(pidDir.socketPath(uuid))).toBe(false);
    await until(() => c.closed, 'the client to be disconnected');
    await expect(driver.prepare(node(uuid, info()))).rejects.toThrow(/closed/);
  });
});
