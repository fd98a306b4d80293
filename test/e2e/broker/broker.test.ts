import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BmcFleet, type SimBmc } from '#libs/ipmi';
import { closeRedisClient, createRedisClient, Keys } from '#libs/redis';
import { cliFor, expectOk } from '../../integration/cli/cli-harness.js';
import { ConductorProcess } from '../../support/conductor-process.js';
import { ConsoleClient } from '../../support/console-client.js';
import { consoleProcessesOf, setConsole, uniquePrefix, waitConsoleUrl } from '../../support/fixtures.js';
import { freeTcpPortBlock } from '../../support/ports.js';
import { listProcesses, type ProcInfo } from '../../support/procs.js';
import { RedisServer } from '../../support/redis-server.js';
import { waitFor } from '../../support/wait.js';

/**
 * The console broker end to end: a real conductor, socat, redis-server, ipmitool and the fleet
 * simulator (which records every SOL activation). Both console interfaces, both capture modes:
 * many TCP clients on one node share ONE BMC session.
 */

const PASSWORD = 'Br0ker-S3cret';
const utf8 = (s: string) => Buffer.from(s, 'utf8').toString('latin1'); // clients decode latin1
const MOVING = utf8('[solgate: console moving to another conductor — reconnect]');

async function enrolFleet(c: ConductorProcess, bmc: SimBmc, name: string, iface: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await c.api('POST', '/v1/nodes', {
    name,
    driver: 'ipmi',
    console_interface: iface,
    driver_info: { ipmi_address: '127.0.0.1', ipmi_port: bmc.port, ipmi_username: 'admin', ipmi_password: PASSWORD, ipmi_cipher_suite: 17, ...extra },
  });
  if (r.status !== 201) throw new Error(`enrol failed: ${r.status} ${r.text}`);
  return r.body.uuid;
}

/** What a client got, minus the broker's notice lines: node output only. */
function nodeText(received: string): string {
  return received.replace(/(\r\n)?\[(SOL Session operational[^\]]*|solgate:[^\]\r\n]*)\]\r\n/g, '');
}

/** Numbered lines L00001… found in a text, in order. */
const numbers = (text: string) => [...text.matchAll(/L(\d{5})/g)].map((m) => Number(m[1]));
const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `L${String(from + i).padStart(5, '0')}\r\n`).join('');
const isRun = (ns: number[]) => ns.every((n, i) => i === 0 || n === ns[i - 1]! + 1);

function ipmitoolProcessesOf(uuid: string) {
  return consoleProcessesOf(uuid).filter((p) => /(^|\/)ipmitool$/.test(p.argv[0]!) && p.argv.includes('activate'));
}

let redis: RedisServer;
let fleet: BmcFleet;
const logRoot = mkdtempSync(join(tmpdir(), 'solgate-console-logs-'));

beforeAll(async () => {
  redis = await RedisServer.start();
  fleet = await BmcFleet.start({ count: 8, password: PASSWORD, cipherSuites: [3, 17] });
});

afterAll(async () => {
  await fleet?.stop();
  await redis?.stop();
  rmSync(logRoot, { recursive: true, force: true });
});

describe.each([
  ['native-ipmi-socat', 'on-demand', 1],
  ['native-ipmi-socat', 'always', 2],
  ['ipmitool-socat', 'on-demand', 3],
  ['ipmitool-socat', 'always', 4],
] as const)('console broker: %s, %s capture', (iface, capture, bmcIndex) => {
  let conductor: ConductorProcess;
  let uuid: string;
  let bmc: SimBmc;
  let prefix: string;
  let marked: number;
  const logDir = join(logRoot, `${iface}-${capture}`);

  beforeAll(async () => {
    prefix = uniquePrefix('broker');
    conductor = await ConductorProcess.start({
      id: `c-${bmcIndex}`,
      redisUrl: redis.url,
      prefix,
      env: { SOLGATE_CONSOLE_CAPTURE: capture, SOLGATE_CONSOLE_LINGER: '1', SOLGATE_CONSOLE_LOG_DIR: logDir, SOLGATE_LOG_LEVEL: 'info' },
    });
    bmc = fleet.bmc(bmcIndex);
    uuid = await enrolFleet(conductor, bmc, `broker-${bmcIndex}`, iface);
    marked = bmc.solActivations;
    await setConsole(conductor, uuid, true);
  });

  afterAll(async () => {
    await conductor?.dispose();
  });

  it('two, then 20 clients: all see every node byte, only the writer types, ~w only when free and ~W always, churn drops nothing, one SOL activation', async () => {
    const url = await waitConsoleUrl(conductor, uuid);
    const all: ConsoleClient[] = [];
    const connect = async () => {
      const c = await ConsoleClient.connect(url);
      all.push(c);
      return c;
    };
    try {
    const a = await connect();
    await a.waitSession();
    const b = await connect();
    await b.waitSession();
    await b.waitFor('[solgate: read-only: 127.0.0.1:');
    b.write('from-reader\r');
    a.write('from-writer\r');
    await bmc.waitReceived('from-writer\r');
    await b.waitFor('[solgate: read-only');
    b.write('~w');
    await b.waitFor('the write lock is held by 127.0.0.1:');
    b.write('~W');
    await b.waitFor('[solgate: you hold the write lock]');
    await a.waitFor('(forced); read-only now]');
    b.write('b-now-writes\r');
    a.write('a-is-reader-now\r');
    await bmc.waitReceived('b-now-writes\r');
    expect(bmc.received).not.toContain('from-reader');
    expect(bmc.received).not.toContain('a-is-reader-now');
    b.write('~r');
    await a.waitFor('[solgate: you hold the write lock]'); // passed to the longest-attached
    b.write('~w');
    await b.waitFor('the write lock is held by');

    // 18 more: 20 clients; the node prints numbered lines while clients come and go
    const more = await Promise.all(Array.from({ length: 18 }, () => connect()));
    await Promise.all(more.map((c) => c.waitSession()));
    const stayers = [a, b, ...more.slice(0, 10)];
    const churners = more.slice(10);
    const before = stayers.map((c) => c.received.length);
    const printing = (async () => {
      for (let i = 1; i <= 400; i += 20) {
        bmc.print(lines(i, i + 19));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    for (const c of churners.slice(0, 4)) await c.close();
    const late = await Promise.all([1, 2, 3].map(() => connect()));
    await printing;
    await Promise.all(stayers.map((c) => c.waitFor('L00400\r\n')));
    for (const [i, c] of stayers.entries()) {
      const ns = numbers(nodeText(c.received.slice(before[i])));
      expect(ns).toEqual(Array.from({ length: 400 }, (_, k) => k + 1));
    }
    await Promise.all(late.map((c) => c.waitFor('L00400\r\n')));
    for (const c of late) expect(isRun(numbers(nodeText(c.received)))).toBe(true);

    expect(bmc.solActivations - marked).toBe(1);
    expect(bmc.maxConcurrentSolSessions).toBe(1);
    if (iface === 'ipmitool-socat') expect(ipmitoolProcessesOf(uuid)).toHaveLength(1);
    const node = await conductor.api('GET', `/v1/nodes/${uuid}`);
    expect(node.body.driver_internal_info.console_viewers).toBe(stayers.length + churners.length - 4 + late.length);
    const who = expectOk(await cliFor(redis.url, prefix)(['console', 'who', uuid, '-o', 'json', '--audit', '50'])).json();
    expect(who.viewers).toHaveLength(stayers.length + churners.length - 4 + late.length);
    expect(who.viewers.filter((v: { writer: boolean }) => v.writer)).toHaveLength(1);
    expect(who.audit.map((e: { event: string }) => e.event)).toEqual(expect.arrayContaining(['attach', 'detach', 'lock']));
    expect(who.audit.find((e: { event: string; detail: { forced?: boolean } }) => e.event === 'lock' && e.detail?.forced)).toBeDefined();
    } finally {
      await Promise.all(all.map((c) => c.close()));
    }
  });

  it('a late joiner gets the last history bytes, then live output: no gap, no duplicate across the seam', async () => {
    const url = await waitConsoleUrl(conductor, uuid);
    const watcher = await ConsoleClient.connect(url);
    let joiner: ConsoleClient | undefined;
    try {
      await watcher.waitSession();
      bmc.print(lines(1001, 1600)); // 4,800 bytes: more than the 4 KiB replay
      await watcher.waitFor('L01600\r\n');
      for (let i = 1601; i <= 1800; i += 10) {
        bmc.print(lines(i, i + 9));
        if (i === 1651) joiner = await ConsoleClient.connect(url); // joins while output flows
        await new Promise((r) => setTimeout(r, 5));
      }
      await joiner!.waitFor('L01800\r\n');
      const ns = numbers(nodeText(joiner!.received));
      expect(isRun(ns)).toBe(true); // no gap, no duplicate
      expect(ns[ns.length - 1]).toBe(1800);
      expect(ns[0]).toBeGreaterThan(1001); // cut to the last ~4 KiB, at a line start
      expect(ns[0]).toBeLessThan(1651); // the replay reached back before it joined
      expect(nodeText(joiner!.received).startsWith(`L${String(ns[0]).padStart(5, '0')}\r\n`)).toBe(true);
    } finally {
      await Promise.all([watcher.close(), joiner?.close()]);
    }
  });

  if (capture === 'always') {
    it('captures with no client attached: the text is in `solgate console log` and in a late joiner’s replay', async () => {
      const url = await waitConsoleUrl(conductor, uuid);
      await waitFor(() => bmc.solOwner !== null, { what: 'the BMC session held with nobody attached' });
      bmc.print('\r\n[    3.141] unattended boot message: kernel panic - not syncing\r\n');
      const cli = cliFor(redis.url, prefix);
      const log = await waitFor(
        async () => {
          const r = await cli(['console', 'log', uuid, '--since', '1m']);
          return r.stdout.includes('kernel panic - not syncing') ? r : undefined;
        },
        { what: 'the text in solgate console log' },
      );
      expect(log.code).toBe(0);
      expect(log.stdout).not.toContain('\r');
      const c = await ConsoleClient.connect(url);
      await c.waitFor('unattended boot message: kernel panic');
      await c.close();
      // and in the conductor's log file
      await waitFor(() => existsSync(join(logDir, `${uuid}.log`)) && readFileSync(join(logDir, `${uuid}.log`), 'latin1').includes('kernel panic - not syncing'), { what: 'the log file' });
    });
  } else {
    it('on-demand: the BMC session closes SOLGATE_CONSOLE_LINGER after the last client leaves, and opens again for the next', async () => {
      const url = await waitConsoleUrl(conductor, uuid);
      const c = await ConsoleClient.connect(url);
      await c.waitSession();
      expect(bmc.solOwner).not.toBeNull();
      await c.close();
      await waitFor(() => bmc.solOwner === null, { timeoutMs: 5000, what: 'the session to close after the linger' });
      const again = await ConsoleClient.connect(url);
      await again.waitSession();
      again.write('after-linger\r');
      await bmc.waitReceived('after-linger\r');
      await again.close();
    });
  }

  it('escapes at a line start: ~? help, ~# who, ~B a break at the BMC, ~~ a tilde, mid-line tildes are data, ~. disconnects and the lock passes on; audited, logged and counted', async () => {
    const url = await waitConsoleUrl(conductor, uuid);
    const a = await ConsoleClient.connect(url);
    await a.waitSession();
    const b = await ConsoleClient.connect(url);
    try {
      await b.waitSession();
      await b.waitFor('[solgate: read-only');
      a.write('~?');
      await a.waitFor('~B  send a serial break\r\n');
      await a.waitFor('Escapes are recognised only at the start of a line.\r\n');
      a.write('~#');
      await a.waitFor('[solgate: 2 attached]\r\n');
      await a.waitFor('  (* holds the write lock)\r\n');
      expect(a.received).toMatch(/ {2}\* 127\.0\.0\.1:\d+ tcp since \S+ \(you\)\r\n/);
      expect(a.received).toMatch(/ {4}127\.0\.0\.1:\d+ tcp since \S+\r\n/);

      a.write('\r'); // a break goes out at the start of a line (ipmitool's ~B escape needs one)
      await bmc.waitReceived('\r');
      const breaks = bmc.serial.breaks;
      b.write('~B');
      await b.waitFor('[solgate: only the write-lock holder can send a break]\r\n');
      a.write('~B');
      await a.waitFor('~B [send break]\r\n');
      await waitFor(() => bmc.serial.breaks === breaks + 1, { what: 'the break at the BMC' });

      bmc.serial.received = '';
      a.write('\r~~tilde\r');
      a.write('mid~.line~B~#\r');
      await bmc.waitReceived('mid~.line~B~#\r');
      expect(bmc.serial.received).toBe('\r~tilde\rmid~.line~B~#\r');
      expect(bmc.serial.breaks).toBe(breaks + 1);
      expect(a.closed).toBe(false);

      // counted per interface: two viewers, the keystrokes in, the node's echo out
      const metrics = (await conductor.api('GET', '/metrics')).text;
      const metric = (name: string) => Number(new RegExp(`^${name}\\{interface="${iface}"\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
      expect(metric('solgate_console_viewers')).toBe(2);
      expect(metric('solgate_console_bmc_sessions')).toBe(1);
      expect(metric('solgate_console_bytes_in_total')).toBeGreaterThanOrEqual('\r~tilde\rmid~.line~B~#\r'.length);
      expect(metric('solgate_console_bytes_out_total')).toBeGreaterThan(0);
      expect(metric('solgate_console_bmc_session_drops_total')).toBe(0);
      // `solgate console who` as a table: both viewers, one writing
      const table = (await cliFor(redis.url, prefix)(['console', 'who', uuid])).stdout.trim().split('\n');
      expect(table[0]).toMatch(/^NAME\s+ADDRESS\s+VIA\s+WRITER\s+SINCE$/);
      expect(table.slice(1).map((l) => l.split(/\s+/).slice(2, 4)).sort()).toEqual([['tcp', 'no'], ['tcp', 'yes']]);

      a.write('~.');
      await a.waitFor('~. [terminated solgate]\r\n');
      await waitFor(() => a.closed, { what: 'the client to be disconnected' });
      await b.waitFor('[solgate: you hold the write lock]');

      // the break in the node's audit trail (client address, offset), and as a structured log line
      const who = expectOk(await cliFor(redis.url, prefix)(['console', 'who', uuid, '-o', 'json', '--audit', '1000'])).json();
      const brk = who.audit.filter((e: { event: string }) => e.event === 'break');
      expect(brk).toEqual([expect.objectContaining({ client: expect.stringMatching(/^127\.0\.0\.1:\d+$/), via: 'tcp', offset: expect.any(Number) })]);
      expect(brk[0].offset).toBeGreaterThan(0);
      expect(who.audit.map((e: { event: string }) => e.event)).toEqual(expect.arrayContaining(['session-open', 'attach', 'detach', 'break']));
      expect(conductor.logs).toMatch(new RegExp(`"audit":"break","node":"${uuid}","client":"127\\.0\\.0\\.1:\\d+","via":"tcp","offset":\\d+.*"msg":"console audit"`));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  if (iface === 'ipmitool-socat') {
    it('an ipmitool that dies mid-session: the client is told and stays, the broker starts one new ipmitool with backoff, the gap is marked, audited and counted', async () => {
      const url = await waitConsoleUrl(conductor, uuid);
      const c = await ConsoleClient.connect(url);
      try {
        await c.waitSession();
        const [before] = ipmitoolProcessesOf(uuid);
        expect(before).toBeDefined();
        process.kill(before!.pid, 'SIGKILL');
        await c.waitFor('[solgate: BMC session lost, retrying]', 10_000);
        await c.waitFor('[solgate: BMC session re-established', 20_000);
        expect(c.closed).toBe(false);
        c.write('after-the-gap\r');
        await bmc.waitReceived('after-the-gap\r');
        const now = ipmitoolProcessesOf(uuid);
        expect(now).toHaveLength(1);
        expect(now[0]!.pid).not.toBe(before!.pid);
        expect(bmc.maxConcurrentSolSessions).toBe(1);
        const late = await ConsoleClient.connect(url);
        await late.waitFor('BMC session lost'); // the late joiner's replay shows the gap
        await late.close();
        const metrics = (await conductor.api('GET', '/metrics')).text;
        expect(Number(/^solgate_console_bmc_session_drops_total\{interface="ipmitool-socat"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
        const who = expectOk(await cliFor(redis.url, prefix)(['console', 'who', uuid, '-o', 'json', '--audit', '20'])).json();
        expect(who.audit.map((e: { event: string }) => e.event)).toEqual(expect.arrayContaining(['session-drop', 'session-open']));
      } finally {
        await c.close();
      }
    });
  }

  it('disable with clients attached: each is told `[solgate: console disabled]` on its own line, then disconnected; the BMC session closes', async () => {
    const url = await waitConsoleUrl(conductor, uuid);
    const c = await ConsoleClient.connect(url);
    await c.waitSession();
    bmc.print('half a line');
    await c.waitFor('half a line');
    await setConsole(conductor, uuid, false);
    await waitFor(() => c.closed, { what: 'the client to be disconnected' });
    expect(c.received).toContain(`half a line\r\n${utf8('[solgate: console disabled]')}\r\n`);
    await waitFor(() => bmc.solOwner === null, { what: 'the BMC session to close' });
    await setConsole(conductor, uuid, true);
    await waitConsoleUrl(conductor, uuid);
  });

  it('SIGTERM of the conductor: each client is told, on its own line, that the console moves, then disconnected; nothing is left', async () => {
    const url = await waitConsoleUrl(conductor, uuid);
    const clients = await Promise.all([1, 2].map(() => ConsoleClient.connect(url)));
    await Promise.all(clients.map((c) => c.waitSession()));
    bmc.print('mid-line output');
    await Promise.all(clients.map((c) => c.waitFor('mid-line output')));
    expect(await conductor.stop()).toBe(0);
    for (const c of clients) {
      await waitFor(() => c.closed, { what: 'the client to be disconnected' });
      expect(c.received).toContain(`mid-line output\r\n${MOVING}\r\n`);
    }
    expect(consoleProcessesOf(uuid)).toEqual([]);
    await waitFor(() => bmc.solOwner === null, { what: 'no SOL session left on the BMC' });
  });
});

describe.each([
  ['&', 'ipmitool-socat', 7],
  ['none', 'native-ipmi-socat', 8],
] as const)('SOLGATE_ESCAPE_CHAR=%s (%s)', (escape, iface, bmcIndex) => {
  let conductor: ConductorProcess;
  let uuid: string;
  let bmc: SimBmc;

  beforeAll(async () => {
    conductor = await ConductorProcess.start({ id: `c-esc-${bmcIndex}`, redisUrl: redis.url, prefix: uniquePrefix('broker-esc'), env: { SOLGATE_ESCAPE_CHAR: escape } });
    bmc = fleet.bmc(bmcIndex);
    uuid = await enrolFleet(conductor, bmc, `esc-${bmcIndex}`, iface);
    await setConsole(conductor, uuid, true);
  });

  afterAll(async () => {
    await conductor?.dispose();
  });

  it(escape === 'none' ? 'passes every byte through: no escape is recognised, the client stays' : 'recognises its own escape character; ~ at a line start is data that reaches the node', async () => {
    const c = await ConsoleClient.connect(await waitConsoleUrl(conductor, uuid));
    try {
      await c.waitSession();
      bmc.serial.received = '';
      if (escape === 'none') {
        c.write('\r~.\r~?\r~B\r&.\r&?\r');
        await bmc.waitReceived('&?\r');
        expect(bmc.serial.received).toBe('\r~.\r~?\r~B\r&.\r&?\r');
        expect(c.received).not.toContain('[terminated solgate]');
        expect(c.closed).toBe(false);
        return;
      }
      // with '&', tildes at a line start are plain data (through ipmitool's own ~ escape, too)...
      c.write('\r~.\r~?\r~B\r');
      await waitFor(() => bmc.serial.received === '\r~.\r~?\r~B\r', { what: `the node to get the tildes as data: ${JSON.stringify(bmc.serial.received)}` });
      expect(c.closed).toBe(false);
      // ...and & is the escape
      c.write('&?');
      await c.waitFor('&.  disconnect\r\n');
      c.write('&&literal\r');
      await bmc.waitReceived('&literal\r');
      c.write('&.');
      await c.waitFor('&. [terminated solgate]\r\n');
      await waitFor(() => c.closed, { what: 'the client to be disconnected by &.' });
    } finally {
      await c.close();
    }
  });
});

describe('console broker takeover', () => {
  const conductors: ConductorProcess[] = [];
  let prefix: string;
  const nodes: Array<{ uuid: string; bmc: SimBmc; iface: string; capture: string }> = [];

  beforeAll(async () => {
    prefix = uniquePrefix('broker-tk');
    const portRange = await freeTcpPortBlock(200);
    for (const n of [1, 2]) {
      // pushed one by one, so afterAll disposes whatever started
      conductors.push(await ConductorProcess.start({ id: `tk${n}`, address: `127.0.0.${n}`, redisUrl: redis.url, prefix, portRange, env: { SOLGATE_CONSOLE_LINGER: '1' } }));
    }
    // both nodes on the same owner, so one kill -9 moves both (uuids are random: re-enrol until they are)
    let owner: string | undefined;
    for (const [i, iface, capture] of [
      [5, 'native-ipmi-socat', 'always'],
      [6, 'ipmitool-socat', 'on-demand'],
    ] as const) {
      const bmc = fleet.bmc(i);
      for (let attempt = 0; ; attempt++) {
        const uuid = await enrolFleet(conductors[0]!, bmc, `tk-${i}-${attempt}`, iface, capture === 'always' ? { solgate_console_capture: 'always' } : {});
        await setConsole(conductors[0]!, uuid, true);
        const url = await waitConsoleUrl(conductors[0]!, uuid);
        owner ??= url;
        if (url.split(':')[1] === owner.split(':')[1] || attempt > 20) {
          nodes.push({ uuid, bmc, iface, capture });
          break;
        }
        expect((await conductors[0]!.api('DELETE', `/v1/nodes/${uuid}`)).status).toBe(204);
      }
    }
  });

  afterAll(async () => {
    await Promise.all(conductors.map((c) => c.dispose()));
  });

  it('after kill -9 of the owner, a client of the new owner’s port gets the pre-crash text in its replay, and solgate console log shows it', async () => {
    const cli = cliFor(redis.url, prefix);
    const owners = new Map<string, ConductorProcess>();
    const attached: ConsoleClient[] = [];
    for (const n of nodes) {
      const url = await waitConsoleUrl(conductors[0]!, n.uuid);
      owners.set(n.uuid, conductors.find((c) => url.startsWith(`tcp://${c.address}:`))!);
      if (n.capture === 'on-demand') {
        const c = await ConsoleClient.connect(url); // on-demand: someone is watching when it is printed
        await c.waitSession();
        attached.push(c);
      } else await waitFor(() => n.bmc.solOwner !== null, { what: 'the always-on session' });
      n.bmc.print(`\r\nbefore-the-crash ${n.iface}\r\n`);
    }
    // the console log reaches Redis within a batch (~50 ms)
    for (const n of nodes) {
      await waitFor(async () => (await cli(['console', 'log', n.uuid])).stdout.includes(`before-the-crash ${n.iface}`), { what: `${n.iface}: the text in Redis` });
    }
    const victim = owners.get(nodes[0]!.uuid)!;
    expect(owners.get(nodes[1]!.uuid)).toBe(victim);
    await victim.kill9();
    const survivor = conductors.find((c) => c !== victim)!;
    for (const n of nodes) {
      const url = await waitFor(
        async () => {
          const r = await survivor.api('GET', `/v1/nodes/${n.uuid}/states/console`);
          const u: string | undefined = r.body?.console_info?.url;
          return u && u.startsWith(`tcp://${survivor.address}:`) ? u : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 20, what: `${n.iface}: the survivor to serve` },
      );
      const c = await ConsoleClient.connect(url);
      await c.waitFor(`before-the-crash ${n.iface}`);
      await c.waitSession();
      c.write('after-the-crash\r');
      await n.bmc.waitReceived('after-the-crash\r');
      await c.close();
      const log = expectOk(await cli(['console', 'log', n.uuid]));
      expect(log.stdout).toContain(`before-the-crash ${n.iface}`);
      expect(n.bmc.maxConcurrentSolSessions).toBeLessThanOrEqual(1);
    }
    for (const c of attached) await waitFor(() => c.closed, { what: 'the dead owner’s client to be disconnected' });

    // Deleting a node takes its console history with it (log, audit trail, viewers), in the node's
    // delete script: written by both owners, none of it may outlive the node.
    const client = createRedisClient(redis.url);
    try {
      const keys = new Keys(prefix);
      for (const n of nodes) {
        const facets = [keys.consoleLog(n.uuid), keys.consoleAudit(n.uuid), keys.consoleViewers(n.uuid)];
        expect(await client.exists(...facets)).toBe(3);
        expect((await survivor.api('DELETE', `/v1/nodes/${n.uuid}`)).status).toBe(204);
        expect(await client.exists(...facets)).toBe(0);
      }
      await new Promise((r) => setTimeout(r, 500)); // and no late batch or audit entry brings them back
      for (const n of nodes) expect(await client.exists(keys.consoleLog(n.uuid), keys.consoleAudit(n.uuid), keys.consoleViewers(n.uuid))).toBe(0);
    } finally {
      await closeRedisClient(client);
    }
  });
});

describe('console processes and the launcher pool', () => {
  let conductor: ConductorProcess;
  let pool: BmcFleet;
  const uuids: string[] = [];

  beforeAll(async () => {
    pool = await BmcFleet.start({ count: 5, password: PASSWORD, cipherSuites: [3, 17] });
    conductor = await ConductorProcess.start({ id: 'c-pool', redisUrl: redis.url, prefix: uniquePrefix('broker-pool'), env: { SOLGATE_CONSOLE_CAPTURE: 'always' } });
    for (let i = 1; i <= 5; i++) uuids.push(await enrolFleet(conductor, pool.bmc(i), `pool-${i}`, 'ipmitool-socat'));
    for (const uuid of uuids) await setConsole(conductor, uuid, true);
  });

  afterAll(async () => {
    await conductor?.dispose();
    await pool?.stop();
  });

  it('one launcher pool (one per CPU, at most 4) starts both the socat listeners and the brokers’ ipmitool', async () => {
    for (const uuid of uuids) await waitConsoleUrl(conductor, uuid);
    await waitFor(() => pool.bmcs.every((b) => b.solOwner !== null), { what: 'every always-capture ipmitool session up' });
    const procs = listProcesses();
    const byPid = new Map(procs.map((p) => [p.pid, p]));
    const ancestors = (p: ProcInfo) => {
      const out: number[] = [];
      for (let q = byPid.get(p.ppid); q && out.length < 32; q = byPid.get(q.ppid)) out.push(q.pid);
      return out;
    };
    const launchers = procs.filter((p) => p.argv.some((a) => a.endsWith('launcher.pl')) && ancestors(p).includes(conductor.pid!));
    expect(launchers.length).toBeGreaterThanOrEqual(1);
    expect(launchers.length).toBeLessThanOrEqual(Math.max(1, Math.min(4, availableParallelism())));
    const launcherPids = new Set(launchers.map((l) => l.pid));
    for (const uuid of uuids) {
      const mine = consoleProcessesOf(uuid);
      const listener = mine.filter((p) => p.argv[0]!.endsWith('socat') && p.argv.some((a) => a.startsWith('TCP4-LISTEN:')));
      const ipmitool = ipmitoolProcessesOf(uuid);
      expect([listener.length, ipmitool.length]).toEqual([1, 1]); // and no second ipmitool per node
      for (const p of [...listener, ...ipmitool]) expect(ancestors(byPid.get(p.pid)!).some((a) => launcherPids.has(a))).toBe(true);
    }
  });
});
