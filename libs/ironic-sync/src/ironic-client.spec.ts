import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient } from './http.js';
import { ironicBaseUrl, IronicClient } from './ironic-client.js';
import { cloudFileCandidates, KeystoneAuth, loadCloudConfig, StaticTokenAuth } from './keystone.js';

/** A stand-in HTTP server (the port under test is the client's HTTP use; the real Ironic runs in test/e2e/ironic). */
async function serve(handler: (req: IncomingMessage, body: string) => { status: number; headers?: Record<string, string>; body?: unknown }) {
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const r = handler(req, body);
      res.writeHead(r.status, { 'Content-Type': 'application/json', ...r.headers });
      res.end(r.body === undefined ? '' : JSON.stringify(r.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('IronicClient', () => {
  const nodes = Array.from({ length: 7 }, (_, i) => ({ uuid: `00000000-0000-4000-8000-00000000000${i}`, name: `n${i}` }));
  const seen: { url: string; token?: string; version?: string }[] = [];
  let server: Awaited<ReturnType<typeof serve>>;
  let refuseNextToken = false;

  beforeAll(async () => {
    server = await serve((req) => {
      const token = req.headers['x-auth-token'] as string | undefined;
      seen.push({ url: req.url!, token, version: req.headers['x-openstack-ironic-api-version'] as string | undefined });
      if (refuseNextToken && token === 'old') return { status: 401, body: { error_message: '{"faultstring": "Authentication required", "faultcode": "Client"}' } };
      if (req.url === '/baremetal/v1') return { status: 200, headers: { 'X-OpenStack-Ironic-API-Maximum-Version': '1.82' }, body: {} };
      const u = new URL(req.url!, 'http://x');
      if (u.pathname !== '/baremetal/v1/nodes') return { status: 404, body: { error_message: '{"faultstring": "nope"}' } };
      const limit = Number(u.searchParams.get('limit'));
      const marker = u.searchParams.get('marker');
      const start = marker ? nodes.findIndex((n) => n.uuid === marker) + 1 : 0;
      const page = nodes.slice(start, start + limit);
      const next = page.length === limit ? `http://public.example:6385/baremetal/v1/nodes?limit=${limit}&marker=${page[page.length - 1].uuid}` : undefined;
      return { status: 200, body: { nodes: page, ...(next ? { next } : {}) } };
    });
  });
  afterAll(() => server.close());

  it('normalizes the base URL and refuses credentials in it', () => {
    expect(ironicBaseUrl('http://ironic:6385/v1/')).toBe('http://ironic:6385');
    expect(ironicBaseUrl('https://cloud.example/baremetal')).toBe('https://cloud.example/baremetal');
    expect(() => ironicBaseUrl('http://user:pw@ironic:6385')).toThrow(/must not carry credentials/);
    expect(() => ironicBaseUrl('ftp://ironic')).toThrow(/http/);
  });

  it('negotiates the version, pages with limit and the marker of `next`, asks only for the fields it mirrors', async () => {
    const client = new IronicClient(`${server.url}/baremetal/v1`, new StaticTokenAuth('tok'), new HttpClient());
    seen.length = 0;
    const pages: number[] = [];
    const list = await client.listNodes({ pageSize: 3, onPage: (p) => pages.push(p.length) });
    expect(list.map((n) => n.name)).toEqual(nodes.map((n) => n.name));
    expect(pages).toEqual([3, 3, 1]);
    expect(client.version).toBe('1.82');
    expect(seen[0]).toEqual({ url: '/baremetal/v1', token: 'tok', version: undefined });
    const q = new URL(seen[1].url, 'http://x').searchParams;
    expect(q.get('fields')!.split(',')).toEqual(expect.arrayContaining(['uuid', 'name', 'driver_info', 'conductor_group', 'console_interface', 'instance_uuid', 'maintenance']));
    expect(seen.slice(1).every((s) => s.version === '1.82')).toBe(true);
    // an older Ironic is asked only for the fields its version has
    client.version = '1.50';
    expect(client.fields()).toEqual(expect.arrayContaining(['owner', 'traits', 'conductor_group']));
    expect(client.fields()).not.toContain('lessee');
    expect(client.fields()).not.toContain('shard');
    // the `next` link's host is the public one: only its marker is used, against our base URL
    expect(seen.map((s) => s.url.startsWith('/baremetal/'))).toEqual([true, true, true, true]);
  });

  it('renews a refused token once, and says which credentials Ironic refused', async () => {
    let n = 0;
    const auth = { describe: 'Keystone (cloud test)', token: async () => (n++ === 0 ? 'old' : 'new'), invalidate: () => undefined };
    refuseNextToken = true;
    const client = new IronicClient(`${server.url}/baremetal`, auth, new HttpClient());
    await expect(client.negotiate()).resolves.toBe('1.82');
    const always = { describe: 'a token', token: async () => 'old', invalidate: () => undefined };
    await expect(new IronicClient(`${server.url}/baremetal`, always, new HttpClient()).negotiate()).rejects.toMatchObject({
      code: 'AUTH',
      message: expect.stringContaining('Ironic refused a token (401'),
    });
    refuseNextToken = false;
  });

  it('fails clearly when nothing listens', async () => {
    await expect(new IronicClient('http://127.0.0.1:1', new StaticTokenAuth(undefined), new HttpClient({ timeoutMs: 2000 })).negotiate()).rejects.toMatchObject({
      code: 'IRONIC',
      message: expect.stringContaining('cannot reach Ironic'),
    });
  });
});

describe('clouds.yaml and Keystone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'solgate-clouds-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('looks where openstacksdk looks, and merges secure.yaml', () => {
    expect(cloudFileCandidates({ HOME: '/home/op' }, '/work')).toEqual({
      clouds: ['/work/clouds.yaml', '/home/op/.config/openstack/clouds.yaml', '/etc/openstack/clouds.yaml'],
      secure: ['/work/secure.yaml', '/home/op/.config/openstack/secure.yaml', '/etc/openstack/secure.yaml'],
    });
    expect(cloudFileCandidates({ OS_CLIENT_CONFIG_FILE: '/x/c.yaml' }, '/w').clouds[0]).toBe('/x/c.yaml');
    writeFileSync(join(dir, 'clouds.yaml'), 'clouds:\n  prod:\n    auth:\n      auth_url: http://keystone:5000\n      username: sync\n      project_name: admin\n    region_name: R1\n');
    writeFileSync(join(dir, 'secure.yaml'), 'clouds:\n  prod:\n    auth:\n      password: s3cret\n');
    const cfg = loadCloudConfig('prod', { clouds: [join(dir, 'nope.yaml'), join(dir, 'clouds.yaml')], secure: [join(dir, 'secure.yaml')] });
    expect(cfg).toMatchObject({ name: 'prod', region_name: 'R1', auth: { auth_url: 'http://keystone:5000', username: 'sync', password: 's3cret', project_name: 'admin' } });
    expect(() => loadCloudConfig('other', { clouds: [join(dir, 'clouds.yaml')], secure: [] })).toThrow(/cloud "other" is not in .* \(it has: prod\)/);
  });

  it('builds the v3 auth request for password, application credential and system scope', () => {
    const http = new HttpClient();
    const pw = new KeystoneAuth({ name: 'c', auth: { auth_url: 'http://k:5000/v3/', username: 'u', password: 'p', project_name: 'pr', user_domain_name: 'D' } }, http);
    expect(pw.identityUrl).toBe('http://k:5000/v3');
    expect(pw.authRequest()).toEqual({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'u', domain: { name: 'D' }, password: 'p' } } },
        scope: { project: { name: 'pr', domain: { id: 'default' } } },
      },
    });
    const sys = new KeystoneAuth({ name: 'c', auth: { auth_url: 'http://k:5000', user_id: 'abc', password: 'p', system_scope: 'all' } }, http);
    expect(sys.authRequest()).toEqual({ auth: { identity: { methods: ['password'], password: { user: { id: 'abc', password: 'p' } } }, scope: { system: { all: true } } } });
    const ac = new KeystoneAuth({ name: 'c', auth_type: 'v3applicationcredential', auth: { auth_url: 'http://k:5000', application_credential_id: 'id1', application_credential_secret: 'sec' } }, http);
    expect(ac.authRequest()).toEqual({ auth: { identity: { methods: ['application_credential'], application_credential: { id: 'id1', secret: 'sec' } } } });
    expect(() => new KeystoneAuth({ name: 'c', auth_type: 'saml2', auth: { auth_url: 'http://k' } }, http)).toThrow(/not supported/);
  });

  it('authenticates once, finds the baremetal endpoint, renews before expiry, and never puts the password in an error', async () => {
    let posts = 0;
    let now = Date.parse('2026-01-01T00:00:00Z');
    const keystone = await serve((req, body) => {
      posts++;
      const auth = JSON.parse(body).auth;
      if (auth.identity.password.user.password !== 'right') return { status: 401, body: { error: { code: 401, message: 'The request you have made requires authentication.' } } };
      return {
        status: 201,
        headers: { 'X-Subject-Token': `tok-${posts}` },
        body: {
          token: {
            expires_at: new Date(now + 3600_000).toISOString(),
            catalog: [{ type: 'baremetal', endpoints: [{ interface: 'public', region_id: 'R1', url: 'http://ironic-public:6385' }, { interface: 'internal', region_id: 'R1', url: 'http://ironic-int:6385' }] }],
          },
        },
      };
    });
    try {
      const cloud = { name: 'c', interface: 'internal', region_name: 'R1', auth: { auth_url: keystone.url, username: 'u', password: 'right', project_name: 'p' } };
      const auth = new KeystoneAuth(cloud, new HttpClient(), () => now);
      expect(await Promise.all([auth.token(), auth.token()])).toEqual(['tok-1', 'tok-1']);
      expect(await auth.baremetalEndpoint()).toBe('http://ironic-int:6385');
      expect(posts).toBe(1);
      now += 3600_000 - 30_000; // within a minute of expiry
      expect(await auth.token()).toBe('tok-2');
      auth.invalidate();
      expect(await auth.token()).toBe('tok-3');
      const wrong = new KeystoneAuth({ ...cloud, auth: { ...cloud.auth, password: 'wrong-pw' } }, new HttpClient());
      const err = await wrong.token().catch((e) => e);
      expect(err.code).toBe('AUTH');
      expect(err.message).toContain('Keystone refused the credentials of cloud c');
      expect(err.message).not.toContain('wrong-pw');
    } finally {
      await keystone.close();
    }
  });
});
