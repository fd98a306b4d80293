import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { testNode } from '#libs/testing';
import { ManualClock } from '#libs/common';
import type { ConsoleStatus, NodeRecord } from '#libs/nodes';
import { applyOutcome, type OutcomeContext } from './apply-outcome.js';
import { newEntry, type ConsoleEntry } from './entry.js';
import type { Outcome } from './outcome.js';
import type { RunningConsole } from './ports.js';
import { RestartPolicy } from './restart-policy.js';

const node = (over: Partial<NodeRecord> = {}): NodeRecord => testNode({ console_generation: 3, rev: 5, allocated_port: 20000, ...over });

const running = (pid = 42): RunningConsole & { stopped: boolean } => ({
  pid,
  startedAtMs: 0,
  readyAtMs: 5,
  stopped: false,
  hasSession: () => false,
  async stop() {
    this.stopped = true;
  },
  onUnexpectedExit: () => undefined,
});

interface Write {
  uuid: string;
  epoch: number;
  patch: Partial<ConsoleStatus>;
  releaseClaim: boolean;
}

/** The status port, recording every write; `answer` plays the claim fence (or Redis failing). */
function harness(answer: 'ok' | 'fenced' | 'error' = 'ok', closing = false) {
  const clock = new ManualClock(1000);
  const writes: Write[] = [];
  const requeues: Array<[string, number]> = [];
  const forgotten: string[] = [];
  const killed: string[] = [];
  const left: [string, number][] = [];
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  const ctx: OutcomeContext = {
    statuses: {
      async write(uuid, epoch, patch, opts) {
        writes.push({ uuid, epoch, patch, releaseClaim: !!opts?.releaseClaim });
        if (answer === 'error') throw new Error('Redis unreachable');
        return answer === 'ok';
      },
    },
    policy: new RestartPolicy(),
    log: pino({ level: 'debug', base: { member: 'c1' } }, sink),
    clock,
    counters: { takeovers: 0, restarts: 0, startFailures: 0, starts: 0 },
    requeue: (uuid, ms) => void requeues.push([uuid, ms]),
    forget: (e) => void forgotten.push(e.uuid),
    closing: () => closing,
    kill: async (e) => {
      killed.push(e.uuid);
      await e.console?.stop(0);
    },
    claimLeft: (uuid, epoch) => void left.push([uuid, epoch]),
  };
  const info = () => lines.filter((l) => (l.level as number) >= 30).map((l) => l.msg);
  return { ctx, clock, writes, requeues, forgotten, killed, lines, info, left };
}

const entry = (over: Partial<ConsoleEntry> = {}): ConsoleEntry => ({ ...newEntry(node()), epoch: 9, ...over });
const started = (over: Partial<Extract<Outcome, { kind: 'ok' }>['result']> = {}): Outcome => ({
  kind: 'ok',
  result: { event: 'started', console: running(), port: 20000, restart: false, ms: { claim: 1, queued: 0, spawn: 10, total: 12 }, ...over } as never,
});
const stopped = (redis: boolean, hadConsole = true): Outcome => ({ kind: 'ok', result: { event: 'stopped', reason: 'disabled', redis, hadConsole, ms: { kill: 3, total: 4 } } });
const flush = () => new Promise((r) => setImmediate(r));

describe('applyOutcome', () => {
  it('started: running, the status written under the claim with URL, port, pid and generation, one log line', async () => {
    const h = harness();
    const e = entry({ state: 'restarting', failures: 2, lastError: 'earlier' });
    await applyOutcome(e, started(), '127.0.0.2', h.ctx);
    expect(e.state).toBe('running');
    expect(e.console).toBeDefined();
    expect(h.writes).toEqual([
      {
        uuid: e.uuid,
        epoch: 9,
        releaseClaim: false,
        patch: expect.objectContaining({ state: 'running', url: 'tcp://127.0.0.2:20000', port: 20000, pid: 42, generation: 3, rev: 5, last_error: 'earlier' }),
      },
    ]);
    expect(h.info()).toEqual(['console started']);
    expect(h.ctx.counters).toMatchObject({ starts: 1, takeovers: 0 });
  });

  it('started by taking the claim from a dead conductor: counted as a takeover, logged once as such', async () => {
    const h = harness();
    await applyOutcome(entry(), started({ takeoverFrom: 'c3' }), '127.0.0.1', h.ctx);
    expect(h.info()).toEqual(['took over console']);
    expect(h.lines.find((l) => l.msg === 'took over console')).toMatchObject({ member: 'c1', takeoverFrom: 'c3', node: entry().uuid });
    expect(h.ctx.counters.takeovers).toBe(1);
  });

  it('started but the claim moved meanwhile (fenced write): claim lost, looked at again at once', async () => {
    const h = harness('fenced');
    const e = entry();
    await applyOutcome(e, started(), '127.0.0.1', h.ctx);
    expect(e.claimLost).toBe(true);
    expect(h.requeues).toEqual([[e.uuid, 0]]);
    expect(h.info()).toEqual(['claim lost while starting: stopping the console']);
  });

  it('started but Redis failed the write: the console is killed and the start counts as a failure', async () => {
    const h = harness('error');
    const e = entry();
    const out = started();
    await applyOutcome(e, out, '127.0.0.1', h.ctx);
    expect(h.killed).toEqual([e.uuid]);
    expect(e.console).toBeUndefined();
    expect(e.state).toBe('restarting');
    expect(h.requeues).toEqual([[e.uuid, 100]]);
  });

  it('stopped for good: "stopped" written and the claim released in one step, entry forgotten, one log line', async () => {
    const h = harness();
    const e = entry({ lastError: 'x' });
    await applyOutcome(e, stopped(true), '127.0.0.1', h.ctx);
    expect(h.writes).toEqual([{ uuid: e.uuid, epoch: 9, releaseClaim: true, patch: expect.objectContaining({ state: 'stopped', url: null, pid: null, last_error: 'x' }) }]);
    expect(h.forgotten).toEqual([e.uuid]);
    expect(h.info()).toEqual(['console stopped']);
  });

  it('stopped after a fence or a lost claim: nothing written (the claim is not ours), entry forgotten', async () => {
    const h = harness();
    const e = entry();
    await applyOutcome(e, stopped(false), '127.0.0.1', h.ctx);
    expect(h.writes).toEqual([]);
    expect(h.forgotten).toEqual([e.uuid]);
    // a lapsed lease (claim not known lost): the claim is remembered, to be given up once the lease is valid
    expect(h.left).toEqual([[e.uuid, 9]]);
    const lost = harness();
    await applyOutcome(entry({ claimLost: true }), stopped(false), '127.0.0.1', lost.ctx);
    expect(lost.left).toEqual([]);
  });

  it('stopped with no process (it was backing off): no "console stopped" line', async () => {
    const h = harness();
    await applyOutcome(entry(), stopped(true, false), '127.0.0.1', h.ctx);
    expect(h.info()).toEqual([]);
  });

  it('requeueAfter with drop (claim busy elsewhere): forgotten and looked at again later, nothing written', async () => {
    const h = harness();
    const e = entry({ epoch: 0 });
    await applyOutcome(e, { kind: 'requeueAfter', ms: 1000, why: 'claim BUSY', drop: true }, '127.0.0.1', h.ctx);
    expect(h.forgotten).toEqual([e.uuid]);
    expect(h.requeues).toEqual([[e.uuid, 1000]]);
    expect(h.writes).toEqual([]);
  });

  it('retry (socat exited quickly): restarting, restart counted, status and last_error written, back off 100 ms', async () => {
    const h = harness();
    const e = entry({ state: 'running' });
    await applyOutcome(e, { kind: 'retry', failure: { kind: 'exited', message: 'socat exited unexpectedly (exit status 1) after 30 ms', uptimeMs: 30 } }, '127.0.0.1', h.ctx);
    expect(e).toMatchObject({ state: 'restarting', failures: 1, restarts: 1, lastError: expect.stringContaining('exited'), retryAtMs: 1100 });
    expect(h.writes[0].patch).toEqual(expect.objectContaining({ state: 'restarting', url: null, pid: null, restarts: 1, last_error: expect.stringContaining('exited') }));
    expect(h.requeues).toEqual([[e.uuid, 100]]);
    expect(h.ctx.counters).toMatchObject({ restarts: 1, startFailures: 0 });
    expect(h.info()).toEqual(['console failed']);
  });

  it('retry (port busy on this host): a start failure, same backoff, the port stays the node’s', async () => {
    const h = harness();
    const e = entry({ port: 20000, failures: 4 });
    await applyOutcome(e, { kind: 'retry', failure: { kind: 'start', message: 'console port 20000 on 127.0.0.1 is in use by another program' } }, '127.0.0.1', h.ctx);
    expect(e).toMatchObject({ state: 'error', failures: 5, port: 20000 });
    expect(h.requeues).toEqual([[e.uuid, 1600]]);
    expect(h.ctx.counters.startFailures).toBe(1);
  });

  it('terminal (invalid driver_info): error at once, retried at the cap', async () => {
    const h = harness();
    const e = entry();
    await applyOutcome(e, { kind: 'terminal', failure: { kind: 'start', message: 'Invalid ipmi_address' } }, '127.0.0.1', h.ctx);
    expect(e.state).toBe('error');
    expect(h.requeues).toEqual([[e.uuid, 30_000]]);
  });

  it('a failure while shutting down: written, but not retried', async () => {
    const h = harness('ok', true);
    const e = entry();
    await applyOutcome(e, { kind: 'retry', failure: { kind: 'start', message: 'x' } }, '127.0.0.1', h.ctx);
    expect(h.writes).toHaveLength(1);
    expect(h.requeues).toEqual([]);
    await flush();
  });

  it('adopted: the new node record is kept, nothing written, no info line', async () => {
    const h = harness();
    const e = entry();
    const n = node({ rev: 6, description: 'new' });
    await applyOutcome(e, { kind: 'ok', result: { event: 'adopted', node: n } }, '127.0.0.1', h.ctx);
    expect(e.node).toBe(n);
    expect(h.writes).toEqual([]);
    expect(h.info()).toEqual([]);
  });
});
