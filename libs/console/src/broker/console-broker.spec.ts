import { afterEach, describe, expect, it } from '@jest/globals';
import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import type { ConsoleViewer, ViewerCloseReason, ViewerEvents } from './broker-api.js';
import { ConsoleBroker, LOST_NOTICE, SOL_BANNER_LINE, type ConsoleBrokerOptions } from './console-broker.js';
import { DISABLED_NOTICE, MOVING_NOTICE } from './notices.js';
import { BrokerMetrics, SolLinkOpenError, type AuditEvent, type SolLink, type SolLinkEvents } from './ports.js';

/** A BMC session that records what it was sent; tests make the node print with `print()`. */
class FakeLink extends EventEmitter<SolLinkEvents> implements SolLink {
  written = '';
  breaks = 0;
  closed = false;
  /** Closed without a word to the BMC (a fenced owner). */
  abandoned = false;
  atLineStart = true;
  write(data: Buffer) {
    this.written += data.toString('latin1');
  }
  sendBreak() {
    if (!this.atLineStart) return 'not-at-line-start' as const;
    this.breaks++;
    return 'sent' as const;
  }
  async close(opts: { abandon?: boolean } = {}) {
    if (this.closed) return;
    this.closed = true;
    this.abandoned = !!opts.abandon;
    this.emit('end', { error: null });
  }
  print(text: string) {
    this.emit('data', Buffer.from(text, 'latin1'));
  }
  drop(error = 'TIMEOUT') {
    this.emit('end', { error });
  }
}

/** Opens FakeLinks; counts opens and the most sessions ever open at once (the BMC's view). */
class FakeBmc {
  links: FakeLink[] = [];
  failNext: SolLinkOpenError[] = [];
  open = 0;
  maxOpen = 0;
  opener = async (): Promise<SolLink> => {
    await new Promise((r) => setTimeout(r, 2));
    const f = this.failNext.shift();
    if (f) throw f;
    const l = new FakeLink();
    this.links.push(l);
    this.open++;
    this.maxOpen = Math.max(this.maxOpen, this.open);
    l.once('end', () => this.open--);
    return l;
  };
  get current(): FakeLink {
    return this.links[this.links.length - 1]!;
  }
}

/** Everything a viewer got, as text: data as-is, notices as lines «…». */
class Recorder {
  text = '';
  data = '';
  closed: ViewerCloseReason | null = null;
  locks: Array<ViewerEvents['lock'][0]> = [];
  constructor(readonly v: ConsoleViewer) {
    v.on('data', (d) => {
      this.text += d.toString('latin1');
      this.data += d.toString('latin1');
    });
    v.on('notice', (l) => (this.text += `«${l}»`));
    v.on('lock', (c) => this.locks.push(c));
    v.on('close', (r) => (this.closed = r));
  }
}

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));
async function until(check: () => boolean, what: string, ms = 2000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await tick(2);
  }
}

const brokers: ConsoleBroker[] = [];
function newBroker(bmc: FakeBmc, over: Partial<ConsoleBrokerOptions> = {}) {
  const audit: AuditEvent[] = [];
  const published: number[] = [];
  const errors: string[] = [];
  let lease = true;
  const b = new ConsoleBroker({
    uuid: 'n1',
    capture: 'on-demand',
    lingerMs: 50,
    historyBytes: 1024,
    replayBytes: 64,
    maxViewers: 20,
    backoff: { initialDelayMs: 10, maxDelayMs: 40, factor: 2, minUptimeMs: 1000, errorAfter: 5 },
    leaseValid: () => lease,
    open: bmc.opener,
    log: pino({ level: 'silent' }),
    audit: { record: (e) => audit.push(e) },
    viewers: { publish: (_u, list) => published.push(list.length) },
    onSessionError: (m) => errors.push(m),
    metrics: new BrokerMetrics(),
    ...over,
  });
  brokers.push(b);
  return { b, audit, published, errors, setLease: (v: boolean) => (lease = v) };
}

afterEach(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.close('shutdown')));
});

describe('ConsoleBroker', () => {
  it('N viewers share one BMC session: all see every byte, only the writer types', async () => {
    const bmc = new FakeBmc();
    const { b } = newBroker(bmc);
    const rs = Array.from({ length: 20 }, (_, i) => new Recorder(b.attach({ address: `10.0.0.${i}:1000`, via: 'tcp' })));
    await until(() => b.sessionState === 'up', 'session up');
    expect(bmc.links).toHaveLength(1);
    bmc.current.print('hello\r\n');
    await tick();
    for (const r of rs) expect(r.data).toBe('hello\r\n');
    expect(rs[0]!.v.info.writer).toBe(true);
    expect(rs.slice(1).every((r) => !r.v.info.writer)).toBe(true);
    expect(rs[0]!.v.write('ls\r')).toBe(true);
    expect(rs[1]!.v.write('rm -rf /\r')).toBe(false);
    expect(bmc.current.written).toBe('ls\r');
    expect(rs[0]!.text).toContain(SOL_BANNER_LINE);
    expect(rs[1]!.text).toContain('[solgate: read-only: 10.0.0.0:1000 holds the write lock]');
  });

  it('keystrokes typed before the session is up reach the node once it is', async () => {
    const bmc = new FakeBmc();
    const { b } = newBroker(bmc);
    const v = b.attach({ address: 'a', via: 'cli' });
    v.write('early\r');
    await until(() => b.sessionState === 'up', 'session up');
    expect(bmc.current.written).toBe('early\r');
  });

  it('lock: take only when free, force always (the holder is told), passes on to the longest-attached', async () => {
    const bmc = new FakeBmc();
    const { b, audit } = newBroker(bmc);
    const [a, c, d] = ['a', 'c', 'd'].map((n) => new Recorder(b.attach({ name: n, address: `${n}:1`, via: 'tcp' })));
    await until(() => b.sessionState === 'up', 'up');
    expect(c!.v.takeWrite()).toBe(false);
    expect(c!.v.takeWrite(true)).toBe(true);
    await tick();
    expect(a!.text).toContain('[solgate: write lock taken by c (forced); read-only now]');
    expect(c!.text).toContain('[solgate: you hold the write lock]');
    expect(a!.locks.at(-1)).toMatchObject({ forced: true, cause: 'force', writer: { name: 'c' }, previous: { name: 'a' } });
    expect(audit.filter((e) => e.event === 'lock').at(-1)).toMatchObject({ viewer: { name: 'c' }, detail: { forced: true, from: 'a:1', to: 'c:1' } });
    c!.v.detach();
    await tick();
    expect(b.who().find((i) => i.writer)?.name).toBe('a'); // longest attached
    a!.v.releaseWrite();
    expect(b.who().find((i) => i.writer)?.name).toBe('d');
    expect(d!.v.write('x')).toBe(true);
  });

  it('a late joiner gets the history tail cut at a line start, then live output: no gap, no duplicate', async () => {
    const bmc = new FakeBmc();
    const { b } = newBroker(bmc, { replayBytes: 20 });
    const first = new Recorder(b.attach({ address: 'a', via: 'tcp' }));
    await until(() => b.sessionState === 'up', 'up');
    bmc.current.print('line-1\r\nline-2\r\nline-3\r\npartial');
    const late = new Recorder(b.attach({ address: 'late', via: 'tcp' }));
    bmc.current.print(' more\r\n'); // same tick as attach: must come after the replay, exactly once
    await tick();
    bmc.current.print('after\r\n');
    await tick();
    expect(late.data).toBe('line-3\r\npartial more\r\nafter\r\n');
    expect(first.data.endsWith(late.data)).toBe(true);
  });

  it('on-demand: the session outlives the last viewer by the linger time, then closes', async () => {
    const bmc = new FakeBmc();
    const { b, audit } = newBroker(bmc, { lingerMs: 60 });
    const v = b.attach({ address: 'a', via: 'tcp' });
    await until(() => b.sessionState === 'up', 'up');
    v.detach();
    await tick(20);
    expect(bmc.open).toBe(1);
    const again = b.attach({ address: 'b', via: 'tcp' }); // within the linger: same session
    await tick(80);
    expect(bmc.links).toHaveLength(1);
    again.detach();
    await until(() => bmc.open === 0, 'session closed after the linger');
    expect(b.sessionState).toBe('idle');
    expect(audit.map((e) => e.event)).toContain('session-close');
  });

  it('on-demand: a linger that ends after the lease lapsed abandons the session (a paused conductor resuming must not deactivate its successor’s)', async () => {
    // found by the chaos soak (seed 4242): c1 paused during the linger, c3 took the node over and
    // opened SOL; on resume c1's linger timer fired before its fence, and its polite close (Deactivate
    // Payload: a BMC ends the payload whichever session asks) ended c3's session
    const bmc = new FakeBmc();
    const { b, setLease } = newBroker(bmc, { lingerMs: 40 });
    const v = b.attach({ address: 'a', via: 'tcp' });
    await until(() => b.sessionState === 'up', 'up');
    v.detach();
    setLease(false);
    await until(() => bmc.current.closed, 'session closed after the linger');
    expect(bmc.current.abandoned).toBe(true);

    // and with the lease valid, the linger says goodbye as before
    const bmc2 = new FakeBmc();
    const other = newBroker(bmc2, { lingerMs: 40 });
    other.b.attach({ address: 'a', via: 'tcp' }).detach();
    await until(() => bmc2.links.length === 1 && bmc2.current.closed, 'session closed after the linger');
    expect(bmc2.current.abandoned).toBe(false);
  });

  it('always: captures with nobody attached, and a late joiner replays it', async () => {
    const bmc = new FakeBmc();
    const written: string[] = [];
    const { b } = newBroker(bmc, { capture: 'always', output: [{ write: (_o, d) => written.push(d.toString()), close: async () => undefined }] });
    b.start();
    await until(() => b.sessionState === 'up', 'up with nobody attached');
    bmc.current.print('boot: kernel panic\r\n');
    expect(written.join('')).toBe('boot: kernel panic\r\n');
    const r = new Recorder(b.attach({ address: 'x', via: 'web' }));
    await tick();
    expect(r.data).toBe('boot: kernel panic\r\n');
  });

  it('a dropped session is re-established with backoff; viewers stay, are told, the gap is marked', async () => {
    const bmc = new FakeBmc();
    const { b, errors, audit } = newBroker(bmc);
    const r = new Recorder(b.attach({ address: 'a', via: 'tcp' }));
    await until(() => b.sessionState === 'up', 'up');
    bmc.current.drop('the BMC stopped acknowledging SOL data (TIMEOUT)');
    await until(() => bmc.links.length === 2 && b.sessionState === 'up', 'a new session');
    bmc.current.print('back\r\n');
    await tick();
    expect(r.closed).toBeNull();
    expect(r.data).toContain(`${LOST_NOTICE}\r\n`);
    expect(r.data).toMatch(/\[solgate: BMC session re-established after [\d.]+ s; output in between was not captured\]\r\nback\r\n$/);
    expect(b.replay(1000).toString()).toContain(LOST_NOTICE);
    expect(errors[0]).toMatch(/TIMEOUT/);
    expect(audit.map((e) => e.event)).toEqual(expect.arrayContaining(['session-open', 'session-drop']));
    expect(bmc.maxOpen).toBe(1);
  });

  it('a session that cannot be opened: waiting viewers get the reason and are let go; nothing retries on-demand', async () => {
    const bmc = new FakeBmc();
    bmc.failNext.push(new SolLinkOpenError('Error: Unable to establish IPMI v2 / RMCP+ session: wrong password (BAD_PASSWORD)\r\n', 'SOL session failed: wrong password (BAD_PASSWORD)'));
    const { b, errors } = newBroker(bmc);
    const r = new Recorder(b.attach({ address: 'a', via: 'tcp' }));
    await until(() => r.closed !== null, 'viewer closed');
    expect(r.closed).toBe('session-failed');
    expect(r.text).toContain('«Error: Unable to establish IPMI v2 / RMCP+ session: wrong password (BAD_PASSWORD)»');
    expect(errors).toEqual(['SOL session failed: wrong password (BAD_PASSWORD)']);
    await tick(50);
    expect(bmc.links).toHaveLength(0);
    expect(b.sessionState).toBe('idle');
  });

  it('close(reason) tells every viewer on its own line, then closes them and the session', async () => {
    const bmc = new FakeBmc();
    const { b } = newBroker(bmc);
    const rs = [new Recorder(b.attach({ address: 'a', via: 'tcp' })), new Recorder(b.attach({ address: 'b', via: 'web' }))];
    await until(() => b.sessionState === 'up', 'up');
    await b.close('disabled');
    await tick();
    for (const r of rs) {
      expect(r.text.endsWith(`«${DISABLED_NOTICE}»`)).toBe(true);
      expect(r.closed).toBe('disabled');
    }
    expect(bmc.open).toBe(0);
    const b2 = newBroker(new FakeBmc()).b;
    const r2 = new Recorder(b2.attach({ address: 'a', via: 'tcp' }));
    await b2.close('handover');
    await tick();
    expect(r2.text).toContain(`«${MOVING_NOTICE}»`);
  });

  it('fenced: the BMC session is abandoned (no Deactivate Payload that could end a successor’s session); a handover says goodbye', async () => {
    // found by the chaos soak: a fenced conductor's late deactivate ended the session its successor had just opened
    const bmc = new FakeBmc();
    const { b } = newBroker(bmc);
    new Recorder(b.attach({ address: 'a', via: 'tcp' }));
    await until(() => b.sessionState === 'up', 'up');
    await b.close('fenced');
    expect(bmc.current.closed).toBe(true);
    expect(bmc.current.abandoned).toBe(true);

    const bmc2 = new FakeBmc();
    const other = newBroker(bmc2);
    new Recorder(other.b.attach({ address: 'a', via: 'tcp' }));
    await until(() => other.b.sessionState === 'up', 'up');
    other.setLease(false); // the lease lapsed before the stop came: no word to the BMC either
    await other.b.close('handover');
    expect(bmc2.current.abandoned).toBe(true);

    const bmc3 = new FakeBmc();
    const third = newBroker(bmc3);
    new Recorder(third.b.attach({ address: 'a', via: 'tcp' }));
    await until(() => third.b.sessionState === 'up', 'up');
    await third.b.close('handover');
    expect(bmc3.current.closed).toBe(true);
    expect(bmc3.current.abandoned).toBe(false);

    // SIGTERM: the conductor revoked its lease on leaving, but still owns the node until it stops: goodbye
    const bmc4 = new FakeBmc();
    const fourth = newBroker(bmc4);
    new Recorder(fourth.b.attach({ address: 'a', via: 'tcp' }));
    await until(() => fourth.b.sessionState === 'up', 'up');
    fourth.setLease(false);
    await fourth.b.close('shutdown');
    expect(bmc4.current.closed).toBe(true);
    expect(bmc4.current.abandoned).toBe(false);
  });

  it('no lease, no session and no keystrokes', async () => {
    const bmc = new FakeBmc();
    const { b, setLease } = newBroker(bmc);
    const r = new Recorder(b.attach({ address: 'a', via: 'tcp' }));
    await until(() => b.sessionState === 'up', 'up');
    setLease(false);
    expect(r.v.write('x')).toBe(false);
    await tick();
    expect(r.closed).toBe('stale');
    expect(bmc.current.written).toBe('');
    const late = new Recorder(b.attach({ address: 'b', via: 'tcp' }));
    await tick();
    expect(late.closed).toBe('stale');
  });

  it('breaks go to the writer only, and ipmitool’s line-start rule is reported', async () => {
    const bmc = new FakeBmc();
    const { b, audit } = newBroker(bmc);
    const w = b.attach({ address: 'w', via: 'tcp' });
    const r = b.attach({ address: 'r', via: 'tcp' });
    await until(() => b.sessionState === 'up', 'up');
    expect(r.sendBreak()).toBe('not-writer');
    expect(w.sendBreak()).toBe('sent');
    bmc.current.atLineStart = false;
    expect(w.sendBreak()).toBe('not-at-line-start');
    expect(bmc.current.breaks).toBe(1);
    expect(audit.filter((e) => e.event === 'break')).toHaveLength(1);
  });

  it('refuses viewers beyond the cap and publishes the viewer count', async () => {
    const bmc = new FakeBmc();
    const { b, published } = newBroker(bmc, { maxViewers: 2 });
    b.attach({ address: 'a', via: 'tcp' });
    b.attach({ address: 'b', via: 'tcp' });
    const third = new Recorder(b.attach({ address: 'c', via: 'tcp' }));
    await tick();
    expect(third.closed).toBe('full');
    expect(b.status().viewers).toBe(2);
    expect(published.at(-1)).toBe(2);
  });

  it('continues a predecessor’s offsets and history', async () => {
    const bmc = new FakeBmc();
    const { b } = newBroker(bmc, { initialHistory: { offset: 5000, data: Buffer.from('old line\r\nbefore the crash\r\n') } });
    expect(b.status().offset).toBe(5000 + 28);
    const r = new Recorder(b.attach({ address: 'a', via: 'tcp' }));
    await tick();
    expect(r.data).toBe('old line\r\nbefore the crash\r\n');
  });
});
