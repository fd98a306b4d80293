import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RedisServer } from '../../support/redis-server.js';
import { IpmiSimBmc } from '../../support/ipmi-sim.js';

// The test equipment itself: if these fail, every other integration test is meaningless.
describe('test harness', () => {
  let redis: RedisServer;
  let bmc: IpmiSimBmc;

  beforeAll(async () => {
    redis = await RedisServer.start();
    bmc = await IpmiSimBmc.start({ nodeName: 'harness' });
  });
  afterAll(async () => {
    await bmc?.stop();
    await redis?.stop();
  });

  it('runs a real redis-server', async () => {
    const c = redis.client();
    await c.set('k', 'v');
    expect(await c.get('k')).toBe('v');
    await c.quit();
  });

  it('runs a real ipmi_sim whose power state ipmitool can change', async () => {
    expect(await bmc.ipmitool('power', 'status')).toContain('Chassis Power is off');
    expect(await bmc.ipmitool('power', 'on')).toContain('Up/On');
    expect(await bmc.ipmitool('power', 'status')).toContain('Chassis Power is on');
  });
});
