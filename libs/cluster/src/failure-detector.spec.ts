import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { ClusterView } from './cluster-view.js';
import { FailureDetector } from './failure-detector.js';
import type { MemberView } from './member.model.js';

const member = (id: string): MemberView => ({
  id,
  incarnation: `inc-${id}`,
  apiUrl: `http://${id}:6385`,
  consoleAddress: '127.0.0.1',
  group: '',
  hostname: id,
  pid: 1,
  version: '0',
  state: 'alive',
  drained: false,
  lastHeartbeatMs: 0,
  joinedAtMs: 0,
  alive: true,
});

describe('FailureDetector', () => {
  it('removes a member whose Redis connection vanished and whose API refuses, and logs who crashed under its own key', async () => {
    const raw: string[] = [];
    const sink = new Writable({
      write(c, _e, cb) {
        raw.push(...String(c).split('\n').filter(Boolean));
        cb();
      },
    });
    const view = new ClusterView({ nowMs: 0, members: [member('c1'), member('c2'), member('c3')], takeoverHold: false }, 160);
    const removed: string[] = [];
    const probed: string[] = [];
    const d = new FailureDetector(
      { registered: true, view, memberId: 'c1' },
      {
        connections: async () => [{ prefix: 'p', memberId: 'c2', incarnation: 'inc-c2', role: 'hb', addr: '' }],
        remove: async (id) => (removed.push(id), true),
      },
      100,
      pino({ base: { member: 'c1' } }, sink),
      async (url) => (probed.push(url), url.includes('c3') ? 'refused' : 'accepted'),
    );
    const dead: string[] = [];
    d.on('dead', (id) => dead.push(id));
    await d.tick();
    expect(probed).toEqual(['http://c3:6385']);
    expect(removed).toEqual(['c3']);
    expect(dead).toEqual(['c3']);
    expect(d.detected).toBe(1);
    const line = raw.find((l) => l.includes('conductor crashed'))!;
    // one "member" key (the logger's: who detected it), the crashed one under its own key
    expect(line.match(/"member":/g)).toHaveLength(1);
    expect(JSON.parse(line)).toMatchObject({ member: 'c1', crashed: 'c3', incarnation: 'inc-c3' });
  });

  it('never removes a member whose API still accepts connections (a silent host is left to the heartbeat timeout)', async () => {
    const view = new ClusterView({ nowMs: 0, members: [member('c1'), member('c2')], takeoverHold: false }, 160);
    const removed: string[] = [];
    const d = new FailureDetector({ registered: true, view, memberId: 'c1' }, { connections: async () => [], remove: async (id) => (removed.push(id), true) }, 100, pino({ level: 'silent' }), async () => 'timeout');
    await d.tick();
    expect(removed).toEqual([]);
  });
});
