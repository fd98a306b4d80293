import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ConductorProcess } from '../../support/conductor-process.js';
import { ConsoleClient } from '../../support/console-client.js';
import { enrol, uniquePrefix } from '../../support/fixtures.js';
import { IpmiSimBmc } from '../../support/ipmi-sim.js';
import { RedisServer } from '../../support/redis-server.js';
import { waitFor } from '../../support/wait.js';

const execFileP = promisify(execFile);

/** python-ironicclient from Debian (`baremetal`), with no authentication, as a real API client. */
describe('python-ironicclient against a conductor', () => {
  let redis: RedisServer;
  let bmc: IpmiSimBmc;
  let c: ConductorProcess;

  const baremetal = async (...args: string[]) => {
    const { stdout } = await execFileP('baremetal', ['--os-endpoint', c.apiUrl, '--os-auth-type', 'none', ...args], { timeout: 30_000 });
    return stdout;
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
    bmc = await IpmiSimBmc.start({ nodeName: 'ic-node' });
    c = await ConductorProcess.start({ id: 'c-ic', redisUrl: redis.url, prefix: uniquePrefix('ic') });
    await enrol(c, bmc);
  });
  afterAll(async () => {
    await c?.dispose();
    await bmc?.stop();
    await redis?.stop();
  });

  it('shows, enables and disables a console', async () => {
    expect(JSON.parse(await baremetal('node', 'console', 'show', 'ic-node', '-f', 'json'))).toEqual({ console_enabled: false, console_info: null });
    await baremetal('node', 'console', 'enable', 'ic-node');
    const shown = await waitFor(async () => {
      const s = JSON.parse(await baremetal('node', 'console', 'show', 'ic-node', '-f', 'json'));
      return s.console_enabled ? s : undefined;
    }, { what: 'baremetal to show the console enabled' });
    expect(shown.console_info).toEqual({ type: 'socat', url: expect.stringMatching(/^tcp:\/\/127\.0\.0\.1:\d+$/) });
    const client = await ConsoleClient.connect(shown.console_info.url);
    await client.waitSession();
    bmc.print('ic-node login: ');
    await client.waitFor('ic-node login: ');
    await client.close();
    await baremetal('node', 'console', 'disable', 'ic-node');
    expect(JSON.parse(await baremetal('node', 'console', 'show', 'ic-node', '-f', 'json'))).toEqual({ console_enabled: false, console_info: null });
    const node = JSON.parse(await baremetal('node', 'show', 'ic-node', '-f', 'json'));
    expect(node).toMatchObject({ name: 'ic-node', driver: 'ipmi', console_interface: 'ipmitool-socat', conductor: 'c-ic' });
    expect(node.driver_info.ipmi_password).toBe('******');
  }, 180_000); // six baremetal runs: ~1 s each alone, up to ~10 s each on a loaded two-core box
});
