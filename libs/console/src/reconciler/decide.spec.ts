import { describe, expect, it } from '@jest/globals';
import { nodeFieldDefaults, type NodeRecord } from '#libs/nodes';
import { consoleSpecKey, decide, type Action, type DecideInput } from './decide.js';
import { newEntry, type ConsoleEntry } from './entry.js';

const node = (over: Partial<NodeRecord> = {}): NodeRecord => ({
  uuid: '11111111-1111-4111-8111-111111111111',
  name: 'n1',
  driver: 'ipmi',
  console_interface: 'ipmitool-socat',
  driver_info: { ipmi_address: '10.0.0.1', ipmi_password: 'x' },
  conductor_group: '',
  description: null,
  extra: {},
  properties: {},
  ...nodeFieldDefaults(),
  console_rev: 1,
  console_enabled: true,
  console_generation: 1,
  provision_state: 'enroll',
  created_at: 0,
  updated_at: null,
  rev: 1,
  allocated_port: 20000,
  ...over,
});
const fakeConsole = { pid: 42, startedAtMs: 0, readyAtMs: 5, hasSession: () => false, stop: async () => undefined, onUnexpectedExit: () => undefined };
const entry = (over: Partial<ConsoleEntry> = {}, n = node()): ConsoleEntry => ({ ...newEntry(n), epoch: 7, state: 'running', console: fakeConsole, port: 20000, ...over });
const idle = (over: Partial<ConsoleEntry> = {}) => entry({ console: undefined, state: 'restarting', ...over });

const base = (over: Partial<DecideInput> = {}): DecideInput => ({
  spec: node(),
  entry: undefined,
  me: 'c1',
  owner: 'c1',
  leaseValid: true,
  drained: false,
  closing: false,
  driverKnown: true,
  takeoverHold: false,
  nowMs: 10_000,
  ...over,
});

const NONE: Action = { type: 'none' };

/** Every transition of the reconciler as one row: the situation, then the one action decide() picks. */
const table: Array<[string, Partial<DecideInput>, Action | ((n: NodeRecord) => Action)]> = [
  // start
  ['start: enabled, owned by me, nothing runs', {}, (n) => ({ type: 'start', node: n })],
  ['start: backing off, the retry time has come', { entry: idle({ retryAtMs: 9_000 }) }, (n) => ({ type: 'start', node: n })],
  ['start at once: backing off but the console spec changed (maybe the fix)', { entry: idle({ retryAtMs: 20_000 }), spec: node({ rev: 2, driver_info: { ipmi_address: '10.0.0.2' } }) }, (n) => ({ type: 'start', node: n })],
  // nothing to do
  ['none: running the same spec', { entry: entry() }, NONE],
  ['none: not mine and nothing runs here', { owner: 'c2' }, NONE],
  ['none: disabled and nothing runs here', { spec: node({ console_enabled: false }) }, NONE],
  ['none: deleted and nothing runs here', { spec: null }, NONE],
  ['none: lease lapsed and nothing runs here', { leaseValid: false }, NONE],
  ['none: shutting down and nothing runs here', { closing: true }, NONE],
  ['none: no live conductor in its group', { owner: undefined }, NONE],
  // adopt / restart for a new spec
  ['adopt: only description changed (rev bumped)', { entry: entry(), spec: node({ rev: 2, description: 'rack 7' }) }, (n) => ({ type: 'adopt', node: n })],
  ['restart: driver_info changed', { entry: entry(), spec: node({ rev: 2, driver_info: { ipmi_address: '10.0.0.9' } }) }, (n) => ({ type: 'restart', node: n })],
  ['restart: console_interface changed', { entry: entry(), spec: node({ rev: 2, console_interface: 'native-ipmi-socat' }) }, (n) => ({ type: 'restart', node: n })],
  ['restart: a disable→enable the owner never saw (generation bumped)', { entry: entry(), spec: node({ console_generation: 2 }) }, (n) => ({ type: 'restart', node: n })],
  // restart with backoff
  ['recover: socat exited', { entry: idle({ state: 'running', fault: { kind: 'exited', message: 'socat exited', uptimeMs: 50 } }) }, { type: 'recover', fault: { kind: 'exited', message: 'socat exited', uptimeMs: 50 } }],
  ['recover: socat stopped listening', { entry: entry({ fault: { kind: 'not-listening', message: 'gone' } }) }, { type: 'recover', fault: { kind: 'not-listening', message: 'gone' } }],
  ['wait: backing off after a failure (same spec)', { entry: idle({ retryAtMs: 12_000 }) }, { type: 'wait', untilMs: 12_000 }],
  ['wait: a port busy on this host is retried later on the same port', { entry: idle({ retryAtMs: 10_400, lastError: 'console port 20000 on 127.0.0.1 is in use' }) }, { type: 'wait', untilMs: 10_400 }],
  // stops
  ['stop (fenced, no Redis): claim lost to another conductor', { entry: entry({ claimLost: true }) }, { type: 'stop', reason: 'fenced', redis: false }],
  ['stop (fenced, no Redis): lease lapsed', { entry: entry(), leaseValid: false }, { type: 'stop', reason: 'fenced', redis: false }],
  ['stop (handover): drained by an operator', { entry: entry(), drained: true }, { type: 'stop', reason: 'handover', redis: true }],
  ['stop (handover): the ring moved the node to c2', { entry: entry(), owner: 'c2' }, { type: 'stop', reason: 'handover', redis: true }],
  ['stop (handover): its group lost every conductor but this one left it', { entry: entry(), owner: undefined }, { type: 'stop', reason: 'handover', redis: true }],
  // during a takeover hold the next owner cannot claim a released console (HOLD) until it ends, so a
  // handover would only leave the node dark for the rest of the hold (chaos seeds 4163771008, 853914884)
  ['wait (handover during a takeover hold): keeps serving, looks again shortly', { entry: entry(), owner: 'c2', takeoverHold: true }, { type: 'wait', untilMs: 10_250 }],
  ['wait (drained during a takeover hold)', { entry: entry(), drained: true, takeoverHold: true }, { type: 'wait', untilMs: 10_250 }],
  ['stop (handover during a takeover hold) when nothing runs: nothing to keep serving', { entry: idle(), owner: 'c2', takeoverHold: true }, { type: 'stop', reason: 'handover', redis: true }],
  ['stop (shutdown during a takeover hold)', { entry: entry(), owner: 'c2', takeoverHold: true, closing: true }, { type: 'stop', reason: 'shutdown', redis: true }],
  ['stop (disabled): intent off', { entry: entry(), spec: node({ console_enabled: false }) }, { type: 'stop', reason: 'disabled', redis: true }],
  ['stop (disabled): intent off while backing off', { entry: idle({ retryAtMs: 99_000 }), spec: node({ console_enabled: false }) }, { type: 'stop', reason: 'disabled', redis: true }],
  ['stop (disabled): interface without a console driver here', { entry: entry(), driverKnown: false }, { type: 'stop', reason: 'disabled', redis: true }],
  ['stop (deleted): node gone', { entry: entry(), spec: null }, { type: 'stop', reason: 'deleted', redis: true }],
  ['stop (shutdown): conductor stopping, even if all else is fine', { entry: entry(), closing: true }, { type: 'stop', reason: 'shutdown', redis: true }],
  ['stop (shutdown) wins over a lapsed lease', { entry: entry(), closing: true, leaseValid: false }, { type: 'stop', reason: 'shutdown', redis: true }],
  ['stop (fenced) wins over disable and delete', { entry: entry(), leaseValid: false, spec: null }, { type: 'stop', reason: 'fenced', redis: false }],
  ['stop wins over a recorded fault', { entry: idle({ fault: { kind: 'exited', message: 'x', uptimeMs: 1 } }), spec: node({ console_enabled: false }) }, { type: 'stop', reason: 'disabled', redis: true }],
];

describe('decide', () => {
  it.each(table)('%s', (_what, input, expected) => {
    const i = base(input);
    expect(decide(i)).toEqual(typeof expected === 'function' ? expected(i.spec as NodeRecord) : expected);
  });

  it('is pure: the same input gives the same action, and the input is not changed', () => {
    const i = base({ entry: idle({ retryAtMs: 12_000 }) });
    const copy = structuredClone({ ...i, entry: { ...i.entry, console: undefined } });
    expect(decide(i)).toEqual(decide(i));
    expect({ ...i, entry: { ...i.entry, console: undefined } }).toEqual(copy);
  });

  it('keys a console on what socat runs: generation, interface and driver_info, not name or extra', () => {
    expect(consoleSpecKey(node({ name: 'x', extra: { a: 1 }, rev: 9 }))).toBe(consoleSpecKey(node()));
    expect(consoleSpecKey(node({ console_generation: 2 }))).not.toBe(consoleSpecKey(node()));
    expect(consoleSpecKey(node({ driver_info: { ipmi_address: '10.0.0.1', ipmi_password: 'y' } }))).not.toBe(consoleSpecKey(node()));
  });
});
