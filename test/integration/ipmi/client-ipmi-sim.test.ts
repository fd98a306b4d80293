import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { initialSolSequence, IpmiError, IpmiSession, type SolConsole } from '#libs/ipmi';
import { IpmiSimBmc } from '../../support/ipmi-sim.js';
import { reportMs } from '../../support/timing.js';
import { waitFor } from '../../support/wait.js';

// Our client against OpenIPMI's ipmi_sim: an independent BMC implementation (suite 3 only, no
// Get Channel Cipher Suites).
describe('IpmiSession against ipmi_sim', () => {
  let bmc: IpmiSimBmc;
  const opts = () => ({ host: '127.0.0.1', port: bmc.ipmiPort, username: bmc.user, password: bmc.password, cipherSuite: 3, timeoutMs: 500, retries: 2 });

  beforeAll(async () => {
    bmc = await IpmiSimBmc.start({ nodeName: 'simnode' });
  });
  afterAll(async () => {
    await bmc?.stop();
  });

  it('reads and changes the power state', async () => {
    const s = await IpmiSession.open(opts());
    try {
      expect(await s.chassis.powerStatus()).toBe('off');
      await s.chassis.powerOn();
      expect(await s.chassis.powerStatus()).toBe('on');
      await s.chassis.powerOff();
      expect(await s.chassis.powerStatus()).toBe('off');
    } finally {
      await s.close();
    }
    expect(await bmc.ipmitool('power', 'status')).toContain('Chassis Power is off');
  });

  it('carries SOL bytes both ways, then deactivates so an immediate reconnect works', async () => {
    for (let round = 0; round < 3; round++) {
      const s = await IpmiSession.open(opts());
      let sol: SolConsole | undefined;
      try {
        sol = await s.activateSol();
        let seen = '';
        sol.on('data', (d: Buffer) => (seen += d.toString('latin1')));
        const marker = `round${round}`;
        bmc.received = '';
        sol.write(`${marker}\r`);
        await bmc.waitReceived(`${marker}\r`);
        // the getty-like node echoes and prompts
        await waitFor(() => seen.includes(`${marker}`) && seen.includes('simnode login: '), { timeoutMs: 3000, what: 'echo through SOL' });
        bmc.print('hello from the node\r\n');
        await waitFor(() => seen.includes('hello from the node'), { timeoutMs: 3000, what: 'node output through SOL' });
      } finally {
        await s.close();
      }
      expect(sol.destroyed).toBe(true);
    }
  });

  it('bulk SOL both ways through ipmi_sim\'s 32-byte inbound buffer (partial acks and NACKs from a real peer)', async () => {
    const s = await IpmiSession.open(opts());
    try {
      const sol = await s.activateSol();
      expect(sol.info.maxCharsPerPacket).toBe(28); // ipmi_sim reports an inbound payload size of 32
      let seen = '';
      sol.on('data', (d: Buffer) => (seen += d.toString('latin1')));
      bmc.received = '';
      const typed = Array.from({ length: 40 }, (_, i) => `line ${i} ${'t'.repeat(40)}`).join('\r');
      sol.write(typed);
      await bmc.waitReceived(typed, 15_000);
      expect(bmc.received.length).toBe(typed.length);
      const printed = Array.from({ length: 100 }, (_, i) => `boot message ${i} ${'p'.repeat(60)}\r\n`).join('');
      bmc.print(printed);
      await waitFor(() => seen.includes(printed), { timeoutMs: 15_000, what: 'bulk node output' });
    } finally {
      await s.close();
    }
  });

  it('survives ipmi_sim keeping the last SOL sequence number across sessions', async () => {
    // What one session used, and where the next session to this BMC will start by default.
    const typeIn = async (text: string, initialSequence?: number) => {
      const s = await IpmiSession.open(opts());
      let first: number;
      try {
        const sol = await s.activateSol({ initialSequence });
        first = sol.info.initialSequence;
        sol.write(text);
        await bmc.waitReceived(text, 3000);
      } finally {
        await s.close();
      }
      return { first, next: initialSolSequence(s.endpointKey) };
    };
    bmc.received = '';
    await typeIn('ZZZZ', 5); // ipmi_sim now remembers "packet 5, 4 characters"
    // Same first sequence number, as two ipmitool runs would both use 1: ipmi_sim usually acks 4
    // characters of a 1-character packet and drops it; we notice the impossible count and send it
    // again as packet 6. (One CI run saw ipmi_sim take packet 5 at once, so both are allowed.)
    const second = await typeIn('a', 5);
    expect(second.first).toBe(5);
    expect([6, 7]).toContain(second.next);
    // By default a session continues after the previous one's last number, so no collision at all.
    expect((await typeIn('b')).first).toBe(second.next);
    expect(bmc.received).toBe('ZZZZab');
  });

  it('reports payload already active, and forceDeactivate takes it over', async () => {
    const a = await IpmiSession.open(opts());
    const b = await IpmiSession.open(opts());
    try {
      const solA = await a.activateSol();
      await expect(b.activateSol()).rejects.toMatchObject({ code: 'PAYLOAD_ALREADY_ACTIVE' });
      const solB = await b.activateSol({ forceDeactivate: true });
      expect(solB.destroyed).toBe(false);
      expect(solA).toBeDefined();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('fails with BAD_PASSWORD and UNKNOWN_USER quickly', async () => {
    const t0 = Date.now();
    await expect(IpmiSession.open({ ...opts(), password: 'wrong' })).rejects.toMatchObject({ code: 'BAD_PASSWORD' });
    await expect(IpmiSession.open({ ...opts(), username: 'nobody' })).rejects.toMatchObject({ code: 'UNKNOWN_USER' });
    // answered, not timed out: waiting out every retry would take 2 x 3 x 500 ms
    expect(reportMs('BAD_PASSWORD + UNKNOWN_USER after', Date.now() - t0)).toBeLessThan(3000);
  });

  it('refuses cipher suite 17 with UNSUPPORTED_CIPHER_SUITE', async () => {
    const e = await IpmiSession.open({ ...opts(), cipherSuite: 17 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(IpmiError);
    expect((e as IpmiError).code).toBe('UNSUPPORTED_CIPHER_SUITE');
  });

  it('falls back to suite 3 quickly when no suite is given (ipmi_sim ignores Get Channel Cipher Suites)', async () => {
    const t0 = Date.now();
    const s = await IpmiSession.open({ ...opts(), cipherSuite: undefined, cipherSuiteProbeTimeoutMs: 300 });
    try {
      expect(s.cipherSuite).toBe(3);
      expect(reportMs('cipher suite fallback after', Date.now() - t0, 'probe timeout 300 ms')).toBeLessThan(5000); // far below ipmitool's 10 s wait
    } finally {
      await s.close();
    }
  });
});
