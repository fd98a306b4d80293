import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { BrokerEscapeParser, parseEscapeChar, type EscapeAction } from './escape-parser.js';
import { HistoryBuffer } from './history-buffer.js';
import { IpmitoolEscapeEncoder } from './ipmitool-escape.js';
import { WriteLock } from './write-lock.js';

/** Render actions as a string: data as-is, escapes as <name>. */
const render = (actions: EscapeAction[]) => actions.map((a) => (a.type === 'data' ? a.data.toString('latin1') : `<${a.type}>`)).join('');

describe('BrokerEscapeParser', () => {
  it.each([
    ['plain text', 'hello\r', 'hello\r'],
    ['~. at the start ends, nothing after it counts', '~.rest', '<disconnect>'],
    ['~. after CR', 'ls\r~.', 'ls\r<disconnect>'],
    ['~. after LF', 'ls\n~.', 'ls\n<disconnect>'],
    ['~ in the middle of a line is data', 'a~.b', 'a~.b'],
    ['~~ is one literal ~', '~~x', '~x'],
    ['~x is sent as ~x', '~x', '~x'],
    ['~? help', '~?', '<help>'],
    ['~B break', '~B', '<break>'],
    ['~# who', '~#', '<who>'],
    ['~w take', '~w', '<take>'],
    ['~W force', '~W', '<force>'],
    ['~r release', '~r', '<release>'],
    ['escapes can follow each other at a line start', '~#~w~r', '<who><take><release>'],
    ['after ~~ the line no longer starts', '~~~.', '~~.'],
    ['after an escape typing goes on', '\r~Bab\r~#', '\r<break>ab\r<who>'],
  ])('%s', (_what, input, expected) => {
    expect(render(new BrokerEscapeParser('~').feed(Buffer.from(input, 'latin1')))).toBe(expected);
  });

  it('keeps its state across chunks (an escape split over two reads)', () => {
    const p = new BrokerEscapeParser('~');
    expect(render(p.feed(Buffer.from('ls\r~')))).toBe('ls\r');
    expect(render(p.feed(Buffer.from('w')))).toBe('<take>');
    expect(render(p.feed(Buffer.from('~')))).toBe('');
    expect(render(p.feed(Buffer.from('~')))).toBe('~');
  });

  it('honours another escape character', () => {
    expect(render(new BrokerEscapeParser('&').feed(Buffer.from('~.&.')))).toBe('~.&.');
    expect(render(new BrokerEscapeParser('&').feed(Buffer.from('&w')))).toBe('<take>');
  });

  it('parses SOLGATE_ESCAPE_CHAR', () => {
    expect(parseEscapeChar('none')).toBeNull();
    expect(parseEscapeChar('&')).toBe('&');
    for (const bad of ['', '~~', ' ', '\x01', 'é']) expect(() => parseEscapeChar(bad)).toThrow();
  });

  it('with escapes off, passes every byte through unchanged (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 })), (chunks) => {
        const p = new BrokerEscapeParser(null);
        const out = Buffer.concat(chunks.flatMap((c) => p.feed(Buffer.from(c))).map((a) => (a.type === 'data' ? a.data : Buffer.alloc(0))));
        expect(out.equals(Buffer.concat(chunks.map((c) => Buffer.from(c))))).toBe(true);
      }),
    );
  });

  it('never loses a byte that is not part of an escape, however the input is split (property)', () => {
    // Text without the escape character comes out exactly as it went in, whatever the chunking.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a.filter((b) => b !== 0x7e))), fc.array(fc.nat(200)), (input, cuts) => {
        const p = new BrokerEscapeParser('~');
        const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
        let prev = 0;
        const out: Buffer[] = [];
        for (const at of [...points, input.length]) {
          for (const a of p.feed(input.subarray(prev, at))) if (a.type === 'data') out.push(a.data);
          prev = at;
        }
        expect(Buffer.concat(out).equals(input)).toBe(true);
      }),
    );
  });
});

describe('IpmitoolEscapeEncoder', () => {
  /** ipmitool's own input processing (lanplus/ipmi_sol.c processSolUserInput), for reference. */
  function ipmitoolDecode(input: Buffer, esc = 0x7e): { data: Buffer; escapes: string[] } {
    const data: number[] = [];
    const escapes: string[] = [];
    let lastWasCr = true;
    let pending = false;
    for (const ch of input) {
      if (pending) {
        pending = false;
        if (ch === 0x2e || ch === 0x42 || ch === 0x3f || ch === 0x1a || ch === 0x18) {
          escapes.push(String.fromCharCode(ch));
          continue;
        }
        if (ch !== esc) data.push(esc);
        data.push(ch);
      } else if (lastWasCr && ch === esc) {
        pending = true;
        continue;
      } else data.push(ch);
      lastWasCr = ch === 0x0d || ch === 0x0a;
    }
    return { data: Buffer.from(data), escapes };
  }

  it('makes ipmitool pass every byte through unchanged, whatever the chunking (property)', () => {
    const bytes = fc.oneof(fc.constantFrom(0x7e, 0x0d, 0x0a, 0x2e, 0x42, 0x3f), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(fc.array(fc.array(bytes, { maxLength: 30 }), { maxLength: 10 }), (chunks) => {
        const enc = new IpmitoolEscapeEncoder('~');
        const sent = Buffer.concat(chunks.map((c) => enc.encode(Buffer.from(c))));
        const { data, escapes } = ipmitoolDecode(sent);
        expect(escapes).toEqual([]);
        expect(data.equals(Buffer.concat(chunks.map((c) => Buffer.from(c))))).toBe(true);
      }),
    );
  });

  it('knows when ipmitool would take ~B as a break', () => {
    const enc = new IpmitoolEscapeEncoder('~');
    expect(enc.atLineStart).toBe(true);
    enc.encode(Buffer.from('ls'));
    expect(enc.atLineStart).toBe(false);
    enc.encode(Buffer.from('\r'));
    expect(enc.atLineStart).toBe(true);
    expect(ipmitoolDecode(enc.breakSequence()).escapes).toEqual(['B']);
  });
});

describe('HistoryBuffer', () => {
  it('keeps the last bytes with absolute offsets', () => {
    const h = new HistoryBuffer(8, 100);
    h.append(Buffer.from('abcdef'));
    expect([h.startOffset, h.endOffset]).toEqual([100, 106]);
    h.append(Buffer.from('ghijk'));
    expect([h.startOffset, h.endOffset]).toEqual([103, 111]);
    expect(h.since(0).toString()).toBe('defghijk');
    expect(h.since(108).toString()).toBe('ijk');
    expect(h.since(111).length).toBe(0);
    h.append(Buffer.from('0123456789xy')); // more than the capacity at once
    expect(h.since(0).toString()).toBe('456789xy');
    h.append(Buffer.from('Z'));
    expect(h.since(0).toString()).toBe('56789xyZ');
  });

  it.each([
    ['starts at the first line start in the window', 'line one\r\nline two\r\nthree', 16, 'line two\r\nthree'],
    ['a window that begins right after a line end is whole', 'aaaa\nbbbb\n', 5, 'bbbb\n'],
    ['a window that is one unbroken line is kept whole', 'x\r\n0123456789', 6, '456789'],
    ['everything when the history is shorter', 'ab\ncd', 100, 'ab\ncd'],
    ['nothing for 0 bytes', 'ab\ncd', 0, ''],
  ])('tail: %s', (_what, text, max, expected) => {
    const h = new HistoryBuffer(64);
    h.append(Buffer.from(text));
    const t = h.tail(max);
    expect(t.data.toString()).toBe(expected);
    expect(t.offset + t.data.length).toBe(h.endOffset);
  });

  it('is the last bytes of everything appended, however it was chunked (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.array(fc.uint8Array({ maxLength: 80 })), (cap, chunks) => {
        const h = new HistoryBuffer(cap, 7);
        for (const c of chunks) h.append(Buffer.from(c));
        const all = Buffer.concat(chunks.map((c) => Buffer.from(c)));
        expect(h.endOffset).toBe(7 + all.length);
        expect(h.since(0).equals(all.subarray(Math.max(0, all.length - cap)))).toBe(true);
        const t = h.tail(cap);
        expect(all.subarray(t.offset - 7).equals(t.data)).toBe(true);
      }),
    );
  });
});

describe('WriteLock', () => {
  it('gives the lock to the first viewer, passes it to the longest-attached on leave', () => {
    const l = new WriteLock();
    expect(l.attach({ id: 'a', readOnly: false })).toEqual({ writer: 'a', previous: null, forced: false, cause: 'attach' });
    expect(l.attach({ id: 'b', readOnly: false })).toBeNull();
    expect(l.attach({ id: 'c', readOnly: false })).toBeNull();
    expect(l.detach('a')).toEqual({ writer: 'b', previous: 'a', forced: false, cause: 'detach' });
    expect(l.detach('c')).toBeNull();
    expect(l.detach('b')).toEqual({ writer: null, previous: 'b', forced: false, cause: 'detach' });
  });

  it('take only when free, force always; release passes it on', () => {
    const l = new WriteLock();
    l.attach({ id: 'a', readOnly: false });
    l.attach({ id: 'b', readOnly: false });
    expect(l.take('b', false)).toEqual({ ok: false, why: 'held' });
    expect(l.take('b', true)).toEqual({ ok: true, move: { writer: 'b', previous: 'a', forced: true, cause: 'force' } });
    expect(l.take('b', false)).toEqual({ ok: true, move: null });
    expect(l.release('a')).toBeNull();
    expect(l.release('b')).toEqual({ writer: 'a', previous: 'b', forced: false, cause: 'release' });
    l.detach('b');
    expect(l.release('a')).toEqual({ writer: null, previous: 'a', forced: false, cause: 'release' });
    expect(l.take('a', false)).toEqual({ ok: true, move: { writer: 'a', previous: null, forced: false, cause: 'take' } });
  });

  it('never gives the lock to a read-only viewer', () => {
    const l = new WriteLock();
    expect(l.attach({ id: 'r', readOnly: true })).toBeNull();
    expect(l.take('r', true)).toEqual({ ok: false, why: 'read-only' });
    l.attach({ id: 'w', readOnly: false });
    expect(l.writer).toBe('w');
    expect(l.detach('w')).toEqual({ writer: null, previous: 'w', forced: false, cause: 'detach' });
  });

  it('forceWrite at attach takes it from the holder', () => {
    const l = new WriteLock();
    l.attach({ id: 'a', readOnly: false });
    expect(l.attach({ id: 'b', readOnly: false }, true)).toEqual({ writer: 'b', previous: 'a', forced: true, cause: 'attach' });
  });

  it('always has at most one writer, and one whenever a viewer that may write is attached and nobody released (property)', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('attach' as const), id: fc.integer({ min: 0, max: 5 }), ro: fc.boolean(), force: fc.boolean() }),
      fc.record({ k: fc.constant('detach' as const), id: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ k: fc.constant('take' as const), id: fc.integer({ min: 0, max: 5 }), force: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const l = new WriteLock();
        const ro = new Map<string, boolean>();
        for (const o of ops) {
          const id = `v${o.id}`;
          if (o.k === 'attach' && !l.has(id)) {
            l.attach({ id, readOnly: o.ro }, o.force);
            ro.set(id, o.ro);
          } else if (o.k === 'detach') {
            l.detach(id);
            ro.delete(id);
          } else if (o.k === 'take') l.take(id, o.force);
          if (l.writer !== null) expect(ro.get(l.writer)).toBe(false);
          const writable = [...ro.entries()].some(([, r]) => !r);
          expect(l.writer !== null).toBe(writable);
        }
      }),
    );
  });
});
