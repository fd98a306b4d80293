import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { pino } from 'pino';
import { ConsoleClient as Client, waitFor } from '#libs/testing';
import { IpmiError } from '#libs/ipmi';
import { SOL_BANNER, SolBridge, STALE_LISTENER_MESSAGE, type SolSession, type SolStream } from './sol-bridge.js';

/** A SOL payload that records what the client typed; `bmcSays` plays the node, `bmcEnds` the BMC ending SOL. */
class FakeSol extends Duplex implements SolStream {
  closeReason: IpmiError | null = null;
  typed = '';
  breaks = 0;
  constructor() {
    super({ allowHalfOpen: false });
  }
  sendBreak() {
    this.breaks++;
  }
  async close() {
    if (!this.destroyed) {
      this.push(null);
      this.destroy();
    }
  }
  bmcSays(text: string) {
    this.push(Buffer.from(text, 'latin1'));
  }
  bmcEnds(reason: IpmiError) {
    this.closeReason = reason;
    this.push(null);
    this.destroy();
  }
  override _read() {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void) {
    this.typed += chunk.toString('latin1');
    cb();
  }
}

/** Fake IPMI side: counts sessions, records the order of events, can fail on open or activate. */
class FakeBmc {
  events: string[] = [];
  sols: FakeSol[] = [];
  openError: IpmiError | undefined;
  activateError: IpmiError | undefined;
  openDelayMs = 0;
  active = 0;
  maxActive = 0;

  open = async (): Promise<SolSession> => {
    const n = this.events.filter((e) => e.startsWith('open')).length + 1;
    this.events.push(`open${n}`);
    if (this.openDelayMs) await new Promise((r) => setTimeout(r, this.openDelayMs).unref());
    if (this.openError) throw this.openError;
    let sol: FakeSol | undefined;
    return {
      activateSol: async ({ forceDeactivate }) => {
        this.events.push(`activate${n}${forceDeactivate ? ' force' : ''}`);
        if (this.activateError) throw this.activateError;
        sol = new FakeSol();
        this.sols.push(sol);
        this.active++;
        this.maxActive = Math.max(this.maxActive, this.active);
        return sol;
      },
      close: async () => {
        await new Promise((r) => setTimeout(r, 20)); // deactivate + Close Session take a round trip
        if (sol && !sol.destroyed) await sol.close();
        if (sol) this.active--;
        sol = undefined;
        this.events.push(`close${n}`);
      },
    };
  };
}


const until = (check: () => boolean, what: string, timeoutMs = 3000) => waitFor(check, { timeoutMs, intervalMs: 5, what });

const log = pino({ level: 'silent' });
const target = { host: '127.0.0.1', port: 623, username: 'admin', password: 'hunter2-secret', cipherSuite: 3 };

describe('SolBridge', () => {
  let dir: string;
  let path: string;
  let bmc: FakeBmc;
  let lease: boolean;
  let errors: Array<[string, string]>;
  let bridge: SolBridge;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'solbridge-'));
    path = join(dir, 'node.sock');
    bmc = new FakeBmc();
    lease = true;
    errors = [];
    bridge = new SolBridge({ uuid: 'u1', socketPath: path, target, leaseValid: () => lease, open: bmc.open, log, onSessionError: (u, m) => errors.push([u, m]) });
  });

  afterEach(async () => {
    await bridge.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens on a 0600 socket, replacing a stale socket file', async () => {
    writeFileSync(path, 'left by an earlier run');
    await bridge.listen();
    const st = statSync(path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect(await bridge.intact()).toBe(true);
  });

  it('bridges bytes both ways after the banner, and escapes work like ipmitool’s', async () => {
    await bridge.listen();
    const c = await Client.connect(path);
    await c.until(() => c.received.includes(SOL_BANNER), 'the banner');
    expect(bmc.events).toEqual(['open1', 'activate1 force']);
    const sol = bmc.sols[0];
    c.socket.write('root\r');
    await until(() => sol.typed === 'root\r', 'the node to get the keystrokes');
    sol.bmcSays('Password: ');
    await c.until(() => c.received.endsWith('Password: '), 'node output');
    c.socket.write('\r~B');
    await until(() => sol.breaks === 1, 'a break');
    c.socket.write('\r~.');
    await c.until(() => c.closed, 'the client to be disconnected by ~.');
    await until(() => bmc.events.includes('close1'), 'the session to close');
  });

  it('keeps keystrokes typed while the session is being set up', async () => {
    bmc.openDelayMs = 100;
    await bridge.listen();
    const c = await Client.connect(path);
    c.socket.write('early\r');
    await c.until(() => c.received.includes(SOL_BANNER), 'the banner');
    await until(() => bmc.sols[0]?.typed === 'early\r', 'the early keystrokes');
  });

  it('closes the session as soon as the client leaves, so an immediate reconnect gets a new one (never two at once)', async () => {
    await bridge.listen();
    const first = await Client.connect(path);
    await first.until(() => first.received.includes(SOL_BANNER), 'the first banner');
    first.socket.destroy();
    const second = await Client.connect(path);
    await second.until(() => second.received.includes(SOL_BANNER), 'the second banner');
    expect(bmc.events).toEqual(['open1', 'activate1 force', 'close1', 'open2', 'activate2 force']);
    expect(bmc.maxActive).toBe(1);
    second.socket.destroy();
    await until(() => bmc.active === 0, 'no session left');
  });

  it('ends an older connection still open when a new one arrives (newest wins, one session per node)', async () => {
    await bridge.listen();
    const first = await Client.connect(path);
    await first.until(() => first.received.includes(SOL_BANNER), 'the first banner');
    const second = await Client.connect(path);
    await first.until(() => first.closed, 'the first client to be disconnected');
    await second.until(() => second.received.includes(SOL_BANNER), 'the second banner');
    expect(bmc.maxActive).toBe(1);
  });

  it('refuses a connection without a valid lease: a stale listener may exist, a stale SOL session never', async () => {
    await bridge.listen();
    lease = false;
    const c = await Client.connect(path);
    await c.until(() => c.closed, 'the refusal');
    expect(c.received).toBe(STALE_LISTENER_MESSAGE);
    expect(bmc.events).toEqual([]);
  });

  it('does not activate SOL when the lease lapsed during the handshake', async () => {
    bmc.openDelayMs = 50;
    await bridge.listen();
    const c = await Client.connect(path);
    await until(() => bmc.events.length === 1, 'the open to begin');
    lease = false;
    await c.until(() => c.closed, 'the refusal');
    expect(c.received).toBe(STALE_LISTENER_MESSAGE);
    await until(() => bmc.events.includes('close1'), 'the half-made session to be closed');
    expect(bmc.events.some((e) => e.startsWith('activate'))).toBe(false);
  });

  it('stops an active session when the lease is gone by the next keystroke', async () => {
    await bridge.listen();
    const c = await Client.connect(path);
    await c.until(() => c.received.includes(SOL_BANNER), 'the banner');
    lease = false;
    c.socket.write('x');
    await c.until(() => c.closed, 'the client to be disconnected');
    expect(c.received).toContain('listener is stale');
    expect(bmc.sols[0].typed).toBe('');
    await until(() => bmc.events.includes('close1'), 'the session to close');
  });

  it('tells the client and the supervisor why a session could not start (bad password), and keeps listening', async () => {
    bmc.openError = new IpmiError('BAD_PASSWORD', 'wrong password for user "admin" on 127.0.0.1:623 (RAKP 2 authentication code mismatch)');
    await bridge.listen();
    const c = await Client.connect(path);
    await c.until(() => c.closed, 'the error line');
    expect(c.received).toBe('Error: Unable to establish IPMI v2 / RMCP+ session: wrong password for user "admin" on 127.0.0.1:623 (RAKP 2 authentication code mismatch) (BAD_PASSWORD)\r\n');
    expect(errors).toHaveLength(1);
    expect(errors[0][0]).toBe('u1');
    expect(errors[0][1]).toMatch(/^SOL session failed: .*wrong password.*\(BAD_PASSWORD\)$/);
    expect(errors[0][1]).not.toContain('hunter2-secret');
    // the listener is fine: the next client with good credentials works
    bmc.openError = undefined;
    const again = await Client.connect(path);
    await again.until(() => again.received.includes(SOL_BANNER), 'the banner');
  });

  it('reports a failed activation and closes the session it opened', async () => {
    bmc.activateError = new IpmiError('PAYLOAD_DISABLED', 'SOL is disabled on the BMC');
    await bridge.listen();
    const c = await Client.connect(path);
    await c.until(() => c.closed, 'the error line');
    expect(c.received).toBe('Error: Unable to activate SOL payload: SOL is disabled on the BMC (PAYLOAD_DISABLED)\r\n');
    await until(() => bmc.events.includes('close1'), 'the session to close');
    expect(errors[0][1]).toMatch(/could not activate SOL.*PAYLOAD_DISABLED/);
  });

  it('disconnects the client when the BMC ends SOL, and says why', async () => {
    await bridge.listen();
    const c = await Client.connect(path);
    await c.until(() => c.received.includes(SOL_BANNER), 'the banner');
    bmc.sols[0].bmcEnds(new IpmiError('TIMEOUT', 'the BMC stopped acknowledging SOL data'));
    await c.until(() => c.closed, 'the client to be disconnected');
    expect(c.received).toContain('[SOL session closed by BMC: the BMC stopped acknowledging SOL data (TIMEOUT)]');
    expect(errors.map((e) => e[1])).toEqual(['SOL session closed by BMC: the BMC stopped acknowledging SOL data (TIMEOUT)']);
    await until(() => bmc.events.includes('close1'), 'the session to close');
  });

  it('close(): ends the session, stops listening, removes the socket file', async () => {
    await bridge.listen();
    const c = await Client.connect(path);
    await c.until(() => c.received.includes(SOL_BANNER), 'the banner');
    await bridge.close();
    expect(bmc.events).toContain('close1');
    expect(bmc.active).toBe(0);
    expect(existsSync(path)).toBe(false);
    await c.until(() => c.closed, 'the client to be disconnected');
    await expect(Client.connect(path)).rejects.toThrow();
  });

  it('close() does not wait forever for a BMC that does not answer', async () => {
    bridge = new SolBridge({ uuid: 'u1', socketPath: path, target, leaseValid: () => true, open: bmc.open, log, closeTimeoutMs: 100 });
    bmc.openDelayMs = 5000;
    await bridge.listen();
    await Client.connect(path);
    await until(() => bmc.events.length === 1, 'the open to begin');
    const t0 = Date.now();
    await bridge.close();
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
