import { describe, expect, it } from '@jest/globals';
import { connectionBudget, readNofileLimit } from './fd-budget.js';

describe('connectionBudget', () => {
  it('keeps a quarter of the descriptors (at least 512) in reserve and gives the API the rest, up to 8192', () => {
    expect(connectionBudget(1024)).toEqual({ maxConnections: 512, reserved: 512, consoleClients: 256, clamped: false });
    expect(connectionBudget(20000)).toEqual({ maxConnections: 8192, reserved: 5000, consoleClients: 2500, clamped: false });
    expect(connectionBudget(4096)).toEqual({ maxConnections: 3072, reserved: 1024, consoleClients: 512, clamped: false });
    expect(connectionBudget(256)).toMatchObject({ maxConnections: 16, consoleClients: 64 });
  });

  it('lowers a configured cap that would eat the reserve, and says so', () => {
    expect(connectionBudget(1024, 100)).toEqual({ maxConnections: 100, reserved: 512, consoleClients: 256, clamped: false });
    expect(connectionBudget(1024, 5000)).toEqual({ maxConnections: 512, reserved: 512, consoleClients: 256, clamped: true });
  });

  it('reads this process’s limit', () => {
    const l = readNofileLimit();
    expect(l.soft).toBeGreaterThan(0);
    expect(l.hard).toBeGreaterThanOrEqual(l.soft);
  });
});
