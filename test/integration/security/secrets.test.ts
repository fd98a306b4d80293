import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ConductorProcess } from '../../support/conductor-process.js';
import { ConsoleClient } from '../../support/console-client.js';
import { enrol, setConsole, uniquePrefix, waitConsoleUrl } from '../../support/fixtures.js';
import { IpmiSimBmc } from '../../support/ipmi-sim.js';
import { listProcesses, type ProcInfo } from '../../support/procs.js';
import { RedisServer } from '../../support/redis-server.js';
import { waitFor } from '../../support/wait.js';

const TOKEN = 'api-Token-7f3e9d2c1b';
const REDIS_PASSWORD = 'redis-Pw-51c8a0e6';
const BMC_PASSWORD = 'bmc-Pw-e2d94b17';

const environ = (pid: number): Record<string, string> => {
  try {
    return Object.fromEntries(
      readFileSync(`/proc/${pid}/environ`, 'utf8')
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
  } catch {
    return {}; // gone meanwhile
  }
};

/** Every descendant of `pid`. */
function descendants(pid: number, all = listProcesses()): ProcInfo[] {
  const out: ProcInfo[] = [];
  const walk = (p: number) => {
    for (const c of all.filter((x) => x.ppid === p)) {
      out.push(c);
      walk(c.pid);
    }
  };
  walk(pid);
  return out;
}

/** Regular files under `dir` that contain `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  return readdirSync(dir).filter((f) => {
    const p = join(dir, f);
    const st = lstatSync(p);
    return st.isFile() && readFileSync(p, 'utf8').includes(needle);
  });
}

/**
 * Finding 6 of the hardening issue: the API token and the Redis password were in the environment of
 * every launcher, socat and ipmitool process, and a kill -9 left the BMC password files in place.
 * Now children get PATH and nothing else, and the password is never a file: socat inherits it as an
 * unlinked file on fd 3 and ipmitool reads it through `<uuid>.pw` → /proc/self/fd/3.
 */
describe('security: secrets stay where they belong', () => {
  let redis: RedisServer;
  let bmc: IpmiSimBmc;
  let c: ConductorProcess;
  let uuid: string;

  beforeAll(async () => {
    redis = await RedisServer.start();
    const admin = new Redis(redis.url);
    await admin.config('SET', 'requirepass', REDIS_PASSWORD);
    admin.disconnect();
    bmc = await IpmiSimBmc.start({ nodeName: 'secret-node', password: BMC_PASSWORD });
    c = await ConductorProcess.start({
      id: 'c-secrets',
      redisUrl: `redis://:${REDIS_PASSWORD}@127.0.0.1:${redis.port}`,
      prefix: uniquePrefix('secrets'),
      env: { SOLGATE_AUTH_TOKEN: TOKEN },
    });
    const api = c.api.bind(c);
    c.api = (method, path, body, headers = {}) => api(method, path, body, { 'X-Auth-Token': TOKEN, ...headers });
    uuid = await enrol(c, bmc);
  }, 60_000);

  afterAll(async () => {
    await c?.dispose();
    await bmc?.stop();
    await redis?.stop();
  });

  it('gives the launcher, socat, the session script and ipmitool nothing of the conductor’s environment but PATH: no token, no Redis password', async () => {
    const conductorEnv = environ(c.pid!);
    expect(conductorEnv.SOLGATE_AUTH_TOKEN).toBe(TOKEN); // the check below is not vacuous
    expect(conductorEnv.SOLGATE_REDIS_URL).toContain(REDIS_PASSWORD);

    await setConsole(c, uuid, true);
    const url = await waitConsoleUrl(c, uuid);
    const client = await ConsoleClient.connect(url);
    try {
      await client.waitSession();
      bmc.print('\r\nsecret-node login: ');
      await client.waitFor('secret-node login: '); // the password reached ipmitool
      const tree = descendants(c.pid!);
      const kinds = (re: RegExp) => tree.filter((p) => re.test(p.argv.join(' ')));
      expect(kinds(/launcher\.pl/).length).toBeGreaterThan(0);
      expect(kinds(/\bsocat\b.*LISTEN/).length).toBeGreaterThan(0);
      expect(kinds(/ipmitool.*sol activate/).length).toBeGreaterThan(0);
      const leaks: string[] = [];
      for (const p of tree) {
        const env = environ(p.pid);
        const text = Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\n');
        // nothing of the conductor's environment but PATH (socat and sh add their own SOCAT_*/PWD, Node its IPC fd)
        const extra = Object.keys(env).filter((k) => k !== 'PATH' && k in conductorEnv);
        if (text.includes(TOKEN) || text.includes(REDIS_PASSWORD) || text.includes(BMC_PASSWORD) || extra.length)
          leaks.push(`${p.pid} ${p.argv.slice(0, 3).join(' ')}: ${extra.join(',')}`);
        for (const dir of (env.PATH ?? '').split(':')) expect(dir.startsWith('/') && !/tmp|home|\.\.?$/.test(dir)).toBe(true);
      }
      expect(leaks).toEqual([]);
      for (const p of tree) expect(p.argv.join(' ')).not.toContain(BMC_PASSWORD);
    } finally {
      await client.close();
    }
  }, 60_000);

  it('keeps the BMC password in no file: the session’s socat holds it as an unlinked file on fd 3, `-f` names a link to it', async () => {
    const client = await ConsoleClient.connect(await waitConsoleUrl(c, uuid));
    await client.waitSession();
    expect(filesContaining(c.pidDir, BMC_PASSWORD)).toEqual([]);
    expect(readlinkSync(join(c.pidDir, `${uuid}.pw`))).toBe('/proc/self/fd/3');
    // the broker's one SOL session per node: socat UNIX-CONNECT:<uuid>.sol.sock EXEC:sol-session.sh …
    const socat = descendants(c.pid!).find((p) => /\bsocat\b.*UNIX-CONNECT.*\.sol\.sock/.test(p.argv.join(' ')))!;
    expect(readlinkSync(`/proc/${socat.pid}/fd/3`)).toMatch(new RegExp(`^${c.pidDir}/${uuid}\\.pw-[0-9a-f]+ \\(deleted\\)$`));
    expect(readFileSync(`/proc/${socat.pid}/fd/3`, 'utf8')).toBe(BMC_PASSWORD);
    const argv = readFileSync(join(c.pidDir, `${uuid}.argv`), 'utf8');
    expect(argv).toContain(`-f\n${c.pidDir}/${uuid}.pw\n`);
    expect(argv).not.toContain(BMC_PASSWORD);
    await client.close();
  }, 30_000);

  it('disables cleanly with a session open (sol deactivate reads the password the same way) and logs no secret', async () => {
    const client = await ConsoleClient.connect(await waitConsoleUrl(c, uuid));
    await client.waitSession();
    await setConsole(c, uuid, false);
    await waitFor(async () => (await c.api('GET', `/v1/nodes/${uuid}/states/console`)).body.console_enabled === false, { what: 'the console to stop' });
    await waitFor(() => !c.logs.includes('"console stopped"') ? undefined : true, { what: 'the stop to be logged' });
    await new Promise((r) => setTimeout(r, 500));
    expect(c.logs).not.toContain('sol deactivate failed');
    for (const s of [TOKEN, REDIS_PASSWORD, BMC_PASSWORD]) expect(c.logs).not.toContain(s);
    const node = await c.api('GET', `/v1/nodes/${uuid}`);
    expect(node.text).not.toContain(BMC_PASSWORD);
    await client.close();
  }, 30_000);

  it('leaves no password anywhere after a kill -9 of the conductor', async () => {
    await setConsole(c, uuid, true);
    await waitConsoleUrl(c, uuid);
    const socat = descendants(c.pid!).find((p) => /\bsocat\b.*LISTEN/.test(p.argv.join(' ')))!;
    await c.kill9();
    await waitFor(() => !listProcesses().some((p) => p.pid === socat.pid), { what: 'the dead conductor’s socat to go' });
    expect(filesContaining(c.pidDir, BMC_PASSWORD)).toEqual([]);
    // nothing on the machine holds it open any more
    const holders = listProcesses().filter((p) => {
      try {
        return readdirSync(`/proc/${p.pid}/fd`).some((fd) => readlinkSync(`/proc/${p.pid}/fd/${fd}`).startsWith(`${c.pidDir}/${uuid}.pw-`));
      } catch {
        return false;
      }
    });
    expect(holders).toEqual([]);
  }, 30_000);
});
