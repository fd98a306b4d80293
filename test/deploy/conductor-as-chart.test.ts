import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Redis } from 'ioredis';
import { Keys } from '#libs/redis';
import { IpmiSimBmc } from '../support/ipmi-sim.js';
import { findProcesses } from '../support/procs.js';
import { RedisServer } from '../support/redis-server.js';
import { freeTcpPort, freeTcpPortBlock, tcpAccepts } from '../support/ports.js';
import { waitFor } from '../support/wait.js';
import { REPO_ROOT, findObject, renderChart, type K8sObject } from './helm.js';
import { resolveContainerEnv } from './k8s.js';

// The conductor run exactly as the chart's container runs it: the rendered StatefulSet's args
// (/app/bin/solgate-conductor from the built tree) and its environment (ConfigMap + env, secrets from
// the rendered Secrets, $(VAR) expanded). Only what a pod gets from its surroundings is substituted:
// pod name → a member id, pod IP → 127.0.0.1, the Redis Service → a local redis-server that requires
// the chart's generated password, volume mounts → temporary directories, /app → this repository.
// Needs the built tree: CI runs `npm run build` before the tests.

const MEMBER_ID = 'solgate-0';
const IMAGE_WORKDIR = '/app';

interface Running {
  child: ChildProcess;
  output: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

describe('the conductor, run as the chart runs it', () => {
  let redis: RedisServer;
  let bmc: IpmiSimBmc;
  let nodeUuid: string;
  let consoleUrl: URL;
  let scratch: string;
  let objects: K8sObject[];
  let env: Record<string, string>;
  let command: string;
  let conductor: Running | undefined;
  let graceSeconds: number;
  let apiBase: string;

  beforeAll(async () => {
    const main = join(REPO_ROOT, 'dist/apps/conductor/src/main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first (CI builds before it tests)`);

    redis = await RedisServer.start();
    bmc = await IpmiSimBmc.start({ nodeName: 'chart-node' });
    scratch = mkdtempSync(join(tmpdir(), 'solgate-chart-'));
    const apiPort = await freeTcpPort();
    const range = await freeTcpPortBlock(20);
    // The ports are chart values: render with them rather than patching the output.
    objects = await renderChart({
      release: 'solgate',
      namespace: 'metal',
      set: { 'conductor.apiPort': apiPort, 'conductor.portRange.start': range.start, 'conductor.portRange.stop': range.stop },
    });
    const sts = findObject(objects, 'StatefulSet', 'conductor');
    const pod = sts.spec.template.spec;
    const container = pod.containers.find((c: any) => c.name === 'conductor');
    graceSeconds = pod.terminationGracePeriodSeconds;

    const rendered = resolveContainerEnv(objects, container, {
      fieldRefs: { 'metadata.name': MEMBER_ID, 'status.podIP': '127.0.0.1', 'status.hostIP': '127.0.0.1' },
    });

    // The chart's Redis Service → the local redis-server, which demands the chart-generated password.
    expect(rendered.REDIS_PASSWORD).toMatch(/^[A-Za-z0-9]{20,}$/);
    const admin = redis.client();
    await admin.config('SET', 'requirepass', rendered.REDIS_PASSWORD);
    await admin.quit();
    const url = new URL(rendered.SOLGATE_REDIS_URL);
    expect(url.hostname).toBe('solgate-redis.metal.svc.cluster.local');
    url.hostname = '127.0.0.1';
    url.port = String(redis.port);
    rendered.SOLGATE_REDIS_URL = url.toString();

    // Volume mounts → fresh directories (an emptyDir is empty and writable, nothing more).
    const mounts: { name: string; mountPath: string }[] = container.volumeMounts;
    const mapped = mounts.map((m) => ({ from: m.mountPath, to: join(scratch, 'volumes', m.name) }));
    for (const m of mapped) mkdirSync(m.to, { recursive: true });
    mkdirSync(join(scratch, 'home'));
    for (const [k, v] of Object.entries(rendered)) {
      const m = mapped.find((x) => v === x.from || v.startsWith(`${x.from}/`));
      if (m) rendered[k] = m.to + v.slice(m.from.length);
    }
    env = rendered;

    // The container's command: the image ENTRYPOINT (tini) execs args[0], a path under WORKDIR /app.
    expect(container.command).toBeUndefined();
    expect(container.args).toHaveLength(1);
    expect(container.args[0].startsWith(`${IMAGE_WORKDIR}/`)).toBe(true);
    command = join(REPO_ROOT, container.args[0].slice(IMAGE_WORKDIR.length + 1));
    apiBase = `http://127.0.0.1:${env.SOLGATE_API_PORT}`;
  }, 30_000);

  afterAll(async () => {
    if (conductor && conductor.child.exitCode === null && conductor.child.signalCode === null) {
      conductor.child.kill('SIGKILL');
      await conductor.exit;
    }
    await bmc?.stop();
    await redis?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  /** A process with the pod's environment only (plus PATH for `#!/usr/bin/env node`). */
  function launch(argv: string[]): Running {
    const child = spawn(argv[0], argv.slice(1), {
      env: { ...env, PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`, HOME: join(scratch, 'home'), TMPDIR: env.TMPDIR ?? join(scratch, 'volumes', 'tmp') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    child.stdout!.on('data', (d) => output.push(String(d)));
    child.stderr!.on('data', (d) => output.push(String(d)));
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    return { child, output, exit };
  }

  function authedClient(): Redis {
    return new Redis({ host: '127.0.0.1', port: redis.port, password: env.REDIS_PASSWORD, maxRetriesPerRequest: 1 });
  }

  function tail(r: Running | undefined): string {
    return (r?.output.join('') ?? '').split('\n').slice(-40).join('\n');
  }

  /** An API call as Nova's ironic driver makes it, with the chart's token. */
  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; text: string }> {
    const res = await fetch(apiBase + path, {
      method,
      headers: {
        'X-OpenStack-Ironic-API-Version': '1.78',
        'X-Auth-Token': env.SOLGATE_AUTH_TOKEN,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    let parsed: any;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed, text };
  }

  const socatsOf = (uuid: string) => findProcesses('socat', uuid).filter((p) => p.argv[0].endsWith('socat'));

  async function status(path: string, headers: Record<string, string> = {}): Promise<number> {
    try {
      const res = await fetch(apiBase + path, { headers, signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return 0;
    }
  }

  it('starts from the chart command and env, answers /healthz, and becomes ready on /readyz', async () => {
    const running = (conductor = launch([command]));
    const exited = () => running.child.exitCode !== null || running.child.signalCode !== null;
    const failure = (what: string) =>
      new Error(`${what}\nexit: ${running.child.exitCode ?? running.child.signalCode ?? 'still running'}\nconductor output:\n${tail(running)}`);
    for (const path of ['/healthz', '/readyz']) {
      try {
        // stop waiting as soon as the process is gone
        await waitFor(async () => exited() || (await status(path)) === 200, { timeoutMs: 20_000, intervalMs: 100, what: `GET ${path} → 200` });
      } catch (e) {
        throw failure((e as Error).message);
      }
      if (exited()) throw failure(`the conductor exited before GET ${path} answered 200`);
    }
  }, 45_000);

  it('registers the pod name as its member id in Redis', async () => {
    const client = authedClient();
    try {
      const keys = new Keys(env.SOLGATE_KEY_PREFIX);
      expect(await client.zscore(keys.members(), MEMBER_ID)).not.toBeNull();
    } finally {
      client.disconnect();
    }
  });

  it('answers GET /v1 with the chart token, as the helm test pod does', async () => {
    const res = await fetch(`${apiBase}/v1`, { headers: { 'X-Auth-Token': env.SOLGATE_AUTH_TOKEN }, signal: AbortSignal.timeout(5000) });
    const body = await res.text();
    expect({ status: res.status, hasV1: /"id"\s*:\s*"v1"/.test(body) }).toEqual({ status: 200, hasV1: true });
  });

  it('serves a console on SOLGATE_SOCAT_ADDRESS (the pod IP) inside the chart port range', async () => {
    const created = await api('POST', '/v1/nodes', { name: bmc.nodeName, driver: 'ipmi', console_interface: 'ipmitool-socat', driver_info: bmc.driverInfo() });
    expect({ status: created.status, text: created.status === 201 ? '' : created.text }).toEqual({ status: 201, text: '' });
    nodeUuid = created.body.uuid;
    const put = await api('PUT', `/v1/nodes/${nodeUuid}/states/console`, { enabled: true });
    expect(put.status).toBe(202);
    const url = await waitFor(
      async () => {
        const r = await api('GET', `/v1/nodes/${nodeUuid}/states/console`);
        return r.body?.console_enabled && r.body.console_info?.url ? (r.body.console_info.url as string) : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'the console URL' },
    );
    consoleUrl = new URL(url);
    const [start, stop] = env.SOLGATE_PORT_RANGE.split(':').map(Number);
    expect(consoleUrl.protocol).toBe('tcp:');
    expect(consoleUrl.hostname).toBe(env.SOLGATE_SOCAT_ADDRESS);
    expect(Number(consoleUrl.port)).toBeGreaterThanOrEqual(start);
    expect(Number(consoleUrl.port)).toBeLessThan(stop);
    await waitFor(() => tcpAccepts(Number(consoleUrl.port), consoleUrl.hostname), { timeoutMs: 5000, what: 'the console port to accept' });
    expect(socatsOf(nodeUuid).length).toBeGreaterThan(0);
    // the pid directory is the conductor's own subdirectory of the emptyDir, private to it
    expect(statSync(env.SOLGATE_TERMINAL_PID_DIR).mode & 0o777).toBe(0o700);
  }, 30_000);

  it('lists itself through the CLI command NOTES.txt gives operators (solgate conductors)', async () => {
    const cli = launch([join(REPO_ROOT, 'bin/solgate'), 'conductors']);
    const { code } = await cli.exit;
    expect({ code, output: tail(cli).includes(MEMBER_ID) ? 'lists the member' : tail(cli) }).toEqual({ code: 0, output: 'lists the member' });
  }, 20_000);

  it('leaves gracefully on SIGTERM: exit 0 within the grace period, membership gone', async () => {
    const running = conductor!;
    const started = Date.now();
    running.child.kill('SIGTERM');
    const result = await Promise.race([
      running.exit,
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceSeconds * 1000).unref()),
    ]);
    const seconds = (Date.now() - started) / 1000;
    expect({ result, output: result === 'timeout' || result.code !== 0 ? tail(running) : '' }).toEqual({ result: { code: 0, signal: null }, output: '' });
    expect(seconds).toBeLessThan(graceSeconds);
    // its console went with it: nothing listens, no socat is left
    if (consoleUrl) {
      expect(await tcpAccepts(Number(consoleUrl.port), consoleUrl.hostname)).toBe(false);
      expect(socatsOf(nodeUuid)).toEqual([]);
    }

    const client = authedClient();
    try {
      expect(await client.zscore(new Keys(env.SOLGATE_KEY_PREFIX).members(), MEMBER_ID)).toBeNull();
    } finally {
      client.disconnect();
    }
  }, 60_000);
});
