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
    const cli = `${process.execPath} ${join(packageRoot(), 'bin', 'solgate')} --redis ${redis.url} --prefix ${prefix} console attach att-n1`;
    const inner = `stty -a > ${dir}/${tag}.before; ${cli}; echo "exit=$?"; stty -a > ${dir}/${tag}.after`;
    const child = spawn('script', ['-qfec', inner, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm' } });
    let out = '';
    child.stdout!.on('data', (d) => (out += d.toString('latin1')));
    child.stderr!.on('data', (d) => (out += d.toString('latin1')));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    return { child, out: () => out, exited };
  }

  const stty = (tag: string) => [readFileSync(`${dir}/${tag}.before`, 'utf8'), readFileSync(`${dir}/${tag}.after`, 'utf8')];

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
});
