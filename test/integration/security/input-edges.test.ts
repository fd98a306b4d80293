import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ConductorProcess } from '../../support/conductor-process.js';
import { uniquePrefix } from '../../support/fixtures.js';
import { RedisServer } from '../../support/redis-server.js';
import { cliFor } from '../cli/cli-harness.js';

function fault(body: any): string {
  expect(typeof body?.error_message).toBe('string');
  return JSON.parse(body.error_message).faultstring;
}

const node = (name: string, info: Record<string, unknown> = {}, extra: unknown = {}) => ({
  name,
  driver: 'ipmi',
  driver_info: { ipmi_address: '127.0.0.1', ipmi_port: 9, ipmi_username: 'admin', ipmi_password: 'pw', ...info },
  extra,
});

const nested = (depth: number): unknown => (depth === 0 ? 'leaf' : { a: nested(depth - 1) });
/** The same as text, for depths JSON.stringify itself cannot reach. */
const nestedText = (depth: number) => `${'{"a":'.repeat(depth)}"leaf"${'}'.repeat(depth)}`;

/**
 * Finding 5 of the hardening issue (and its siblings): bodies too deep, too large or not JSON,
 * numbers Redis refuses, Redis out of memory or gone, and fixed console ports a conductor running
 * as root should not bind — each a 4xx/503 in Ironic's error body, never a 500, nothing stored.
 */
describe('security: input edges', () => {
  let redis: RedisServer;
  let client: Redis;
  let c: ConductorProcess;
  const prefix = uniquePrefix('edges');
  const cli = () => cliFor(redis.url, prefix);

  beforeAll(async () => {
    redis = await RedisServer.start();
    client = new Redis(redis.url);
    c = await ConductorProcess.start({ id: 'c-edges', redisUrl: redis.url, prefix, portRange: { start: 20000, stop: 30000 } });
  }, 60_000);
  afterAll(async () => {
    await c?.dispose();
    client?.disconnect();
    await redis?.stop();
  });

  const count = async () => (await c.api('GET', '/v1/nodes')).body.nodes.length;

  it('refuses JSON nested deeper than 32 levels with a 400 before parsing it, anywhere in the body', async () => {
    const deepArrays = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    for (const [method, path, body] of [
      ['POST', '/v1/nodes', deepArrays],
      ['POST', '/v1/nodes', JSON.stringify(node('deep-extra', {}, 'X')).replace('"X"', nestedText(5000))],
      ['PUT', '/v1/nodes/x/states/console', JSON.stringify({ enabled: nested(100) })],
      ['PATCH', '/v1/nodes/x', JSON.stringify([{ op: 'add', path: '/extra/a', value: nested(40) }])],
    ] as const) {
      const r = await c.api(method, path, body);
      expect({ path, status: r.status, fault: fault(r.body) }).toEqual({ path, status: 400, fault: 'The JSON body nests deeper than 32 levels.' });
    }
    // brackets inside strings do not count, and reasonable nesting is fine
    const ok = await c.api('POST', '/v1/nodes', node('nested-ok', {}, { s: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[', deep: nested(20) }));
    expect(ok.status).toBe(201);
    expect(await count()).toBe(1);
  });

  it('refuses bodies that are not JSON (415) or too large (413)', async () => {
    const text = await fetch(`${c.apiUrl}/v1/nodes`, { method: 'POST', headers: { 'Content-Type': 'text/plain', 'X-OpenStack-Ironic-API-Version': '1.78' }, body: JSON.stringify(node('as-text')) });
    expect(text.status).toBe(415);
    expect(fault(await text.json())).toMatch(/must be JSON/);
    const form = await fetch(`${c.apiUrl}/v1/nodes`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'name=x' });
    expect(form.status).toBe(415);
    const patchType = await c.api('PATCH', '/v1/nodes/nested-ok', JSON.stringify([{ op: 'add', path: '/extra/k', value: 'v' }]), { 'Content-Type': 'application/json-patch+json' });
    expect(patchType.status).toBe(200);
    const big = await c.api('POST', '/v1/nodes', JSON.stringify(node('big', {}, { blob: 'x'.repeat(1_100_000) })));
    expect({ status: big.status, fault: fault(big.body) }).toEqual({ status: 413, fault: 'The request body is too large.' });
    expect(await count()).toBe(1);
  });

  it('answers 400, not 500, for numbers Redis would refuse (a huge positive limit is capped at 1000, as Ironic caps it at max_limit)', async () => {
    for (const [q, status] of [['limit=99999999999999999999', 200], ['limit=1e400', 400], ['limit=-1', 400], ['limit=abc', 400]] as const) {
      const r = await c.api('GET', `/v1/nodes?${q}`);
      expect({ q, status: r.status }).toEqual({ q, status });
      if (status === 400) expect(fault(r.body)).not.toMatch(/internal error/i);
    }
  });

  it('answers 503 with a clear message while Redis is out of memory, stores nothing, and logs it once', async () => {
    const before = await count();
    const logStart = c.logs.length;
    await client.config('SET', 'maxmemory', '1');
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await c.api('POST', '/v1/nodes', node(`oom-${i}`));
        statuses.push(r.status);
        if (i === 0) {
          expect(fault(r.body)).toMatch(/Redis is out of memory .*Nothing was changed/);
          expect(r.headers.get('retry-after')).toBe('5');
        }
      }
      const put = await c.api('PUT', '/v1/nodes/nested-ok/states/console', { enabled: true });
      expect({ statuses, put: put.status }).toEqual({ statuses: [503, 503, 503, 503, 503], put: 503 });
      expect((await c.api('GET', '/v1/nodes')).status).toBe(200); // reads still work
    } finally {
      await client.config('SET', 'maxmemory', '0');
    }
    expect(await count()).toBe(before);
    const failures = c.logs.slice(logStart).split('\n').filter((l) => l.includes('"request failed"'));
    expect(failures.length).toBe(1);
  });

  it('refuses a privileged or out-of-range ipmi_terminal_port at the API and the CLI unless the conductors allow it', async () => {
    const low = await c.api('POST', '/v1/nodes', node('port-22', { ipmi_terminal_port: 22 }));
    expect({ status: low.status, fault: fault(low.body) }).toEqual({ status: 400, fault: expect.stringMatching(/ipmi_terminal_port 22: a privileged port .*SOLGATE_ALLOW_PRIVILEGED_PORTS=true/) });
    const outside = await c.api('POST', '/v1/nodes', node('port-8080', { ipmi_terminal_port: 8080 }));
    expect({ status: outside.status, fault: fault(outside.body) }).toEqual({ status: 400, fault: expect.stringMatching(/ipmi_terminal_port 8080: outside the console port range 20000:30000/) });
    const inside = await c.api('POST', '/v1/nodes', node('port-in', { ipmi_terminal_port: 25000 }));
    expect(inside.status).toBe(201);
    const patch = await c.api('PATCH', '/v1/nodes/port-in', [{ op: 'replace', path: '/driver_info/ipmi_terminal_port', value: 80 }]);
    expect(patch.status).toBe(400);
    const edit = await c.api('PATCH', '/v1/nodes/port-in', [{ op: 'add', path: '/description', value: 'still fine' }]);
    expect(edit.status).toBe(200);

    const env = { SOLGATE_PORT_RANGE: '20000:30000' };
    const refused = await cli()(['nodes', 'create', '--name', 'cli-22', '--address', '10.0.0.1', '--terminal-port', '22'], { env });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/privileged port/);
    const allowed = await cli()(['nodes', 'create', '--name', 'cli-22', '--address', '10.0.0.1', '--terminal-port', '22'], { env: { ...env, SOLGATE_ALLOW_PRIVILEGED_PORTS: 'true' } });
    expect(allowed.code).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'solgate-import-'));
    try {
      writeFileSync(join(dir, 'nodes.csv'), 'name,address,terminal_port\nimp-1,10.0.0.2,25001\nimp-2,10.0.0.3,9999\n');
      const imp = await cli()(['nodes', 'import', join(dir, 'nodes.csv'), '-o', 'json'], { env });
      expect(imp.stdout + imp.stderr).toMatch(/outside the console port range/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const permissive = await ConductorProcess.start({
      id: 'c-edges-2',
      redisUrl: redis.url,
      prefix,
      address: '127.0.0.2',
      // the port range is the cluster's (a conductor with another one refuses to start); the allow-* flags are each conductor's
      env: { SOLGATE_PORT_RANGE: '20000:30000', SOLGATE_ALLOW_PRIVILEGED_PORTS: 'true', SOLGATE_ALLOW_PORTS_OUTSIDE_RANGE: 'yes' },
    });
    try {
      expect((await permissive.api('POST', '/v1/nodes', node('port-23', { ipmi_terminal_port: 23 }))).status).toBe(201);
      expect((await permissive.api('POST', '/v1/nodes', node('port-8081', { ipmi_terminal_port: 8081 }))).status).toBe(201);
    } finally {
      await permissive.dispose();
    }
  }, 60_000);

  it('answers 503, not 500, while Redis is down, and recovers', async () => {
    await redis.kill();
    try {
      const r = await c.api('GET', '/v1/nodes');
      expect({ status: r.status, fault: fault(r.body) }).toEqual({ status: 503, fault: expect.stringMatching(/cannot reach its Redis/) });
    } finally {
      await redis.start();
    }
  }, 60_000);
});
