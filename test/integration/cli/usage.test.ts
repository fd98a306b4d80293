import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../../apps/cli/src/program.js';
import { uniquePrefix } from '../../support/fixtures.js';
import { freeTcpPort } from '../../support/ports.js';
import { RedisServer } from '../../support/redis-server.js';
import { cliFor, expectOk, solgate } from './cli-harness.js';

/**
 * The CLI against a real redis-server with no conductor: usage errors, unknown nodes, an unreachable
 * Redis, node CRUD with passwords from a file or a prompt, and a 1,000-node import.
 */
describe('solgate CLI without conductors', () => {
  let redis: RedisServer;
  let db: ReturnType<RedisServer['client']>;
  let cli: ReturnType<typeof cliFor>;
  let prefix: string;
  const dir = mkdtempSync(join(tmpdir(), 'solgate-cli-'));
  const pwFile = join(dir, 'pw');

  beforeAll(async () => {
    redis = await RedisServer.start();
    prefix = uniquePrefix('cli');
    db = redis.client();
    cli = cliFor(redis.url, prefix);
    writeFileSync(pwFile, 'Sup3r-s3cret\n', { mode: 0o600 });
  });
  afterAll(async () => {
    await db?.quit();
    await redis?.stop();
  });

  it('documents every command with examples', () => {
    const mine = ['conductors', 'ring', 'nodes', 'console', 'drain', 'undrain', 'doctor'];
    const walk = (c: Command): Command[] => [c, ...c.commands.flatMap(walk)];
    const program = buildProgram();
    const commands = program.commands.filter((c) => mine.includes(c.name())).flatMap(walk);
    expect(commands.length).toBeGreaterThanOrEqual(17);
    for (const c of commands) {
      let text = '';
      c.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
      c.outputHelp();
      expect({ command: c.name(), hasExamples: /\nExamples:\n {2}solgate /.test(text) }).toEqual({ command: c.name(), hasExamples: true });
    }
  });

  it('exits 2 with a helpful message for wrong usage, and suggests the command meant', async () => {
    const cases: [string[], RegExp][] = [
      [['nodez', 'list'], /unknown command 'nodez'[\s\S]*Did you mean one of node, nodes\?/],
      [['nodes', 'lst'], /unknown command 'lst'[\s\S]*Did you mean one of list, ls\?/],
      [['condutcors'], /Did you mean conductors\?/],
      [['nodes', 'list', '--selectr', 'group=a'], /unknown option '--selectr'[\s\S]*Did you mean --selector\?/],
      [['ring', 'owner'], /missing required argument 'node'/],
      [['nodes', 'list', '-o', 'xml'], /argument 'xml' is invalid. Allowed choices are table, wide, json, yaml/],
      [['console', 'show', '-l', 'colour=red'], /unknown selector key "colour"/],
      [['console', 'enable'], /name at least one node/],
      [['nodes', 'create'], /give the node as flags/],
      [['nodes', 'update', 'x', '--patch', '{nope'], /--patch is not JSON/],
      [['drain', '--timeout', 'soon', 'c1'], /--timeout must be a number of seconds/],
      [['nodes'], /Usage: solgate nodes/],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(args)));
    results.forEach((r, i) => {
      expect({ args: cases[i][0], code: r.code, stdout: r.stdout }).toEqual({ args: cases[i][0], code: 2, stdout: '' });
      expect(r.stderr).toMatch(cases[i][1]);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  });

  it('exits 1 with "node X not found" for an unknown node', async () => {
    const results = await Promise.all([['nodes', 'show', 'nope'], ['console', 'show', 'nope'], ['ring', 'owner', 'nope'], ['nodes', 'delete', 'nope'], ['console', 'enable', 'nope']].map((a) => cli(a)));
    for (const r of results) {
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('error: node nope not found\n');
      expect(r.stdout).toBe('');
    }
  });

  it('exits 1 within the connect timeout when Redis is unreachable, in one line, without the password', async () => {
    const silent: Server = createServer(() => undefined); // accepts TCP, never answers RESP
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const silentPort = (silent.address() as { port: number }).port;
    const closedPort = await freeTcpPort();
    try {
      const urls = [`redis://admin:Sup3r-s3cret@127.0.0.1:${closedPort}`, `redis://:Sup3r-s3cret@127.0.0.1:${silentPort}`, `redis-sentinel://Sup3r-s3cret@127.0.0.1:${closedPort}/mymaster`];
      const results = await Promise.all(urls.map((u) => solgate(['--redis', u, '--connect-timeout', '1', 'conductors'])));
      for (const r of results) {
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/^error: cannot connect to Redis at redis(-sentinel)?:\/\/\S*\*\*\*@127\.0\.0\.1:\d+\S*: .+\n$/);
        expect(r.stderr + r.stdout).not.toContain('Sup3r-s3cret');
        expect(r.ms).toBeLessThan(1000 + 3000); // the timeout plus process start-up on a busy 2-core machine
      }
      expect(results[1].stderr).toContain('no answer within 1 s');
      // the same through the environment variable
      const env = await solgate(['nodes', 'list', '--connect-timeout', '0.5'], { env: { SOLGATE_REDIS_URL: urls[0] } });
      expect(env.code).toBe(1);
      expect(env.stderr).not.toContain('Sup3r-s3cret');
    } finally {
      silent.close();
    }
  });

  it('creates, shows, updates and deletes a node; the password comes from a file or a prompt and is never printed', async () => {
    const created = await cli(['nodes', 'create', '--name', 'n1', '--address', '10.0.0.1', '--port', '623', '--username', 'admin', '--password-file', pwFile, '--group', 'Rack1', '-o', 'json']);
    expectOk(created);
    const doc = created.json();
    expect(doc).toMatchObject({ name: 'n1', driver: 'ipmi', console_interface: 'ipmitool-socat', conductor_group: 'rack1', console_enabled: false, provision_state: 'enroll' });
    expect(doc.driver_info).toEqual({ ipmi_address: '10.0.0.1', ipmi_port: 623, ipmi_username: 'admin', ipmi_password: '******' });
    // stored as read from the file (without its line break), never shown
    expect(JSON.parse((await db.hget(`${prefix}:node:${doc.uuid}`, 'spec'))!).driver_info.ipmi_password).toBe('Sup3r-s3cret');

    const prompted = await cli(['nodes', 'create', '--name', 'n2', '--address', 'bmc2.example.net', '--password-prompt'], { input: 'typed-pw\n' });
    expectOk(prompted);
    expect(prompted.stdout).toMatch(/^NAME\s+UUID\s+GROUP\s+CONSOLE\s+STATE\s+OWNER\nn2\s+[0-9a-f-]{36}\s+""\s+disabled\s+no conductor|stopped/);

    const [table, json, yaml] = await Promise.all([cli(['nodes', 'show', 'n1']), cli(['nodes', 'show', 'n1', '-o', 'json']), cli(['nodes', 'show', doc.uuid, '-o', 'yaml'])]);
    expect(table.stdout).toMatch(/^uuid\s+[0-9a-f-]{36}\nname\s+n1\n/);
    expect(table.stdout).toMatch(/driver_info\s+\{"ipmi_address":"10.0.0.1","ipmi_port":623,"ipmi_username":"admin","ipmi_password":"\*\*\*\*\*\*"\}/);
    expect(json.json()).toEqual(doc);
    expect(yaml.stdout).toContain('ipmi_password: "******"');
    for (const r of [created, prompted, table, json, yaml]) expect(r.stdout + r.stderr).not.toMatch(/Sup3r-s3cret|typed-pw/);

    const updated = await cli(['nodes', 'update', 'n1', '--address', '10.0.0.11', '--terminal-port', '17001', '--patch', '[{"op":"add","path":"/extra/rack","value":"r7"}]', '-o', 'json']);
    expectOk(updated);
    expect(updated.json()).toMatchObject({ driver_info: { ipmi_address: '10.0.0.11', ipmi_terminal_port: 17001, ipmi_password: '******' }, extra: { rack: 'r7' } });
    const unset = await cli(['nodes', 'update', 'n1', '--unset', 'driver_info/ipmi_terminal_port', '-o', 'json']);
    expect(unset.json().driver_info.ipmi_terminal_port).toBeUndefined();

    const bad = await cli(['nodes', 'update', 'n1', '--address', 'bad host;rm']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('error: Invalid ipmi_address "bad host;rm": must be a host name or an IPv4/IPv6 address.\n');
    const dup = await cli(['nodes', 'create', '--name', 'n1', '--address', '10.0.0.9']);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toBe('error: A node with name n1 already exists.\n');

    const list = await cli(['nodes', 'list', '--no-headers', '-l', 'name=n*,group=rack1']);
    expect(list.stdout.trim().split('\n').map((l) => l.split(/\s+/)[0])).toEqual(['n1']);

    const del = await cli(['nodes', 'delete', 'n1', 'n2']);
    expectOk(del);
    expect(del.stdout).toBe('node n1 deleted\nnode n2 deleted\n');
    expect((await cli(['nodes', 'list', '-o', 'json'])).json()).toEqual([]);
  });

  it('imports 1,000 nodes with a progress bar, rejecting bad and duplicate rows without storing them', async () => {
    await cli(['nodes', 'create', '--name', 'taken-0', '--address', '10.9.9.9']);
    const lines = ['name,address,port,username,group,extra.rack'];
    for (let i = 0; i < 1000; i++) {
      let name = `bulk-${i}`;
      let address = `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
      if (i === 100) address = '300.1.2.3'; // bad address
      if (i === 200) name = 'bulk-7'; // duplicate within the file
      if (i === 300) name = 'taken-0'; // exists in Redis
      if (i === 400) address = '10.0.0.1;reboot'; // injection attempt
      lines.push(`${name},${address},623,admin,rack${i % 4},r${i % 10}`);
    }
    const file = join(dir, 'fleet.csv');
    writeFileSync(file, lines.join('\n') + '\n');
    const before = await db.zcard(`${prefix}:nodes`);

    const r = await cli(['nodes', 'import', file, '--progress', '--password-file', pwFile, '-o', 'json']);
    // eslint-disable-next-line no-console
    console.log(`nodes import of 1,000 CSV rows: ${r.json().duration_ms} ms inside the CLI, ${Math.round(r.ms)} ms for the whole command`);
    expect(r.code).toBe(1); // rows were rejected
    expect(r.stderr).toMatch(/importing \[=+\] 1000\/1000 100%/);
    expect(r.stderr).toContain('imported 996 of 1000 nodes');
    const report = r.json();
    expect(report).toMatchObject({ total: 1000, created: 996, dry_run: false });
    expect(report.rejected.map((x: { row: number; name: string }) => [x.row, x.name])).toEqual([
      [101, 'bulk-100'],
      [201, 'bulk-7'],
      [301, 'taken-0'],
      [401, 'bulk-400'],
    ]);
    expect(report.rejected[0].reason).toMatch(/Invalid ipmi_address "300.1.2.3"/);
    expect(report.rejected[1].reason).toBe('duplicate name bulk-7 (row 8 has it)');
    expect(report.rejected[2].reason).toMatch(/a node with name taken-0 already exists/);

    const c = db;
    expect(await c.zcard(`${prefix}:nodes`)).toBe(before + 996);
    const names = await c.hgetall(`${prefix}:node-names`);
    expect(names['bulk-100']).toBeUndefined();
    expect(names['bulk-400']).toBeUndefined();
    // every stored node is whole: record, name index and creation index agree
    const uuids = await c.zrange(`${prefix}:nodes`, '0', '-1');
    const specs = await Promise.all(uuids.map((u) => c.hget(`${prefix}:node:${u}`, 'spec')));
    expect(specs.every((s) => s !== null)).toBe(true);
    expect(Object.keys(names).length).toBe(uuids.length);
    const one = JSON.parse(specs[uuids.indexOf(names['bulk-5'])]!);
    expect(one).toMatchObject({ name: 'bulk-5', conductor_group: 'rack1', driver_info: { ipmi_address: '10.1.0.6', ipmi_port: 623, ipmi_password: 'Sup3r-s3cret' }, extra: { rack: 'r5' } });

    // a second run stores nothing: every row exists now; the table lists why, row by row
    const again = await cli(['nodes', 'import', file, '--dry-run']);
    expect(again.code).toBe(1);
    expect(again.stderr).not.toContain('1000/1000'); // no bar on a pipe unless --progress
    expect(again.stdout.split('\n')[0]).toMatch(/^ROW\s+NAME\s+REASON$/);
    expect(again.stdout.trim().split('\n')).toHaveLength(1001);
  });
});
