import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '#libs/common';
import { BmcFleet } from '#libs/ipmi';
import { ConductorProcess } from '../../support/conductor-process.js';
import { uniquePrefix } from '../../support/fixtures.js';
import { RedisServer } from '../../support/redis-server.js';
import { findProcesses } from '../../support/procs.js';
import { waitFor } from '../../support/wait.js';

const PASSWORD = 'fleet-pw';

/**
 * `solgate console attach` under a real pty (util-linux `script`): the login prompt, keystrokes to
 * the node, `~.` with exit status 0, a disabled console with exit status 1, and the terminal's
 * settings (`stty -a`) identical before and after in both cases.
 */
describe('solgate console attach under a pty', () => {
  let redis: RedisServer;
  let fleet: BmcFleet;
  let conductor: ConductorProcess;
  let second: ConductorProcess | undefined;
  let prefix: string;
  let dir: string;

  beforeAll(async () => {
    redis = await RedisServer.start();
    fleet = await BmcFleet.start({ count: 1, password: PASSWORD, cipherSuites: [3, 17], namePrefix: 'att-n' });
    prefix = uniquePrefix('attach');
    conductor = await ConductorProcess.start({ id: 'a1', redisUrl: redis.url, prefix, env: { SOLGATE_LOG_LEVEL: 'info' } });
    const r = await conductor.api('POST', '/v1/nodes', {
      name: 'att-n1',
      driver: 'ipmi',
      console_interface: 'native-ipmi-socat',
      driver_info: { ipmi_address: '127.0.0.1', ipmi_port: fleet.bmc(1).port, ipmi_username: 'admin', ipmi_password: PASSWORD, ipmi_cipher_suite: 17 },
    });
    expect(r.status).toBe(201);
    dir = mkdtempSync(join(tmpdir(), 'solgate-attach-'));
  }, 60_000);

  afterAll(async () => {
    await second?.dispose();
    await conductor?.dispose();
    await fleet?.stop();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const enable = async (on: boolean) => {
    await conductor.api('PUT', '/v1/nodes/att-n1/states/console', { enabled: on });
    if (on) await waitFor(async () => (await conductor.api('GET', '/v1/nodes/att-n1/states/console')).body.console_enabled, { what: 'the console to serve' });
  };

  /** The CLI inside `script` (a pty), between two `stty -a` snapshots of that pty. */
  function underPty(tag: string): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
    // --name: what `who` shows, and how the test finds this CLI's process
    const cli = `${process.execPath} ${join(packageRoot(), 'bin', 'solgate')} --redis ${redis.url} --prefix ${prefix} console attach att-n1 --name ${tag}-viewer`;
    const inner = `stty -a > ${dir}/${tag}.before; ${cli}; echo "exit=$?"; stty -a > ${dir}/${tag}.after`;
    const child = spawn('script', ['-qfec', inner, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm' } });
    let out = '';
    child.stdout!.on('data', (d) => (out += d.toString('latin1')));
    child.stderr!.on('data', (d) => (out += d.toString('latin1')));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    return { child, out: () => out, exited };
  }

  const stty = (tag: string) => [readFileSync(`${dir}/${tag}.before`, 'utf8'), readFileSync(`${dir}/${tag}.after`, 'utf8')];
  const cliPid = (tag: string) => {
    const found = findProcesses('console attach att-n1', `--name ${tag}-viewer`).filter((p) => p.argv[0] === process.execPath);
    expect(found).toHaveLength(1);
    return found[0]!.pid;
  };
  const viewers = async () => (await conductor.api('GET', '/v1/nodes/att-n1')).body.driver_internal_info?.console_viewers;

  it('types into the node, leaves on ~. with status 0 and restores the terminal', async () => {
    await enable(true);
    const s = underPty('dot');
    await waitFor(() => /\[solgate: attached to att-n1 on a1, read-write/.test(s.out()), { timeoutMs: 15_000, what: `the attach banner, got: ${JSON.stringify(s.out())}` });
    s.child.stdin!.write('\r');
    await waitFor(() => s.out().includes('att-n1 login: '), { what: 'the login prompt' });
    s.child.stdin!.write('root\r');
    await waitFor(() => fleet.bmc(1).serial.received.includes('root\r'), { what: 'the keystrokes to reach the node' });
    s.child.stdin!.write('~.');
    await waitFor(() => /exit=0/.test(s.out()), { what: 'the CLI to exit 0 after ~.' });
    s.child.stdin!.end();
    expect(await s.exited).toBe(0);
    const [before, after] = stty('dot');
    expect(before).toMatch(/ icanon /);
    expect(after).toBe(before);
    // raw mode: "~." was neither echoed by the pty nor sent to the node
    expect(s.out().replace('[solgate: ~. detached]', '')).not.toContain('~.');
    expect(fleet.bmc(1).serial.received).not.toContain('~');
  });

  it('exits 1 when the console is disabled under it, the terminal restored', async () => {
    const s = underPty('disabled');
    await waitFor(() => /\[solgate: attached to att-n1/.test(s.out()), { timeoutMs: 15_000, what: 'the attach banner' });
    await enable(false);
    await waitFor(() => /exit=1/.test(s.out()), { what: 'the CLI to exit 1' });
    expect(s.out()).toMatch(/disabled/);
    s.child.stdin!.end();
    await s.exited;
    const [before, after] = stty('disabled');
    expect(after).toBe(before);
  });

  it('detaches on SIGTERM: the viewer leaves the broker, exit status 143, the terminal restored', async () => {
    await enable(true);
    const s = underPty('sigterm');
    await waitFor(() => /\[solgate: attached to att-n1 on a1/.test(s.out()), { timeoutMs: 15_000, what: 'the attach banner' });
    await waitFor(async () => (await viewers()) === 1, { what: 'the broker to count the CLI' });
    process.kill(cliPid('sigterm'), 'SIGTERM');
    await waitFor(() => /exit=143/.test(s.out()), { what: `the CLI to exit 143, got: ${JSON.stringify(s.out().slice(-300))}` });
    expect(s.out()).toContain('[solgate: SIGTERM: detached]');
    s.child.stdin!.end();
    await s.exited;
    const [before, after] = stty('sigterm');
    expect(before).toMatch(/ icanon /);
    expect(after).toBe(before);
    await waitFor(async () => (await viewers()) === 0, { what: 'the broker to let the CLI go' });
  });

  it('reconnects by itself after a graceful handover, to the new owner, which replays the history', async () => {
    const s = underPty('handover');
    await waitFor(() => /\[solgate: attached to att-n1 on a1/.test(s.out()), { timeoutMs: 15_000, what: 'the attach banner' });
    fleet.bmc(1).print('\r\nbefore-the-handover\r\n');
    await waitFor(() => s.out().includes('before-the-handover'), { what: 'the output before the handover' });
    // a second conductor joins (unknown to the CLI when it attached); the node's console moves to it
    // either at once (the ring gave it the node) or when a1 leaves gracefully
    second = await ConductorProcess.start({ id: 'a2', address: '127.0.0.2', redisUrl: redis.url, prefix, env: { SOLGATE_LOG_LEVEL: 'info' } });
    await waitFor(async () => (await second!.api('GET', '/v1/nodes/att-n1/states/console')).body.console_enabled, { what: 'the console to serve with two conductors' });
    if ((await second.api('GET', '/v1/nodes/att-n1')).body.conductor === 'a1') await conductor.stop();
    await waitFor(() => /\[solgate: reconnected to att-n1 on a2/.test(s.out()), { timeoutMs: 30_000, what: `the CLI to reconnect to a2, got: ${JSON.stringify(s.out().slice(-400))}` });
    const out = s.out();
    expect(out).toMatch(/\[solgate: console moving to another conductor — reconnect\]|\[solgate: .*reconnecting/);
    // the new owner's broker replays the history its predecessor left in Redis
    await waitFor(() => s.out().slice(s.out().lastIndexOf('reconnected to att-n1')).includes('before-the-handover'), { what: 'the history replayed after the reconnect' });
    fleet.bmc(1).serial.received = '';
    s.child.stdin!.write('after-handover\r');
    await waitFor(() => fleet.bmc(1).serial.received.includes('after-handover\r'), { what: 'keystrokes to reach the node through the new owner' });
    s.child.stdin!.write('\r~.');
    await waitFor(() => /exit=0/.test(s.out()), { what: 'the CLI to exit 0 after ~.' });
    s.child.stdin!.end();
    await s.exited;
    const [before, after] = stty('handover');
    expect(after).toBe(before);
  });
});
