import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BmcFleet, IpmiSession, type IpmiSessionOptions } from '#libs/ipmi';

/**
 * IpmiSession.drop(): a console owner that lost its lease ends its session without a word to the BMC.
 * Found by the chaos soak: a fenced conductor's late Deactivate Payload ended the SOL session its
 * successor had just opened (a BMC deactivates the payload whichever session asks). close() says
 * goodbye (Deactivate Payload, Close Session); drop() says nothing and the BMC keeps the activation
 * until the next owner's activation (with forceDeactivate) or the session timeout clears it.
 */
describe('IPMI session drop (a fenced owner leaves the BMC alone)', () => {
  let fleet: BmcFleet;
  const opts = (index: number): IpmiSessionOptions => ({ host: '127.0.0.1', port: fleet.bmc(index).port, username: 'admin', password: 'password', cipherSuite: 17, timeoutMs: 500, retries: 2 });

  beforeAll(async () => {
    fleet = await BmcFleet.start({ count: 2, credentials: () => [{ name: 'admin', password: 'password' }], cipherSuites: [17] });
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  it('drop() sends nothing: the activation stays on the BMC; the next owner takes it over; close() would have deactivated it', async () => {
    const bmc = fleet.bmc(1);
    const a = await IpmiSession.open(opts(1));
    await a.activateSol();
    const owner = bmc.solOwner;
    expect(owner).not.toBeNull();
    await a.drop();
    await new Promise((r) => setTimeout(r, 300));
    expect(bmc.solOwner).toEqual(owner); // no Deactivate Payload reached the BMC
    expect(bmc.solHistory.at(-1)?.deactivatedAt).toBeNull();
    const b = await IpmiSession.open(opts(1));
    await b.activateSol({ forceDeactivate: true });
    expect(bmc.solHistory.at(-2)?.endReason).toBe('taken-over');
    const bOwner = bmc.solOwner;
    await a.drop(); // idempotent, still silent
    await new Promise((r) => setTimeout(r, 200));
    expect(bmc.solOwner).toEqual(bOwner);
    await b.close();
    expect(bmc.solOwner).toBeNull();
    expect(bmc.solHistory.at(-1)?.endReason).toBe('deactivated');
  });
});
