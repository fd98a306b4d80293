import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '#libs/common';
import { loadConfig } from '#libs/config';
import { ConductorProcess } from '../../support/conductor-process.js';
import { ConsoleClient } from '../../support/console-client.js';
import { uniquePrefix, waitConsoleUrl } from '../../support/fixtures.js';
import { freeTcpPort } from '../../support/ports.js';
import { findProcesses } from '../../support/procs.js';
import { RedisServer } from '../../support/redis-server.js';
import { waitFor } from '../../support/wait.js';

/** Another local user (the tests run as root, as CI does, and act as `nobody` through setpriv). */
const NOBODY = '65534';
const asNobody = (...cmd: string[]) => execFileSync('setpriv', ['--reuid', NOBODY, '--regid', NOBODY, '--clear-groups', '--', ...cmd]);

/**
 * Finding 1 of the hardening issue: the runtime directory (pid, lease, argv files; what socat
 * runs) must be the conductor's own. A directory another local user created first, a symbolic link
 * in its place, a wrong mode, or a parent anyone can write is refused at start-up with the reason;
 * links planted inside are never followed; the per-connection script runs from the installation.
 */
describe('security: the runtime directory', () => {
  let redis: RedisServer;
  const cleanup: string[] = [];

  beforeAll(async () => {
    if (process.geteuid?.() !== 0) throw new Error('these tests act as another local user: run them as root');
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    for (const p of cleanup) rmSync(p, { recursive: true, force: true });
    await redis?.stop();
  });

  /** Start a conductor that should refuse to start: its exit code and stderr (or 'still running'). */
  async function startRefused(env: Record<string, string>): Promise<{ code: number | string; stderr: string }> {
    const apiPort = String(await freeTcpPort('127.0.0.1'));
    const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'solgate-conductor')], {
      env: { PATH: process.env.PATH ?? '', HOME: '/root', SOLGATE_REDIS_URL: redis.url, SOLGATE_KEY_PREFIX: uniquePrefix('rd'), SOLGATE_API_HOST: '127.0.0.1', SOLGATE_API_PORT: apiPort, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const code = await new Promise<number | string>((resolve) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve('still running after 30 s');
      }, 30_000); // generous: a loaded 2-core machine takes seconds just to load the conductor
      child.on('exit', (c, s) => {
        clearTimeout(t);
        resolve(c ?? String(s));
      });
    });
    return { code, stderr };
  }

  it('refuses the default directory when another local user created it first, and leaves it untouched', async () => {
    const id = `sec-${randomUUID().slice(0, 8)}`;
    const dir = loadConfig({ SOLGATE_CONDUCTOR_ID: id }).terminalPidDir;
    cleanup.push(dir);
    mkdirSync(dir, { mode: 0o700 });
    execFileSync('chown', [`${NOBODY}:${NOBODY}`, dir]);
    // what the other user would have socat run as root, had the conductor copied its script in here
    asNobody('sh', '-c', `printf '#!/bin/sh\\ntouch ${dir}/owned\\n' > ${dir}/sol-session.sh && chmod 755 ${dir}/sol-session.sh`);

    const r = await startRefused({ SOLGATE_CONDUCTOR_ID: id });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`refusing the runtime directory ${dir}: it is owned by uid 65534`);
    expect(readdirSync(dir).sort()).toEqual(['sol-session.sh']);
    expect(lstatSync(dir).uid).toBe(Number(NOBODY));
  }, 60_000);

  it('refuses a symbolic link planted where its directory goes', async () => {
    const shm = mkdtempSync(join(tmpdir(), 'solgate-shm-'));
    cleanup.push(shm);
    chmodSync(shm, 0o1777); // like /dev/shm
    const theirs = join(shm, 'theirs');
    asNobody('mkdir', '-m', '0700', theirs);
    asNobody('ln', '-s', theirs, join(shm, 'solgate-c1'));
    const r = await startRefused({ SOLGATE_CONDUCTOR_ID: 'c1', SOLGATE_TERMINAL_PID_DIR: join(shm, 'solgate-c1') });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`refusing the runtime directory ${join(shm, 'solgate-c1')}: it is a symbolic link`);
    expect(readdirSync(theirs)).toEqual([]);
  }, 60_000);

  it('refuses its own directory with a mode other than 0700, and a parent anyone can write without the sticky bit', async () => {
    const base = mkdtempSync(join(tmpdir(), 'solgate-modes-'));
    cleanup.push(base);
    mkdirSync(join(base, 'wide'));
    chmodSync(join(base, 'wide'), 0o755);
    const wide = await startRefused({ SOLGATE_CONDUCTOR_ID: 'c1', SOLGATE_TERMINAL_PID_DIR: join(base, 'wide') });
    expect(wide.code).toBe(1);
    expect(wide.stderr).toContain('its mode is 0755, not 0700');

    mkdirSync(join(base, 'open'));
    chmodSync(join(base, 'open'), 0o777);
    const open = await startRefused({ SOLGATE_CONDUCTOR_ID: 'c1', SOLGATE_TERMINAL_PID_DIR: join(base, 'open', 'run') });
    expect(open.code).toBe(1);
    expect(open.stderr).toContain(`${join(base, 'open')} (mode 0777) is writable by other users and has no sticky bit`);
    expect(existsSync(join(base, 'open', 'run'))).toBe(false);
  }, 90_000);

  it('creates the directory itself (0700) when it is missing', async () => {
    const base = mkdtempSync(join(tmpdir(), 'solgate-fresh-'));
    cleanup.push(base);
    const c = new ConductorProcess({ id: 'c-fresh', redisUrl: redis.url, prefix: uniquePrefix('fresh'), env: { SOLGATE_TERMINAL_PID_DIR: join(base, 'a', 'run') } });
    try {
      await c.start();
      const st = statSync(join(base, 'a', 'run'));
      expect({ mode: st.mode & 0o7777, uid: st.uid }).toEqual({ mode: 0o700, uid: 0 });
    } finally {
      await c.dispose();
    }
  });

  it('never follows links planted inside it, and runs the session script from the installation', async () => {
    const victims = mkdtempSync(join(tmpdir(), 'solgate-victims-'));
    cleanup.push(victims);
    const victim = (name: string) => {
      writeFileSync(join(victims, name), 'precious\n');
      return join(victims, name);
    };
    const c = new ConductorProcess({ id: 'c-plant', redisUrl: redis.url, prefix: uniquePrefix('plant') });
    // planted before start: the lease's temporary file and a session script that would prove it ran
    symlinkSync(victim('lease'), join(c.pidDir, 'lease.tmp'));
    writeFileSync(join(c.pidDir, 'sol-session.sh'), `#!/bin/sh\ntouch ${victims}/ran\n`, { mode: 0o755 });
    try {
      await c.start();
      const uuid = randomUUID();
      // planted once the node exists, before its console starts: its argv and password files
      symlinkSync(victim('argv'), join(c.pidDir, `${uuid}.argv`));
      symlinkSync(victim('pw'), join(c.pidDir, `${uuid}.pw`));
      const created = await c.api('POST', '/v1/nodes', {
        uuid,
        name: 'planted',
        driver: 'ipmi',
        driver_info: { ipmi_address: '127.0.0.1', ipmi_port: 9, ipmi_username: 'admin', ipmi_password: 'the-bmc-password' },
      });
      expect(created.status).toBe(201);
      expect((await c.api('PUT', `/v1/nodes/${uuid}/states/console`, { enabled: true })).status).toBe(202);
      const url = await waitConsoleUrl(c, uuid);
      await waitFor(() => existsSync(join(c.pidDir, 'lease')), { what: 'a heartbeat to write the lease' });
      await new Promise((r) => setTimeout(r, 1200)); // more heartbeats rewrite the lease through lease.tmp

      for (const name of ['lease', 'argv', 'pw']) expect(`${name}: ${readFileSync(join(victims, name), 'utf8')}`).toBe(`${name}: precious\n`);
      expect(lstatSync(join(c.pidDir, `${uuid}.argv`)).isFile()).toBe(true);
      expect(existsSync(join(c.pidDir, 'sol-session.sh'))).toBe(false);

      // what socat runs per client, and what the broker's session runs, come from the installation
      const esc = (p: string) => p.replace(/[\\,:!()[\]{}]/g, (x) => `\\${x}`);
      const assets = join(packageRoot(), 'libs', 'console', 'assets');
      const socat = findProcesses('socat', `${c.pidDir}/${uuid}.pid`).find((p) => p.argv.some((a) => a.startsWith('EXEC:')));
      const exec = socat!.argv.find((a) => a.startsWith('EXEC:'))!;
      expect(exec.startsWith(`EXEC:perl ${esc(join(assets, 'console-relay.pl'))} `)).toBe(true);

      const client = await ConsoleClient.connect(url);
      const session = await waitFor(
        () => findProcesses('socat', `${uuid}.sol.sock`).find((p) => p.argv.some((a) => a.startsWith('EXEC:'))),
        { what: "the broker's SOL session (socat running sol-session.sh)" },
      );
      const sessionExec = session.argv.find((a) => a.startsWith('EXEC:'))!;
      expect(sessionExec.startsWith(`EXEC:${esc(join(assets, 'sol-session.sh'))} `)).toBe(true);
      await new Promise((r) => setTimeout(r, 500));
      client.socket.destroy();
      expect(existsSync(join(victims, 'ran'))).toBe(false);
    } finally {
      await c.dispose();
    }
  }, 30_000);
});
