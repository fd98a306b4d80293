import { describe, expect, it } from '@jest/globals';
import { ClusterView, type MemberView } from '#libs/cluster';
import { consolePhase } from '#libs/console';
import { nodeFieldDefaults, STOPPED_STATUS, type ConsoleStatus, type NodeRecord } from '#libs/nodes';
import { checkClaims, checkConductors, checkConsoles, checkRedis, compareVersions, parseInfo } from './doctor-checks.js';
import type { NodeFacts } from './node-view.js';

const NOW = 1_000_000;
const member = (id: string, over: Partial<MemberView> = {}): MemberView => ({
  id,
  incarnation: `inc-${id}`,
  apiUrl: `http://${id}:6385`,
  consoleAddress: '127.0.0.1',
  group: '',
  hostname: id,
  pid: 1,
  version: '0.1.0',
  state: 'alive',
  drained: false,
  lastHeartbeatMs: NOW - 500,
  joinedAtMs: NOW - 60_000,
  alive: true,
  ...over,
});
const view = (members: MemberView[], takeoverHold = false) => new ClusterView({ nowMs: NOW, members, takeoverHold }, 160);
const node = (over: Partial<NodeRecord> = {}): NodeRecord => ({
  uuid: '11111111-1111-4111-8111-111111111111',
  name: 'n1',
  driver: 'ipmi',
  console_interface: 'ipmitool-socat',
  driver_info: { ipmi_address: '10.0.0.1' },
  conductor_group: '',
  description: null,
  extra: {},
  properties: {},
  ...nodeFieldDefaults(),
  console_rev: 1,
  console_enabled: true,
  console_generation: 1,
  provision_state: 'enroll',
  created_at: NOW - 100_000,
  updated_at: NOW - 100_000,
  rev: 1,
  ...over,
});
const facts = (n: NodeRecord, status: Partial<ConsoleStatus>, opts: { serving?: boolean; owner?: string | null; live?: boolean } = {}): NodeFacts => {
  const s = { ...STOPPED_STATUS, ...status };
  const owner = opts.owner === undefined ? 'c1' : opts.owner;
  const phase = consolePhase(n, s, { owner, reporterLive: opts.live ?? true });
  return {
    node: n,
    console: { serving: !!opts.serving, url: opts.serving ? s.url : null, conductor: owner, status: s, phase },
    runsOnLiveConductor: opts.live ?? true,
  };
};

describe('redis checks', () => {
  it('parses INFO and compares versions numerically', () => {
    expect(parseInfo('# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n')).toEqual({ redis_version: '7.0.15', redis_mode: 'standalone' });
    expect(compareVersions('6.10.0', '6.2.0')).toBeGreaterThan(0);
    expect(compareVersions('6.0.16', '6.2.0')).toBeLessThan(0);
  });

  it('fails below 6.2, warns without AOF and with an evicting memory policy', () => {
    const old = checkRedis({ redis_version: '6.0.9', aof_enabled: '1' }, 'r');
    expect(old.map((f) => [f.level, f.check])).toEqual([
      ['fail', 'redis'],
      ['ok', 'persistence'],
    ]);
    const lossy = checkRedis({ redis_version: '7.2.4', aof_enabled: '0', maxmemory: '1000', maxmemory_policy: 'allkeys-lru' }, 'r');
    expect(lossy.map((f) => [f.level, f.check])).toEqual([
      ['ok', 'redis'],
      ['warn', 'persistence'],
      ['warn', 'memory'],
    ]);
    const full = checkRedis({ redis_version: '7.2.4', aof_enabled: '1', maxmemory: '1000', maxmemory_policy: 'noeviction', used_memory: '990' }, 'r');
    expect(full.map((f) => [f.level, f.check])).toEqual([
      ['ok', 'redis'],
      ['ok', 'persistence'],
      ['fail', 'memory'],
    ]);
    expect(checkRedis({ redis_version: '7.2.4', aof_enabled: '1', maxmemory: '1000', used_memory: '920' }, 'r').map((f) => f.level)).toEqual(['ok', 'ok', 'warn']);
  });
});

describe('conductor checks', () => {
  it('reports each member, and fails when none is alive', () => {
    const v = view([member('c1'), member('c2', { alive: false, lastHeartbeatMs: NOW - 42_000 }), member('c3', { drained: true })]);
    const out = checkConductors(v, ['c3', 'c9'], NOW);
    expect(out.map((f) => [f.level, f.subject, f.message.split(':')[0].split(',')[0]])).toEqual([
      ['ok', 'c1', 'alive'],
      ['warn', 'c2', 'dead'],
      ['warn', 'c3', 'drained'],
      ['warn', 'c9', 'drained but not registered (undrain it if it is gone for good)'],
    ]);
    expect(checkConductors(view([member('c1', { alive: false })]), [], NOW).some((f) => f.level === 'fail')).toBe(true);
    expect(checkConductors(view([]), [], NOW)).toEqual([expect.objectContaining({ level: 'fail', message: expect.stringContaining('no conductor is registered') })]);
  });
});

describe('claim checks', () => {
  const v = view([member('c1')]);
  const key = (u: string) => `p:node:${u}:claim`;
  it('accepts claims held by live incarnations', () => {
    expect(checkClaims([{ uuid: 'u1', claim: { member: 'c1', incarnation: 'inc-c1', epoch: 3, sinceMs: 0 }, node: node() }], v, key)).toEqual([
      expect.objectContaining({ level: 'ok', check: 'claims' }),
    ]);
  });

  it('fails a stale claim on an enabled node, warns on a disabled or missing one', () => {
    const stale = { member: 'c1', incarnation: 'old', epoch: 9, sinceMs: 0 };
    const out = checkClaims(
      [
        { uuid: 'u1', claim: stale, node: node({ name: 'on' }) },
        { uuid: 'u2', claim: stale, node: node({ name: 'off', console_enabled: false }) },
        { uuid: 'u3', claim: stale, node: undefined },
      ],
      v,
      key,
    );
    expect(out.map((f) => [f.level, f.subject])).toEqual([
      ['fail', 'on'],
      ['warn', 'off'],
      ['warn', 'u3'],
    ]);
    expect(out[2].message).toContain('delete key p:node:u3:claim');
  });
});

describe('console checks', () => {
  it('is quiet about serving consoles and ones still within the grace period', () => {
    const out = checkConsoles(
      [facts(node(), { state: 'running', conductor: 'c1', url: 'tcp://x:1' }, { serving: true }), facts(node({ name: 'n2' }), { state: 'starting', conductor: 'c1', updated_at: NOW - 1000 })],
      NOW,
      30_000,
    );
    expect(out).toEqual([{ level: 'warn', check: 'consoles', subject: '-', message: '1 of 2 enabled consoles serving (2 nodes)' }]);
  });

  it('explains each disagreement between intent and observed state', () => {
    const out = checkConsoles(
      [
        facts(node({ name: 'err' }), { state: 'error', conductor: 'c1', last_error: 'socat exited', restarts: 5, updated_at: NOW }),
        facts(node({ name: 'slow' }), { state: 'restarting', conductor: 'c1', updated_at: NOW - 60_000, last_error: 'boom' }),
        facts(node({ name: 'ghost' }), { state: 'running', conductor: 'c7', updated_at: NOW - 60_000 }, { live: false }),
        facts(node({ name: 'idle' }), { state: 'stopped', updated_at: null }),
        facts(node({ name: 'off', console_enabled: false }), { state: 'running', conductor: 'c1', updated_at: NOW - 60_000 }),
        facts(node({ name: 'o1', conductor_group: 'rack9' }), {}, { owner: null }),
        facts(node({ name: 'o2', conductor_group: 'rack9' }), {}, { owner: null }),
      ],
      NOW,
      30_000,
    );
    expect(out.map((f) => `${f.level} ${f.check} ${f.subject}: ${f.message}`)).toEqual([
      'fail console err: enabled but in error on c1: socat exited (restarts 5)',
      'fail console slow: enabled but restarting for 60s on c1: boom',
      'fail console ghost: reported running by c7, which is not a live incarnation; owner c1 has not taken it over',
      'fail console idle: enabled but stopped for 100s: owner c1 has not started it',
      'fail console off: running on c1 for 60s although the intent is disabled',
      "fail group 'rack9': 2 console-enabled nodes, no live conductor in group 'rack9'",
      'warn consoles -: 0 of 6 enabled consoles serving (7 nodes)',
    ]);
  });
});
