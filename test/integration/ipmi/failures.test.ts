import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createSocket } from 'node:dgram';
import { BmcFleet, IpmiError, IpmiSession, PrivilegeLevel, type IpmiSessionOptions } from '#libs/ipmi';
import { freeUdpPort } from '../../support/ports.js';
import { reportMs } from '../../support/timing.js';
import { waitFor } from '../../support/wait.js';

// Typed errors within the configured timeouts: bad credentials, unreachable BMCs, a BMC that stops
// answering in the middle of a session, idle-session expiry.
describe('IPMI failure modes', () => {
  let fleet: BmcFleet;
  const fast = { timeoutMs: 300, retries: 2 } as const;
  const opts = (index: number, over: Partial<IpmiSessionOptions> = {}): IpmiSessionOptions => ({
    host: '127.0.0.1',
    port: fleet.bmc(index).port,
    username: 'admin',
    password: 'password',
    cipherSuite: 17,
    ...fast,
    ...over,
  });

  beforeAll(async () => {
    fleet = await BmcFleet.start({
      count: 7,
      sessionTimeoutMs: 600,
      credentials: (i) =>
        i === 5
          ? [
              { name: 'admin', password: 'password' },
              { name: 'viewer', password: 'viewer-pw', privilege: PrivilegeLevel.USER },
            ]
          : [{ name: 'admin', password: 'password' }],
      cipherSuites: [3, 17],
    });
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  async function rejection(p: Promise<unknown>): Promise<IpmiError> {
    const e = await p.then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(IpmiError);
    return e as IpmiError;
  }

  it('nothing listening: UNREACHABLE after (retries+1) x timeoutMs, not 20 s', async () => {
    const port = await freeUdpPort();
    const t0 = Date.now();
    const e = await rejection(IpmiSession.open({ host: '127.0.0.1', port, username: 'admin', password: 'x', ...fast }));
    const took = Date.now() - t0;
    expect(e.code).toBe('UNREACHABLE');
    reportMs('UNREACHABLE after', took, '3 tries of 300 ms');
    expect(took).toBeGreaterThanOrEqual(800); // every try waited its timeout
    expect(took).toBeLessThan(5 * 900); // and then it gave up (generous: a busy machine)
  });

  it('a socket that swallows everything: UNREACHABLE too', async () => {
    const sink = createSocket('udp4');
    await new Promise<void>((r) => sink.bind(0, '127.0.0.1', () => r()));
    try {
      const e = await rejection(IpmiSession.open({ host: '127.0.0.1', port: sink.address().port, username: 'a', password: 'b', ...fast }));
      expect(e.code).toBe('UNREACHABLE');
    } finally {
      sink.close();
    }
  });

  it('unresolvable host name: UNREACHABLE', async () => {
    const e = await rejection(IpmiSession.open({ host: 'no-such-bmc.invalid', username: 'a', password: 'b', ...fast }));
    expect(e.code).toBe('UNREACHABLE');
  });

  it('wrong password and unknown user are told apart', async () => {
    expect((await rejection(IpmiSession.open(opts(1, { password: 'wrong' })))).code).toBe('BAD_PASSWORD');
    expect((await rejection(IpmiSession.open(opts(1, { username: 'mallory' })))).code).toBe('UNKNOWN_USER');
    expect(fleet.bmc(1).activeSessions).toBe(0);
  });

  it('a suite the BMC does not offer, and one we do not implement', async () => {
    const small = await BmcFleet.start({ count: 1, cipherSuites: [3] });
    try {
      const e = await rejection(IpmiSession.open({ host: '127.0.0.1', port: small.bmc(1).port, username: 'admin', password: 'password', cipherSuite: 17, ...fast }));
      expect(e.code).toBe('UNSUPPORTED_CIPHER_SUITE');
    } finally {
      await small.stop();
    }
    expect((await rejection(IpmiSession.open(opts(1, { cipherSuite: 12 })))).code).toBe('UNSUPPORTED_CIPHER_SUITE');
  });

  it('privilege: a USER account cannot be ADMINISTRATOR, and cannot switch power', async () => {
    expect((await rejection(IpmiSession.open(opts(5, { username: 'viewer', password: 'viewer-pw' })))).code).toBe('PRIVILEGE');
    const s = await IpmiSession.open(opts(5, { username: 'viewer', password: 'viewer-pw', privLevel: 'USER' }));
    try {
      expect(await s.chassis.powerStatus()).toBe('off');
      expect((await rejection(s.chassis.powerOn())).code).toBe('PRIVILEGE');
    } finally {
      await s.close();
    }
  });

  it('BMC stops answering mid-session: a command fails with TIMEOUT and the session closes with it', async () => {
    const bmc = fleet.bmc(2);
    const s = await IpmiSession.open(opts(2));
    const closed = new Promise<IpmiError | null>((r) => s.once('close', r));
    bmc.unresponsive = true;
    try {
      const t0 = Date.now();
      expect((await rejection(s.chassis.powerStatus())).code).toBe('TIMEOUT');
      expect(reportMs('command TIMEOUT after', Date.now() - t0, '3 tries of 300 ms')).toBeLessThan(5 * 900);
      expect((await closed)?.code).toBe('TIMEOUT');
      expect(s.isOpen).toBe(false);
      expect((await rejection(s.chassis.powerStatus())).code).toBe('TIMEOUT');
    } finally {
      bmc.unresponsive = false;
      await s.close();
    }
  });

  it('BMC stops answering while SOL is active: the SOL stream ends with closeReason TIMEOUT', async () => {
    const bmc = fleet.bmc(3);
    const s = await IpmiSession.open(opts(3, { keepaliveIntervalMs: 0 }));
    try {
      const sol = await s.activateSol();
      const ended = new Promise<void>((r) => sol.on('close', () => r()));
      bmc.unresponsive = true;
      const t0 = Date.now();
      sol.write('are you there?\r');
      await ended;
      expect(reportMs('SOL stream TIMEOUT after', Date.now() - t0, '3 tries of 300 ms')).toBeLessThan(5 * 900);
      expect(sol.closeReason?.code).toBe('TIMEOUT');
      expect(s.closeReason?.code).toBe('TIMEOUT');
    } finally {
      bmc.unresponsive = false;
      await s.close();
    }
  });

  it('an idle session notices a silent BMC through its keepalive', async () => {
    const bmc = fleet.bmc(4);
    const s = await IpmiSession.open(opts(4, { keepaliveIntervalMs: 300 }));
    const closed = new Promise<IpmiError | null>((r) => s.once('close', r));
    bmc.unresponsive = true;
    const t0 = Date.now();
    try {
      expect((await closed)?.code).toBe('TIMEOUT');
      expect(reportMs('keepalive TIMEOUT after', Date.now() - t0, 'a 300 ms keepalive + 3 tries of 300 ms')).toBeLessThan(5 * (300 + 3 * 300));
    } finally {
      bmc.unresponsive = false;
      await s.close();
    }
  });

  it('a keepalive left unanswered while the BMC keeps sending SOL output does not lose the session; silence does', async () => {
    const bmc = fleet.bmc(7);
    const s = await IpmiSession.open(opts(7, { keepaliveIntervalMs: 300, timeoutMs: 200 }));
    let printer: NodeJS.Timeout | undefined;
    try {
      const sol = await s.activateSol();
      let received = '';
      sol.on('data', (d: Buffer) => (received += d.toString('latin1')));
      // The IPMI answers get lost (as datagrams do in a receive queue that overflows), SOL goes on:
      // several keepalives (300 ms idle, then 3 × 200 ms) go unanswered meanwhile.
      bmc.ignoreIpmiRequests = true;
      let line = 0;
      printer = setInterval(() => bmc.print(`line ${++line}\r\n`), 100);
      await new Promise((r) => setTimeout(r, 2500));
      expect(s.isOpen).toBe(true);
      expect(sol.destroyed).toBe(false);
      expect(received).toContain(`line ${line - 2}\r\n`); // output kept flowing
      // Now the BMC falls silent altogether: the next keepalive loses the session.
      clearInterval(printer);
      printer = undefined;
      const closed = new Promise<IpmiError | null>((r) => s.once('close', r));
      bmc.unresponsive = true;
      expect((await closed)?.code).toBe('TIMEOUT');
      expect(sol.closeReason?.code).toBe('TIMEOUT');
    } finally {
      if (printer) clearInterval(printer);
      bmc.ignoreIpmiRequests = false;
      bmc.unresponsive = false;
      await s.close();
    }
  });

  it('the keepalive holds a session open past the BMC idle timeout; without it the BMC drops the session', async () => {
    const bmc = fleet.bmc(6);
    const kept = await IpmiSession.open(opts(6, { keepaliveIntervalMs: 200 }));
    const idle = await IpmiSession.open(opts(6, { keepaliveIntervalMs: 0 }));
    try {
      await kept.activateSol();
      expect(bmc.activeSessions).toBe(2);
      await new Promise((r) => setTimeout(r, 1500)); // the simulator's sessionTimeoutMs is 600
      expect(bmc.activeSessions).toBe(1);
      expect(await kept.chassis.powerStatus()).toBe('off');
      expect((await rejection(idle.chassis.powerStatus())).code).toBe('TIMEOUT');
      expect(bmc.solOwner).not.toBeNull();
    } finally {
      await kept.close();
      await idle.close();
    }
    await waitFor(() => bmc.solOwner === null, { timeoutMs: 1000, what: 'SOL to be deactivated' });
    expect(bmc.solHistory.at(-1)?.endReason).toBe('deactivated');
  });
});
