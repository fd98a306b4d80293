import { describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:net';
import { probeTcp } from './failure-detector.js';

/** The crash detector's second channel: only a refused connection proves a process dead. */
describe('probeTcp', () => {
  const listen = (s: Server) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as { port: number }).port)));

  it('accepted when something listens, refused once it closed', async () => {
    const server = createServer((c) => c.destroy());
    const port = await listen(server);
    expect(await probeTcp(`http://127.0.0.1:${port}`, 1000)).toBe('accepted');
    await new Promise((r) => server.close(r));
    expect(await probeTcp(`http://127.0.0.1:${port}`, 1000)).toBe('refused');
  });

  it('a URL it cannot parse is a timeout (unproven), not a death certificate', async () => {
    expect(await probeTcp('not a url', 100)).toBe('timeout');
  });

  it('understands bracketed IPv6 and default ports', async () => {
    const server = createServer((c) => c.destroy());
    await new Promise<void>((r) => server.listen(0, '::1', () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      expect(await probeTcp(`http://[::1]:${port}`, 1000)).toBe('accepted');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
