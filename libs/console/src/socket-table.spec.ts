import { describe, expect, it } from '@jest/globals';
import { createServer } from 'node:net';
import { readListeningSockets, socketKey } from './socket-table.js';

describe('readListeningSockets', () => {
  it('sees an IPv4 and an IPv6 listener without connecting, and forgets them once closed', async () => {
    const v4 = createServer();
    const v6 = createServer();
    await new Promise<void>((r) => v4.listen(0, '127.0.0.1', () => r()));
    await new Promise<void>((r) => v6.listen(0, '::1', () => r()));
    const p4 = (v4.address() as { port: number }).port;
    const p6 = (v6.address() as { port: number }).port;
    const s = await readListeningSockets();
    expect(s.has(socketKey('127.0.0.1', p4))).toBe(true);
    expect(s.has(socketKey('::1', p6))).toBe(true);
    expect(socketKey('::1', p6)).toBe(`[::1]:${p6}`);
    await new Promise((r) => v4.close(r));
    await new Promise((r) => v6.close(r));
    expect((await readListeningSockets()).has(socketKey('127.0.0.1', p4))).toBe(false);
  });
});
