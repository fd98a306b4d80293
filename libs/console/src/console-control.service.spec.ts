import { describe, expect, it } from '@jest/globals';
import { testNode } from '#libs/testing';
import { ClusterView, type MemberView } from '#libs/cluster';
import { STOPPED_STATUS, type ConsoleStatus, type ConsoleStatusRepository, type NodeRecord, type NodeRepository } from '#libs/nodes';
import { ConsoleControl, type ConsoleSignals } from './console-control.service.js';

const UUID = '11111111-1111-4111-8111-111111111111';
const node = (over: Partial<NodeRecord> = {}): NodeRecord => testNode({ uuid: UUID, ...over });
const member = (id: string): MemberView => ({ id, incarnation: `i-${id}`, apiUrl: '', consoleAddress: '', group: '', hostname: '', pid: 1, version: '', state: 'alive', drained: false, lastHeartbeatMs: 0, joinedAtMs: 0, alive: true });
const view = new ClusterView({ nowMs: 0, members: [member('c1')], takeoverHold: false }, 160);
const RUNNING: Partial<ConsoleStatus> = { state: 'running', url: 'tcp://127.0.0.1:20000', conductor: 'c1', incarnation: 'i-c1', generation: 2 };

function control(opts: { status: Partial<ConsoleStatus>; live?: boolean; n?: Partial<NodeRecord> }) {
  const state = { node: node(opts.n), status: { ...STOPPED_STATUS, ...opts.status } as ConsoleStatus, live: opts.live ?? true, reads: 0 };
  const nodes = { get: async () => state.node } as unknown as NodeRepository;
  const statuses = {
    get: async () => {
      state.reads++;
      return state.status;
    },
  } as unknown as ConsoleStatusRepository;
  const c = new ConsoleControl(nodes, statuses, () => view, async () => state.live);
  return { c, state };
}

/** Signals the test fires by hand (the owner's write). */
class ManualSignals implements ConsoleSignals {
  private waiters: Array<() => void> = [];
  fire() {
    for (const w of this.waiters.splice(0)) w();
  }
  next(_uuid: string, timeoutMs: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(r, timeoutMs);
      this.waiters.push(() => (clearTimeout(t), r()));
    });
  }
}

describe('ConsoleControl', () => {
  it('GET: a console reported running by a conductor whose connection is gone is not served (fresh check beats the cached view)', async () => {
    const { c } = control({ status: RUNNING, live: false });
    const v = await c.get(node());
    expect(v.serving).toBe(false);
    expect(v.url).toBeNull();
    expect(v.phase.label).toBe('starting');
    const alive = await control({ status: RUNNING }).c.get(node());
    expect(alive).toMatchObject({ serving: true, url: 'tcp://127.0.0.1:20000' });
  });

  it('GET: a console being stopped is not served', async () => {
    const { c } = control({ status: { ...RUNNING, state: 'stopping', url: null } });
    expect((await c.get(node())).serving).toBe(false);
  });

  it('PUT wait: answers as soon as the owner acted, woken by its write (no poll needed)', async () => {
    const { c, state } = control({ status: { state: 'stopped' } });
    const signals = new ManualSignals();
    const t0 = performance.now();
    const waiting = c.awaitSettled(UUID, true, 5000, signals);
    await new Promise((r) => setTimeout(r, 30));
    state.status = { ...STOPPED_STATUS, ...RUNNING } as ConsoleStatus;
    signals.fire();
    const v = await waiting;
    expect(v?.serving).toBe(true);
    expect(performance.now() - t0).toBeLessThan(900); // well before the 1 s poll fallback
    expect(state.reads).toBe(2);
  });

  it('PUT wait: disable settles when "stopped" is written, or when nothing live runs it', async () => {
    const off = node({ console_enabled: false });
    expect((await control({ status: { state: 'stopped' }, n: off }).c.awaitSettled(UUID, false, 1000))?.phase.settled(false)).toBe(true);
    expect((await control({ status: RUNNING, live: false, n: off }).c.awaitSettled(UUID, false, 1000))?.phase.settled(false)).toBe(true);
  });

  it('PUT wait: gives up after its bound (202 as before, the state follows)', async () => {
    const { c } = control({ status: { state: 'stopped' } });
    const t0 = performance.now();
    const v = await c.awaitSettled(UUID, true, 150);
    expect(v?.serving).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('PUT wait: answers at once when waiting cannot help (console in error, intent changed, no live conductor)', async () => {
    const quick = async (status: Partial<ConsoleStatus>, n?: Partial<NodeRecord>) => {
      const t0 = performance.now();
      await control({ status, n }).c.awaitSettled(UUID, true, 5000);
      return performance.now() - t0;
    };
    expect(await quick({ ...RUNNING, state: 'error', url: null, last_error: 'BMC down' })).toBeLessThan(500);
    expect(await quick({ state: 'stopped' }, { console_enabled: false })).toBeLessThan(500);
    expect(await quick({ state: 'stopped' }, { conductor_group: 'rack9' })).toBeLessThan(500);
  });
});
