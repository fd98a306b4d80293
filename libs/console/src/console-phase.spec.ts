import { describe, expect, it } from '@jest/globals';
import { testNode } from '#libs/testing';
import { STOPPED_STATUS, type ConsoleStatus, type NodeRecord } from '#libs/nodes';
import { consolePhase, type ConsolePhaseLabel } from './console-phase.js';

const node = (over: Partial<NodeRecord> = {}): NodeRecord => testNode({ conductor_group: 'rack1', ...over });
const status = (over: Partial<ConsoleStatus> = {}): ConsoleStatus => ({ ...STOPPED_STATUS, conductor: 'c1', incarnation: 'i1', generation: 2, ...over });
const RUNNING = { state: 'running', url: 'tcp://127.0.0.1:20000', port: 20000 } as const;

/** node intent × observed state × cluster → the one story every view tells. */
const table: Array<[string, Partial<NodeRecord>, Partial<ConsoleStatus>, { owner?: string | null; live?: boolean }, { label: ConsolePhaseLabel; serving: boolean; runningOn: string | null; settledEnabled: boolean; settledDisabled: boolean }]> = [
  ['serving: enabled, running this generation on a live conductor', {}, RUNNING, {}, { label: 'running', serving: true, runningOn: 'c1', settledEnabled: true, settledDisabled: false }],
  ['not serving: its conductor is known dead (crash detected)', {}, RUNNING, { live: false }, { label: 'starting', serving: false, runningOn: null, settledEnabled: false, settledDisabled: true }],
  ['not serving: being stopped for a handover', {}, { state: 'stopping', url: null }, {}, { label: 'starting', serving: false, runningOn: 'c1', settledEnabled: false, settledDisabled: false }],
  ['not serving: an older generation (a reset the owner has not acted on)', {}, { ...RUNNING, generation: 1 }, {}, { label: 'starting', serving: false, runningOn: 'c1', settledEnabled: false, settledDisabled: false }],
  ['not serving: running but without a URL', {}, { state: 'running', url: null }, {}, { label: 'starting', serving: false, runningOn: 'c1', settledEnabled: false, settledDisabled: false }],
  ['starting: enabled, nothing reported yet', {}, { state: 'stopped', conductor: null, incarnation: null }, { live: false }, { label: 'starting', serving: false, runningOn: null, settledEnabled: false, settledDisabled: true }],
  ['restarting: backing off on a live conductor', {}, { state: 'restarting' }, {}, { label: 'restarting', serving: false, runningOn: null, settledEnabled: false, settledDisabled: false }],
  ['error: quick failures on a live conductor', {}, { state: 'error', last_error: 'BMC down' }, {}, { label: 'error', serving: false, runningOn: null, settledEnabled: false, settledDisabled: false }],
  ['error reported by a dead conductor: the new owner starts it', {}, { state: 'error' }, { live: false }, { label: 'starting', serving: false, runningOn: null, settledEnabled: false, settledDisabled: true }],
  ['no conductor: enabled, no live conductor in its group', {}, { state: 'stopped' }, { owner: null, live: false }, { label: 'no conductor', serving: false, runningOn: null, settledEnabled: false, settledDisabled: true }],
  ['stopping: disabled, still running on a live conductor', { console_enabled: false }, RUNNING, {}, { label: 'stopping', serving: false, runningOn: 'c1', settledEnabled: false, settledDisabled: false }],
  ['stopping: disabled, being stopped', { console_enabled: false }, { state: 'stopping' }, {}, { label: 'stopping', serving: false, runningOn: 'c1', settledEnabled: false, settledDisabled: false }],
  ['stopped: disabled and stopped', { console_enabled: false }, { state: 'stopped' }, {}, { label: 'stopped', serving: false, runningOn: null, settledEnabled: false, settledDisabled: true }],
  ['stopped: disabled, "running" reported by a dead conductor (nothing runs it)', { console_enabled: false }, RUNNING, { live: false }, { label: 'stopped', serving: false, runningOn: null, settledEnabled: false, settledDisabled: true }],
];

describe('consolePhase', () => {
  it.each(table)('%s', (_what, n, s, c, want) => {
    const p = consolePhase(node(n), status(s), { owner: c.owner === undefined ? 'c1' : c.owner, reporterLive: c.live ?? true });
    expect({ label: p.label, serving: p.serving, runningOn: p.runningOn, settledEnabled: p.settled(true), settledDisabled: p.settled(false) }).toEqual(want);
    expect(p.url).toBe(p.serving ? 'tcp://127.0.0.1:20000' : null);
  });

  it('says when waiting will not help, and why a node has not settled', () => {
    const err = consolePhase(node(), status({ state: 'error', last_error: 'BMC down' }), { owner: 'c1', reporterLive: true });
    expect(err.terminalReason(true)).toBe('BMC down');
    expect(consolePhase(node({ console_enabled: false }), status(), { owner: 'c1', reporterLive: true }).terminalReason(true)).toBe('console intent changed to disabled meanwhile');
    expect(consolePhase(node(), status({ state: 'error', generation: 1 }), { owner: 'c1', reporterLive: true }).terminalReason(true)).toBeUndefined();
    expect(consolePhase(node(), status(), { owner: null, reporterLive: false }).pendingReason(true)).toBe("no live conductor in group 'rack1'");
    expect(consolePhase(node(), status(RUNNING), { owner: 'c2', reporterLive: false }).pendingReason(true)).toBe('running on c1, waiting for c2');
    expect(consolePhase(node({ console_enabled: false }), status({ state: 'stopping' }), { owner: 'c1', reporterLive: true }).pendingReason(false)).toBe('still stopping on conductor c1');
  });
});
