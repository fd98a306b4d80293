import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BmcFleet, IpmiSession, IpmiTransport, type SolConsole } from '#libs/ipmi';

/** Run `fn` over `items` with at most `limit` in flight. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

// 500 simulated BMCs in one process, 500 client sessions with active SOL on one shared UDP socket.
describe('500 BMCs, 500 SOL sessions on one transport', () => {
  const COUNT = 500;
  let fleet: BmcFleet;
  let transport: IpmiTransport;
  const sessions: IpmiSession[] = [];
  const consoles: SolConsole[] = [];
  const seen: string[] = [];

  beforeAll(async () => {
    fleet = await BmcFleet.start({ count: COUNT });
    transport = await IpmiTransport.create();
  });
  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.close()));
    await transport?.close();
    await fleet?.stop();
  });

  it('opens every session and activates SOL', async () => {
    const t0 = Date.now();
    await pool(fleet.bmcs, 100, async (bmc, i) => {
      const s = await IpmiSession.open({ host: '127.0.0.1', port: bmc.port, username: 'admin', password: 'password', cipherSuite: 17, transport, timeoutMs: 2000 });
      sessions[i] = s;
      const sol = await s.activateSol();
      consoles[i] = sol;
      seen[i] = '';
      sol.on('data', (d: Buffer) => (seen[i] += d.toString('latin1')));
    });
    const took = Date.now() - t0;
    expect(transport.sessionCount).toBe(COUNT);
    expect(fleet.bmcs.every((b) => b.solOwner !== null)).toBe(true);
    process.stderr.write(`[fleet-scale] ${COUNT} sessions + SOL activations in ${took} ms\n`);
  });

  it('carries bytes both ways on every console', async () => {
    const t0 = Date.now();
    consoles.forEach((sol, i) => sol.write(`hello node ${i + 1}\r`));
    fleet.bmcs.forEach((b) => b.print(`console of ${b.name} ok\r\n`));
    await Promise.all(fleet.bmcs.map((b, i) => b.waitReceived(`hello node ${i + 1}\r`, 20_000)));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !fleet.bmcs.every((b, i) => seen[i]!.includes(`console of ${b.name} ok`) && seen[i]!.includes(`${b.name} login: `))) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const [i, b] of fleet.bmcs.entries()) {
      expect(seen[i]).toContain(`console of ${b.name} ok`);
      expect(seen[i]).toContain(`hello node ${i + 1}\r\n${b.name} login: `);
    }
    process.stderr.write(`[fleet-scale] bytes both ways on ${COUNT} consoles in ${Date.now() - t0} ms\n`);
  });

  it('closes every session cleanly: no SOL left active, every activation recorded once', async () => {
    await pool(sessions, 200, (s) => s.close());
    for (const b of fleet.bmcs) {
      expect(b.solOwner).toBeNull();
      expect(b.solHistory).toHaveLength(1);
      expect(b.solHistory[0]!.endReason).toBe('deactivated');
      expect(b.maxConcurrentSolSessions).toBe(1);
      expect(b.activeSessions).toBe(0);
    }
    expect(transport.sessionCount).toBe(0);
  });
});
