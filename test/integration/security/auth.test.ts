import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig } from '#libs/config';
import { createApiServer } from '../../../apps/conductor/src/api-server.js';
import { PUBLIC_ROUTES } from '../../../apps/conductor/src/api/auth.middleware.js';
import { ConductorRuntime } from '../../../apps/conductor/src/runtime/conductor.runtime.js';
import { uniquePrefix } from '../../support/fixtures.js';
import { RedisServer } from '../../support/redis-server.js';

const TOKEN = 'the-right-token';
const UNAUTHENTICATED = { faultcode: 'Client', faultstring: 'The request you have made requires authentication.', debuginfo: null };

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with the request target exactly as given (no client-side normalisation of dots, case or slashes). */
function raw(port: number, method: string, target: string, headers: Record<string, string> = {}, body?: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path: target, agent: false, headers: { 'X-OpenStack-Ironic-API-Version': '1.78', ...headers } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Every spelling a router or a proxy might treat as the same resource (or that probes for one). */
function variants(path: string, port: number): string[] {
  const segs = path.split('/').filter(Boolean);
  const join = (s: string[]) => `/${s.join('/')}`;
  const out = new Set<string>([path, `${path}?fields=uuid`, `http://127.0.0.1:${port}${path}`, `/${path}`, `/.${path}`, `${path === '/' ? '' : path}/.`]);
  if (segs.length) {
    out.add(path.toUpperCase());
    out.add(join(segs.map((s) => s[0].toUpperCase() + s.slice(1))));
    out.add(path.endsWith('/') ? path.slice(0, -1) : `${path}/`);
    out.add(`/${segs[0]}/../${segs.join('/')}`);
    out.add(`${join(segs)};x=1`);
    const letter = path.search(/[a-z]/);
    if (letter >= 0) {
      const hex = path.charCodeAt(letter).toString(16);
      out.add(`${path.slice(0, letter)}%${hex}${path.slice(letter + 1)}`);
      out.add(`${path.slice(0, letter)}%${hex.toUpperCase()}${path.slice(letter + 1)}`);
    }
    if (segs.length > 1) {
      out.add(`/${segs[0]}//${segs.slice(1).join('/')}`);
      out.add(`/${segs[0]}%2F${segs.slice(1).join('/')}`);
      out.add(`/${segs[0]}/./${segs.slice(1).join('/')}`);
    }
  }
  return [...out];
}

/**
 * Finding 2 of the hardening issue: authentication matched a lower-case `/v1` prefix while the
 * router ignores case. Now every route the server has — enumerated from Express's router at run
 * time, so a route added later is covered without touching this test — answers 401 with Ironic's
 * error body to every spelling and method without the token, except GET/HEAD of the exact public
 * targets; and no refused request reaches a handler, touches Redis or writes a warning.
 */
describe('security: authentication on every route', () => {
  let redis: RedisServer;
  let rt: ConductorRuntime;
  let app: NestExpressApplication;
  let port: number;
  let monitorParent: Redis;
  let monitor: Redis;
  const redisCommands: string[][] = [];
  const logLines: { level: number; msg: string }[] = [];
  const reached: string[] = [];
  let routes: { path: string; methods: string[] }[] = [];
  const pidDir = mkdtempSync(join(tmpdir(), 'solgate-auth-'));

  beforeAll(async () => {
    redis = await RedisServer.start();
    const config = loadConfig({
      SOLGATE_REDIS_URL: redis.url,
      SOLGATE_KEY_PREFIX: uniquePrefix('auth'),
      SOLGATE_CONDUCTOR_ID: 'c-auth',
      SOLGATE_AUTH_TOKEN: TOKEN,
      SOLGATE_TERMINAL_PID_DIR: join(pidDir, 'run'),
      SOLGATE_API_HOST: '127.0.0.1',
      SOLGATE_SOCAT_ADDRESS: '127.0.0.1',
    });
    const log = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(JSON.parse(line)) });
    rt = new ConductorRuntime(config, log);
    rt.pidDir.init();
    app = await createApiServer(rt);
    await app.init();
    // The router's own table: every route any controller registered.
    const router = app.getHttpAdapter().getInstance().router as { stack: { route?: { path: string; methods: Record<string, boolean>; stack: { handle: Function }[] } }[] };
    for (const layer of router.stack) {
      if (!layer.route) continue;
      const r = layer.route;
      routes.push({ path: r.path, methods: Object.keys(r.methods).map((m) => m.toUpperCase()) });
      for (const h of r.stack) {
        const handle = h.handle;
        h.handle = function (this: unknown, ...args: unknown[]) {
          const req = args[0] as { method: string; originalUrl: string };
          reached.push(`${req.method} ${req.originalUrl}`);
          return handle.apply(this, args);
        };
      }
    }
    await app.listen(0, '127.0.0.1');
    port = (app.getHttpServer().address() as AddressInfo).port;
    await rt.redis.ping();
    monitorParent = new Redis(redis.url);
    monitor = await monitorParent.monitor();
    monitor.on('monitor', (_time: string, args: string[]) => void redisCommands.push(args));
  }, 60_000);

  afterAll(async () => {
    monitor?.disconnect();
    monitorParent?.disconnect();
    await app?.close();
    await rt?.close();
    await redis?.stop();
    rmSync(pidDir, { recursive: true, force: true });
  });

  it('finds the routes it must protect in the router (the walk is not vacuous)', () => {
    const paths = routes.map((r) => r.path);
    for (const p of ['/v1/nodes', '/v1/nodes/:ident', '/v1/nodes/:ident/states/console', '/v1/conductors', '/healthz', '/metrics']) expect(paths).toContain(p);
    expect([...PUBLIC_ROUTES].sort()).toEqual(['/', '/healthz', '/metrics', '/readyz', '/v1', '/v1/'].sort());
  });

  it('answers 401 with Ironic’s body to every route, spelling and method without the token; nothing runs behind it', async () => {
    const targets = new Set<string>();
    const requests: { method: string; target: string }[] = [];
    for (const r of routes) {
      const concrete = r.path.replace(/:ident\b/g, 'node-1').replace(/:(\w+)/g, 'x1');
      for (const target of variants(concrete, port)) {
        targets.add(target);
        for (const method of new Set([...r.methods, 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE'])) requests.push({ method, target });
      }
    }
    for (const target of ['/v1/nothing-here', '/nope', '/v1/nodes/node-1/states/power', '/V1', '//', '/%2e%2e/v1/nodes', '/v1/nodes/%2e%2e/conductors']) {
      for (const method of ['GET', 'POST', 'OPTIONS']) requests.push({ method, target });
    }
    requests.push({ method: 'OPTIONS', target: '*' });

    const commandsBefore = redisCommands.length;
    const logsBefore = logLines.length;
    const wrong: string[] = [];
    let allowed = 0;
    const check = async ({ method, target }: { method: string; target: string }, headers: Record<string, string>) => {
      const publicTarget = (method === 'GET' || method === 'HEAD') && PUBLIC_ROUTES.has(target.split('?')[0]);
      const res = await raw(port, method, target, headers).catch((e: Error) => ({ status: -1, headers: {} as Record<string, string>, body: e.message }));
      // Node's HTTP server closes a CONNECT it has no 'connect' listener for: refused before any routing
      if (method === 'CONNECT' && res.status === -1) return;
      if (publicTarget) {
        allowed++;
        if (res.status === 401 || (res.status >= 500 && target.split('?')[0] !== '/readyz')) wrong.push(`${method} ${target} → ${res.status} (a public target)`);
        return;
      }
      const ok =
        res.status === 401 &&
        String(res.headers['content-type']).startsWith('application/json') &&
        (method === 'HEAD' || JSON.stringify(JSON.parse(JSON.parse(res.body).error_message)) === JSON.stringify(UNAUTHENTICATED));
      if (!ok) wrong.push(`${method} ${target} ${JSON.stringify(headers)} → ${res.status} ${res.body.slice(0, 120)}`);
    };
    // no token at all for every request; a wrong one (either header) for every route's own spelling
    const jobs: [{ method: string; target: string }, Record<string, string>][] = requests.map((r) => [r, {}]);
    for (const r of routes) {
      const target = r.path.replace(/:ident\b/g, 'node-1').replace(/:(\w+)/g, 'x1');
      for (const method of r.methods) for (const h of [{ 'X-Auth-Token': 'wrong' }, { Authorization: 'Bearer wrong' }, { 'X-Auth-Token': '' }] as Record<string, string>[]) jobs.push([{ method, target }, h]);
    }
    for (let i = 0; i < jobs.length; i += 16) await Promise.all(jobs.slice(i, i + 16).map(([r, h]) => check(r, h)));
    expect(wrong).toEqual([]);
    expect(requests.length).toBeGreaterThan(300);
    expect(allowed).toBeGreaterThan(0);
    // nothing ran behind the refusals: only public targets reached a handler
    expect(reached.filter((r) => !PUBLIC_ROUTES.has(r.split(' ')[1].split('?')[0]))).toEqual([]);
    await new Promise((r) => setTimeout(r, 200)); // let MONITOR deliver
    expect(redisCommands.slice(commandsBefore).filter((c) => !/^(ping|info)$/i.test(c[0]))).toEqual([]);
    expect(logLines.slice(logsBefore).filter((l) => l.level >= 40)).toEqual([]);
  }, 120_000);

  it('refuses before reading a body: a malformed JSON body without the token is a 401, not a 400', async () => {
    const res = await raw(port, 'POST', '/v1/nodes', { 'Content-Type': 'application/json' }, '{"not json');
    expect(res.status).toBe(401);
    expect(res.headers.connection).toBe('close');
  });

  it('lets the token through on X-Auth-Token or Authorization: Bearer, and any spelling the router accepts then works (no 500)', async () => {
    const before = reached.length;
    const commandsBefore = redisCommands.length;
    expect((await raw(port, 'GET', '/v1/nodes', { 'X-Auth-Token': TOKEN })).status).toBe(200);
    expect((await raw(port, 'GET', '/v1/nodes', { Authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    expect(reached.length).toBeGreaterThan(before);
    await new Promise((r) => setTimeout(r, 200));
    expect(redisCommands.length).toBeGreaterThan(commandsBefore);
    for (const target of ['/V1/NODES', '/V1/Nodes/', '/v1/NODES/node-1', '/V1/CONDUCTORS', '/V1/nodes/node-1/STATES/console']) {
      const res = await raw(port, 'GET', target, { 'X-Auth-Token': TOKEN });
      expect({ target, status: res.status < 500 }).toEqual({ target, status: true });
      expect(res.headers['x-openstack-ironic-api-version']).toBe('1.78');
    }
  });
});
