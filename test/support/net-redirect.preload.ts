/**
 * Test-only preload (`node --import <dist>/test/support/net-redirect.preload.js`): sends a process's
 * outgoing TCP connections for some host:port pairs to another address, e.g. through a FaultProxy.
 *
 * Why: with Sentinel, a conductor asks Sentinel for the master's address and then connects to it
 * directly, so pointing SOLGATE_REDIS_URL at a proxy would cut only its link to Sentinel. Redirecting
 * every Redis endpoint of one conductor (Sentinel, master, replica) through proxies partitions that
 * conductor from Redis, whichever server is master, without changing the product. The map comes from
 * CHAOS_NET_REDIRECT="127.0.0.1:6379=127.0.0.1:40001,127.0.0.1:26379=127.0.0.1:40002" (a test
 * variable; the conductor's own configuration never reads it).
 */
import net from 'node:net';

type Target = { host: string; port: number };

function parse(spec: string): Map<string, Target> {
  const map = new Map<string, Target>();
  for (const pair of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [from, to] = pair.split('=');
    const m = /^(.+):(\d+)$/.exec(to ?? '');
    if (!from || !m) throw new Error(`CHAOS_NET_REDIRECT: bad pair ${JSON.stringify(pair)} (want host:port=host:port)`);
    map.set(from, { host: m[1], port: Number(m[2]) });
  }
  return map;
}

const redirects = parse(process.env.CHAOS_NET_REDIRECT ?? '');

if (redirects.size > 0) {
  const original = net.createConnection;
  const lookup = (host: unknown, port: unknown): Target | undefined => {
    const h = typeof host === 'string' && host !== 'localhost' ? host : '127.0.0.1';
    return redirects.get(`${h}:${Number(port)}`);
  };
  const redirected = function (this: unknown, ...args: unknown[]) {
    const first = args[0];
    if (first && typeof first === 'object') {
      const o = first as { host?: string; port?: number | string; path?: string };
      const to = o.path === undefined ? lookup(o.host, o.port) : undefined;
      if (to) args[0] = { ...o, host: to.host, port: to.port };
    } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
      const to = lookup(typeof args[1] === 'string' ? args[1] : undefined, first);
      if (to) {
        args[0] = to.port;
        if (typeof args[1] === 'string') args[1] = to.host;
        else args.splice(1, 0, to.host);
      }
    }
    return (original as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.createConnection;
  net.createConnection = redirected;
  net.connect = redirected;
}
