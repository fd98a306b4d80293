import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { BmcFleet, IpmiSession, type SimBmc } from '#libs/ipmi';
import { reportMs } from '../../support/timing.js';
import { waitFor } from '../../support/wait.js';

const execFileP = promisify(execFile);

// The real ipmitool as client of our fleet simulator: the simulator must be a faithful BMC, not a
// mirror of our own client. Then our client against it with suite 17.
describe('ipmitool against the fleet simulator', () => {
  let fleet: BmcFleet;

  beforeAll(async () => {
    fleet = await BmcFleet.start({ count: 3, user: 'admin', password: 'secret-pw' });
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  const base = (bmc: SimBmc, suite?: number) => [
    '-I', 'lanplus', ...(suite === undefined ? [] : ['-C', String(suite)]),
    '-H', '127.0.0.1', '-p', String(bmc.port), '-U', 'admin', '-E', '-N', '1', '-R', '2',
  ];
  const env = { ...process.env, IPMI_PASSWORD: 'secret-pw' };
  async function ipmitool(bmc: SimBmc, suite: number | undefined, ...args: string[]): Promise<{ out: string; code: number }> {
    try {
      const { stdout, stderr } = await execFileP('ipmitool', [...base(bmc, suite), ...args], { env, timeout: 15_000 });
      return { out: stdout + stderr, code: 0 };
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; code?: number };
      return { out: (err.stdout ?? '') + (err.stderr ?? ''), code: err.code ?? -1 };
    }
  }

  for (const suite of [3, 17]) {
    it(`-C ${suite}: power status, on, off, cycle`, async () => {
      const bmc = fleet.bmc(suite === 3 ? 1 : 2);
      expect((await ipmitool(bmc, suite, 'power', 'status')).out).toContain('Chassis Power is off');
      expect((await ipmitool(bmc, suite, 'power', 'on')).out).toContain('Chassis Power Control: Up/On');
      expect((await ipmitool(bmc, suite, 'power', 'status')).out).toContain('Chassis Power is on');
      expect((await ipmitool(bmc, suite, 'power', 'cycle')).out).toContain('Chassis Power Control: Cycle');
      expect((await ipmitool(bmc, suite, 'power', 'off')).out).toContain('Chassis Power Control: Down/Off');
      expect(bmc.power).toBe('off');
    });

    it(`-C ${suite}: sol activate carries bytes both ways, ~. deactivates`, async () => {
      const bmc = fleet.bmc(suite === 3 ? 1 : 2);
      bmc.serial.clearReceived();
      const child = spawn('ipmitool', [...base(bmc, suite), 'sol', 'activate'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
      child.stderr.on('data', (d: Buffer) => (out += d.toString('latin1')));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      try {
        // ipmitool's stdout is block-buffered on a pipe: its banner only shows with the first SOL
        // output, so wait for the activation on the BMC side.
        await waitFor(() => bmc.solOwner !== null, { timeoutMs: 5000, what: 'ipmitool to activate SOL' });
        bmc.print('Linux 6.1 on ttyS0\r\n');
        await waitFor(() => out.includes('Linux 6.1 on ttyS0'), { timeoutMs: 5000, what: 'node output at ipmitool' });
        expect(out).toContain('[SOL Session operational.  Use ~? for help]');
        child.stdin.write('root\r');
        await bmc.waitReceived('root\r');
        await waitFor(() => out.includes(`${bmc.name} login: `), { timeoutMs: 5000, what: 'getty echo at ipmitool' });
        expect(bmc.solOwner).not.toBeNull();
        child.stdin.write('~.');
        expect(await exited).toBe(0);
      } finally {
        child.kill('SIGKILL');
      }
      expect(bmc.solOwner).toBeNull();
      const last = bmc.solHistory[bmc.solHistory.length - 1]!;
      expect(last.endReason).toBe('deactivated');
      expect(bmc.maxConcurrentSolSessions).toBe(1);
    });
  }

  it('without -C, ipmitool negotiates a suite via Get Channel Cipher Suites without the 10 s wait', async () => {
    const t0 = Date.now();
    const r = await ipmitool(fleet.bmc(3), undefined, 'power', 'status');
    expect(r.out).toContain('Chassis Power is');
    expect(reportMs('ipmitool without -C answered after', Date.now() - t0)).toBeLessThan(6000); // well below the 10 s wait it avoids
  });

  it('second sol activate is refused with "payload already active"; sol deactivate kicks the holder', async () => {
    const bmc = fleet.bmc(3);
    const s = await IpmiSession.open({ host: '127.0.0.1', port: bmc.port, username: 'admin', password: 'secret-pw', cipherSuite: 17 });
    try {
      const sol = await s.activateSol();
      const second = await ipmitool(bmc, 17, 'sol', 'activate');
      expect(second.code).not.toBe(0);
      expect(second.out).toContain('SOL payload already active on another session');
      expect(bmc.solActivationsRefused).toBeGreaterThan(0);
      const ended = new Promise<void>((r) => sol.on('close', () => r()));
      expect((await ipmitool(bmc, 17, 'sol', 'deactivate')).code).toBe(0);
      await ended;
      expect(sol.closeReason?.code).toBe('SOL_DEACTIVATED');
      expect((await ipmitool(bmc, 17, 'sol', 'deactivate')).out).toContain('SOL payload already de-activated');
    } finally {
      await s.close();
    }
  });

  it('our client with suite 17: power and SOL both ways', async () => {
    const bmc = fleet.bmc(2);
    const s = await IpmiSession.open({ host: '127.0.0.1', port: bmc.port, username: 'admin', password: 'secret-pw', cipherSuite: 17 });
    try {
      expect(s.cipherSuite).toBe(17);
      await s.chassis.powerOn();
      expect(await s.chassis.powerStatus()).toBe('on');
      const sol = await s.activateSol();
      let seen = '';
      sol.on('data', (d: Buffer) => (seen += d.toString('latin1')));
      sol.write('admin\r');
      await bmc.waitReceived('admin\r');
      await waitFor(() => seen.includes(`admin\r\n${bmc.name} login: `), { timeoutMs: 3000, what: 'echo' });
      bmc.print('x'.repeat(3000));
      await waitFor(() => seen.includes('x'.repeat(3000)), { timeoutMs: 5000, what: 'bulk node output' });
      const big = 'y'.repeat(2000);
      sol.write(big);
      await bmc.waitReceived(big);
    } finally {
      await s.close();
    }
    expect(bmc.solOwner).toBeNull();
    expect(bmc.activeSessions).toBe(0);
  });

  it('auto suite selection picks 17 from the simulator', async () => {
    const bmc = fleet.bmc(1);
    const s = await IpmiSession.open({ host: '127.0.0.1', port: bmc.port, username: 'admin', password: 'secret-pw' });
    try {
      expect(s.cipherSuite).toBe(17);
    } finally {
      await s.close();
    }
  });
});
