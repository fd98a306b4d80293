import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { BmcFleet, IpmiSession } from '#libs/ipmi';
import { testNode } from '#libs/testing';
import { DEFAULT_BROKER_SETTINGS, IpmitoolSocatConsole, PidDirectory } from '#libs/console';

/**
 * The `sol deactivate` that follows a killed ipmitool (real ipmitool, in-process fleet simulator)
 * runs only while the conductor's lease is valid: a BMC ends the SOL payload whichever session asks,
 * so a conductor that lost its lease would end the session of the node's new owner.
 */
describe('ipmitool-socat: sol deactivate after a kill', () => {
  let fleet: BmcFleet;
  let dir: string;
  let lease = false;
  let driver: IpmitoolSocatConsole;

  beforeAll(async () => {
    fleet = await BmcFleet.start({ count: 1, cipherSuites: [3, 17], password: 'fleet-secret-pw' });
    dir = mkdtempSync(join(tmpdir(), 'ipmitool-deactivate-'));
    const launcher = { spawn: () => { throw new Error('not used: only the deactivate runs here'); } };
    driver = new IpmitoolSocatConsole({ pidDir: new PidDirectory(dir), log: pino({ level: 'silent' }), leaseValid: () => lease, settings: DEFAULT_BROKER_SETTINGS }, { launcher: launcher as never });
  });
  afterAll(async () => {
    await driver?.close();
    await fleet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves the new owner’s session alone without the lease, and clears it with the lease', async () => {
    const bmc = fleet.bmc(1);
    const node = testNode({ driver_info: { ipmi_address: '127.0.0.1', ipmi_port: bmc.port, ipmi_username: 'admin', ipmi_password: 'fleet-secret-pw', ipmi_cipher_suite: 3 } });
    // the node's new owner holds the payload
    const owner = await IpmiSession.open({ host: '127.0.0.1', port: bmc.port, username: 'admin', password: 'fleet-secret-pw', cipherSuite: 3 });
    try {
      const sol = await owner.activateSol();
      const deactivate = (driver as unknown as { deactivate(n: typeof node): Promise<void> }).deactivate.bind(driver);

      lease = false;
      await deactivate(node);
      expect(bmc.solOwner).not.toBeNull();
      expect(bmc.solHistory.at(-1)!.deactivatedAt).toBeNull();
      expect(sol.destroyed).toBe(false);

      // the same call with the lease is what ends a leftover session (here: the owner's, as the BMC would)
      lease = true;
      await deactivate(node);
      expect(bmc.solOwner).toBeNull();
      expect(bmc.solHistory.at(-1)!.endReason).toBe('taken-over');
    } finally {
      await owner.close();
    }
  });
});
