import { createServer, createConnection } from 'node:net';
import { createSocket } from 'node:dgram';

/** Whether `host:port` can be bound right now (binds and closes at once). */
export function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A TCP port the kernel says is free right now on `host` (tiny race before the caller binds it). */
export function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen({ port: 0, host, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A UDP port that is free right now on `host`. */
export function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.on('error', reject);
    s.bind(0, host, () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * The console port range of a test cluster, derived from its key prefix: every conductor of one
 * cluster gets the same range (they must: sticky ports are cluster-wide), while clusters of other
 * suites, on this machine at the same time, most likely get another block. Below the ephemeral range.
 */
export function portBlockFor(prefix: string, size = 1000): { start: number; stop: number } {
  let h = 0;
  for (const ch of prefix) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  const blocks = Math.floor((32000 - 12000) / size);
  const start = 12000 + (h % blocks) * size;
  return { start, stop: start + size };
}

/** A contiguous block of `count` TCP ports below the ephemeral range (32768+), checked free on `host`. */
export async function freeTcpPortBlock(count: number, host = '127.0.0.1', min = 12000, max = 32000): Promise<{ start: number; stop: number }> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const start = min + Math.floor(Math.random() * ((max - min - count) / 10)) * 10;
    let ok = true;
    for (let p = start; p < start + count && ok; p++) ok = await canBind(p, host);
    if (ok) return { start, stop: start + count };
  }
  throw new Error(`no free block of ${count} TCP ports on ${host}`);
}

/** true if something accepts TCP connections on host:port (connects and closes at once). */
export function tcpAccepts(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ port, host });
    const timer = setTimeout(() => done(false), timeoutMs);
    function done(v: boolean) {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    }
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}
