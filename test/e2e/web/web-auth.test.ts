import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WebSocket } from 'ws';
import { CLOSE, PROTOCOL, tokenProtocol } from '#libs/console-protocol';
import { ConductorProcess } from '../../support/conductor-process.js';
import { uniquePrefix } from '../../support/fixtures.js';
import { RedisServer } from '../../support/redis-server.js';

const TOKEN = 'web-s3cret-token';

/** With SOLGATE_AUTH_TOKEN set: pages are public, data and the console WebSocket need the token (never in a URL). */
describe('web console with SOLGATE_AUTH_TOKEN', () => {
  let redis: RedisServer;
  let c: ConductorProcess;

  beforeAll(async () => {
    redis = await RedisServer.start();
    c = await ConductorProcess.start({ id: 'auth1', redisUrl: redis.url, prefix: uniquePrefix('webauth'), env: { SOLGATE_AUTH_TOKEN: TOKEN, SOLGATE_LOG_LEVEL: 'info' } });
    const r = await c.api('POST', '/v1/nodes', { name: 'auth-n1', driver: 'ipmi', driver_info: { ipmi_address: '127.0.0.1' } }, { 'X-Auth-Token': TOKEN });
    expect(r.status).toBe(201);
  }, 30_000);

  afterAll(async () => {
    await c?.dispose();
    await redis?.stop();
  });

  /** Outcome of a WebSocket upgrade: the HTTP status it was refused with, or the close code after it opened. */
  function tryWs(path: string, protocols: string[], headers: Record<string, string> = {}, origin?: string): Promise<{ refused?: number; closed?: number; protocol?: string }> {
    return new Promise((resolve) => {
      const ws = new WebSocket(`${c.apiUrl.replace('http', 'ws')}${path}`, protocols, { headers, origin });
      ws.on('unexpected-response', (_req, res) => {
        res.resume();
        resolve({ refused: res.statusCode });
        ws.terminate();
      });
      ws.on('error', () => undefined);
      ws.on('close', (code) => resolve({ closed: code, protocol: ws.protocol }));
    });
  }

  it('serves the pages without the token, with a CSP that allows no inline script', async () => {
    for (const path of ['/ui/', '/ui/nodes/auth-n1/console']) {
      const r = await fetch(`${c.apiUrl}${path}`);
      expect(r.status).toBe(200);
      const csp = r.headers.get('content-security-policy')!;
      expect(csp).toMatch(/script-src 'self'(;|$)/);
      expect(csp).toMatch(/frame-ancestors 'none'/);
      expect(await r.text()).not.toMatch(/<script>(?!<)/);
    }
    const html = await (await fetch(`${c.apiUrl}/ui/`)).text();
    const js = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)![1];
    const asset = await fetch(`${c.apiUrl}${js}`, { headers: { 'Accept-Encoding': 'gzip' } });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  });

  it('answers the data endpoints only with X-Auth-Token', async () => {
    expect((await fetch(`${c.apiUrl}/ui/api/nodes`)).status).toBe(401);
    expect((await fetch(`${c.apiUrl}/ui/api/session`, { headers: { 'X-Auth-Token': 'wrong' } })).status).toBe(401);
    const r = await fetch(`${c.apiUrl}/ui/api/nodes?q=auth`, { headers: { 'X-Auth-Token': TOKEN } });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { nodes: { name: string; state: string }[] };
    expect(body.nodes.map((n: { name: string; state: string }) => [n.name, n.state])).toEqual([['auth-n1', 'disabled']]);
  });

  it('refuses the console WebSocket without the token, and accepts it as a header or a subprotocol', async () => {
    const path = '/ui/nodes/auth-n1/console/ws';
    expect(await tryWs(path, [PROTOCOL])).toEqual({ refused: 401 });
    expect(await tryWs(path, [PROTOCOL, tokenProtocol('wrong')])).toEqual({ refused: 401 });
    // accepted: the node's console is disabled, so the server then closes with DISABLED
    expect(await tryWs(path, [PROTOCOL, tokenProtocol(TOKEN)])).toEqual({ closed: CLOSE.DISABLED, protocol: PROTOCOL });
    expect(await tryWs(path, [PROTOCOL], { 'X-Auth-Token': TOKEN })).toEqual({ closed: CLOSE.DISABLED, protocol: PROTOCOL });
    expect(await tryWs('/ui/nodes/nope/console/ws', [PROTOCOL], { 'X-Auth-Token': TOKEN })).toEqual({ closed: CLOSE.NOT_FOUND, protocol: PROTOCOL });
    // another site's page cannot use a visitor's browser to open it
    expect(await tryWs(path, [PROTOCOL, tokenProtocol(TOKEN)], {}, 'http://evil.example')).toEqual({ refused: 403 });
    // a forged relay credential is refused
    expect(await tryWs(path, [PROTOCOL], { 'X-Solgate-Relay': `v1.c9.${Date.now()}.AAAA.${'A'.repeat(43)}` })).toEqual({ refused: 401 });
    expect(c.logs).not.toContain(TOKEN);
  });
});
