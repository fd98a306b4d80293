import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { IpmiSession, IpmiTransport, type IpmiSessionOptions } from '#libs/ipmi';
import { PyghmiFakeBmc } from '../../support/fakebmc.js';
import { reportMs } from '../../support/timing.js';
import { waitFor } from '../../support/wait.js';

// Our client against pyghmi's fakebmc, a second independent BMC implementation. pyghmi keys its
// server sessions by the client's UDP address and keeps their sequence numbers, so every session
// here uses its own transport (source port), as separate ipmitool processes would.
describe('IpmiSession against pyghmi fakebmc', () => {
  let bmc: PyghmiFakeBmc;
  const transports: IpmiTransport[] = [];
  async function open(over: Partial<IpmiSessionOptions> = {}) {
    const transport = await IpmiTransport.create();
    transports.push(transport);
    return IpmiSession.open({ host: '127.0.0.1', port: bmc.port, username: 'admin', password: 'password', timeoutMs: 500, retries: 2, ...over, transport });
  }

  beforeAll(async () => {
    bmc = await PyghmiFakeBmc.start({ nodeName: 'pynode' });
  });
  afterAll(async () => {
    await bmc?.stop();
    await Promise.all(transports.map((t) => t.close()));
  });

  it('chooses cipher suite 3 from Get Channel Cipher Suites (no suite given), and switches power', async () => {
    const s = await open();
    try {
      expect(s.cipherSuite).toBe(3);
      expect(await s.chassis.powerStatus()).toBe('off');
      await s.chassis.powerOn();
      expect(await s.chassis.powerStatus()).toBe('on');
      await s.chassis.powerOff();
      expect(await s.chassis.powerStatus()).toBe('off');
    } finally {
      await s.close();
    }
  });

  it('SOL (only while powered on): bytes both ways', async () => {
    const s = await open({ cipherSuite: 3 });
    try {
      await expect(s.activateSol()).rejects.toMatchObject({ code: 'PAYLOAD_DISABLED' });
      await s.chassis.powerOn();
      const sol = await s.activateSol();
      let seen = '';
      sol.on('data', (d: Buffer) => (seen += d.toString('latin1')));
      sol.write('root\r');
      await bmc.waitReceived('root\r');
      await waitFor(() => seen.includes('root\r\npynode login: '), { timeoutMs: 5000, what: 'echo from pyghmi' });
      bmc.print('pyghmi says hi\r\n');
      await waitFor(() => seen.includes('pyghmi says hi'), { timeoutMs: 5000, what: 'node output from pyghmi' });
    } finally {
      await s.close();
    }
  });

  it('a second session finds the payload active', async () => {
    const a = await open({ cipherSuite: 3 });
    const b = await open({ cipherSuite: 3 });
    try {
      await a.chassis.powerOn();
      await a.activateSol();
      await expect(b.activateSol()).rejects.toMatchObject({ code: 'PAYLOAD_ALREADY_ACTIVE' });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('wrong password: BAD_PASSWORD at once; unknown user (pyghmi stays silent): UNKNOWN_USER after the retries', async () => {
    let t0 = Date.now();
    await expect(open({ cipherSuite: 3, password: 'nope' })).rejects.toMatchObject({ code: 'BAD_PASSWORD' });
    expect(reportMs('pyghmi BAD_PASSWORD after', Date.now() - t0)).toBeLessThan(3 * 500); // answered: faster than one timeout x 3
    t0 = Date.now();
    await expect(open({ cipherSuite: 3, username: 'ghost', timeoutMs: 300, retries: 1 })).rejects.toMatchObject({ code: 'UNKNOWN_USER' });
    expect(reportMs('pyghmi UNKNOWN_USER after', Date.now() - t0, '2 tries of 300 ms')).toBeLessThan(5 * 600);
  });

  it('cipher suite 17: UNSUPPORTED_CIPHER_SUITE (pyghmi answers with suite 3 algorithms)', async () => {
    await expect(open({ cipherSuite: 17 })).rejects.toMatchObject({ code: 'UNSUPPORTED_CIPHER_SUITE' });
  });
});
