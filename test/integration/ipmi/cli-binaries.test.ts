import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '#libs/common';
import { isAlive } from '../../support/procs.js';
import { waitFor } from '../../support/wait.js';

// The built binaries, as an operator and the conductor's tests use them: bin/solgate-bmc-sim in its
// own process, inspected through its control endpoint; bin/solgate power / sol against it.
// Needs the built tree: CI runs `npm run build` before the tests.
const ROOT = packageRoot();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/solgate'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('latin1')));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 15_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

describe('bin/solgate-bmc-sim and bin/solgate power|sol', () => {
  let sim: ChildProcess;
  let control = '';
  const ports: number[] = [];
  let dir: string;
  let pwFile: string;

  const bmcFlags = (i: number) => ['-H', '127.0.0.1', '-p', String(ports[i - 1]), '-U', 'admin', '-f', pwFile, '-N', '0.5', '-R', '2'];
  const get = async (path: string) => (await fetch(`${control}${path}`)).json() as Promise<Record<string, unknown>>;

  beforeAll(async () => {
    for (const f of ['dist/apps/cli/src/main.js', 'dist/apps/bmc-sim/src/main.js']) {
      if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: run \`npm run build\` first (CI builds before it tests)`);
    }
    dir = mkdtempSync(join(tmpdir(), 'solgate-cli-'));
    pwFile = join(dir, 'bmc.pw');
    writeFileSync(pwFile, 'sim-secret\n', { mode: 0o600 });
    sim = spawn(process.execPath, [join(ROOT, 'bin/solgate-bmc-sim'), '--count', '3', '--password-file', pwFile, '--control-port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    sim.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.split('\n').includes('ready'), { timeoutMs: 10_000, what: 'solgate-bmc-sim to print ready' });
    for (const line of out.split('\n')) {
      if (!line.startsWith('{')) continue;
      const j = JSON.parse(line) as { port?: number; control?: string; index?: number; cipherSuites?: number[] };
      if (j.control) control = j.control;
      else {
        expect(j.cipherSuites).toEqual([3, 17]);
        ports.push(j.port!);
      }
    }
    expect(ports).toHaveLength(3);
  });
  afterAll(async () => {
    if (sim?.pid && isAlive(sim.pid)) sim.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('power status / on / off, as ipmitool prints them', async () => {
    expect(await run(['power', 'status', ...bmcFlags(1)])).toMatchObject({ code: 0, stdout: 'Chassis Power is off\n' });
    expect(await run(['power', 'on', ...bmcFlags(1), '-C', '17'])).toMatchObject({ code: 0, stdout: 'Chassis Power Control: Up/On\n' });
    expect(await run(['power', 'status', ...bmcFlags(1), '-C', '3', '-o', 'json'])).toMatchObject({ code: 0, stdout: '{"power":"on"}\n' });
    expect(await run(['power', 'off', ...bmcFlags(1)])).toMatchObject({ code: 0, stdout: 'Chassis Power Control: Down/Off\n' });
    expect((await get('/bmcs/1')).power).toBe('off');
  });

  it('exit code 2 for usage errors (including -P), 1 for IPMI failures; never a password in the output', async () => {
    const p = await run(['power', 'status', '-H', '127.0.0.1', '-p', String(ports[0]), '-U', 'admin', '-P', 'sim-secret']);
    expect(p.code).toBe(2);
    expect(p.stderr).toContain('-P is refused');
    expect((await run(['power', 'status', '-U', 'admin', '-f', pwFile])).code).toBe(2);
    expect((await run(['power', 'frobnicate', ...bmcFlags(1)])).code).toBe(2);
    expect((await run(['power', 'status', ...bmcFlags(1), '-L', 'KING'])).code).toBe(2);
    writeFileSync(join(dir, 'wrong.pw'), 'not-it');
    const bad = await run(['power', 'status', '-H', '127.0.0.1', '-p', String(ports[0]), '-U', 'admin', '-f', join(dir, 'wrong.pw')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('BAD_PASSWORD');
    expect(bad.stderr + bad.stdout).not.toContain('not-it');
    expect(bad.stdout).toBe('');
  });

  it('sol activate: raw bytes both ways; SIGTERM deactivates and closes, so an immediate reconnect works', async () => {
    const attach = () => {
      const child = spawn(process.execPath, [join(ROOT, 'bin/solgate'), 'sol', 'activate', ...bmcFlags(2)], { stdio: ['pipe', 'pipe', 'pipe'] });
      const io = { out: '', err: '' };
      child.stdout.on('data', (d: Buffer) => (io.out += d.toString('latin1')));
      child.stderr.on('data', (d: Buffer) => (io.err += d.toString('latin1')));
      const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      return { child, io, exit };
    };

    const first = attach();
    await waitFor(() => first.io.err.includes('SOL Session operational'), { timeoutMs: 5000, what: 'first sol activate' });
    first.child.stdin.write('root\r');
    await waitFor(async () => String((await get('/bmcs/2')).received).includes('root\r'), { timeoutMs: 5000, what: 'node to receive root' });
    await fetch(`${control}/bmcs/2/print`, { method: 'POST', body: 'Password: ' });
    await waitFor(() => first.io.out.includes('Password: '), { timeoutMs: 5000, what: 'node output on stdout' });
    expect(first.io.out).toBe('root\r\nnode2 login: Password: '); // stdout carries the node's bytes only
    first.child.kill('SIGTERM');
    expect(await first.exit).toBe(0);
    expect((await get('/bmcs/2')).solOwner).toBeNull();

    const second = attach();
    await waitFor(() => second.io.err.includes('SOL Session operational'), { timeoutMs: 5000, what: 'reconnect' });
    second.child.stdin.write('x\r~.');
    expect(await second.exit).toBe(0);
    const detail = await get('/bmcs/2');
    expect(detail.solOwner).toBeNull();
    expect(detail.maxConcurrentSolSessions).toBe(1);
    expect((detail.solHistory as Array<{ endReason: string }>).map((h) => h.endReason)).toEqual(['deactivated', 'deactivated']);
    expect(detail.received).toBe('root\rx\r');
  });

  it('sol activate while another session holds SOL: exit 1; --force takes it over; EOF on stdin ends cleanly', async () => {
    const holder = spawn(process.execPath, [join(ROOT, 'bin/solgate'), 'sol', 'activate', ...bmcFlags(3)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let holderErr = '';
    holder.stderr.on('data', (d: Buffer) => (holderErr += d.toString()));
    const holderExit = new Promise<number | null>((r) => holder.on('exit', (c) => r(c)));
    await waitFor(() => holderErr.includes('SOL Session operational'), { timeoutMs: 5000, what: 'holder' });

    const refused = await run(['sol', 'activate', ...bmcFlags(3)]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('PAYLOAD_ALREADY_ACTIVE');

    const forced = await run(['sol', 'activate', ...bmcFlags(3), '--force'], { input: 'hi\r' });
    expect(forced.code).toBe(0);
    expect(await holderExit).toBe(1); // the BMC told the holder its payload was taken
    expect(holderErr).toContain('SOL_DEACTIVATED');
    const detail = await get('/bmcs/3');
    expect((detail.solHistory as Array<{ endReason: string }>).map((h) => h.endReason)).toEqual(['taken-over', 'deactivated']);
    expect(detail.maxConcurrentSolSessions).toBe(1);
    expect(detail.solActivationsRefused).toBe(2);
  });

  it('sol info and sol deactivate', async () => {
    const info = await run(['sol', 'info', ...bmcFlags(1), '-o', 'json']);
    expect(info.code).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ enabled: true, payloadActive: false, payloadPort: ports[0] });
    const none = await run(['sol', 'deactivate', ...bmcFlags(1)]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('SOL payload already de-activated');
  });

  it('the simulator stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((r) => sim.on('exit', (c) => r(c)));
    sim.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
