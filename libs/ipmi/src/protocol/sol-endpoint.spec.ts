import { describe, expect, it } from '@jest/globals';
import { SolEndpoint, type SolEndpointOptions } from './sol-endpoint.js';
import { SolOperation, type SolPacket } from './sol-packet.js';

function make(over: Partial<SolEndpointOptions> = {}) {
  const sent: SolPacket[] = [];
  const delivered: string[] = [];
  const ep = new SolEndpoint({
    maxCharsPerPacket: 4,
    retryIntervalMs: 100,
    maxRetries: 2,
    send: (p) => sent.push({ ...p, data: Buffer.from(p.data) }),
    deliver: (d) => delivered.push(d.toString()),
    ...over,
  });
  return { ep, sent, delivered };
}

const ack = (seq: number, count: number, flags = 0): SolPacket => ({ sequence: 0, ackSequence: seq, acceptedCount: count, flags, data: Buffer.alloc(0) });
const data = (seq: number, text: string, flags = 0): SolPacket => ({ sequence: seq, ackSequence: 0, acceptedCount: 0, flags, data: Buffer.from(text) });

describe('SolEndpoint (outbound)', () => {
  it('keeps one packet in flight and accumulates characters written meanwhile', () => {
    const { ep, sent } = make({ maxCharsPerPacket: 10 });
    ep.write(Buffer.from('a'), 0);
    ep.write(Buffer.from('b'), 1);
    ep.write(Buffer.from('c'), 2);
    expect(sent.map((p) => [p.sequence, p.data.toString()])).toEqual([[1, 'a']]);
    ep.receive(ack(1, 1), 3);
    expect(sent.map((p) => [p.sequence, p.data.toString()])).toEqual([
      [1, 'a'],
      [2, 'bc'],
    ]);
    ep.receive(ack(2, 2), 4);
    expect(ep.idle).toBe(true);
    expect(ep.nextDeadline).toBeNull();
  });

  it('splits at maxCharsPerPacket and wraps sequence numbers 15 -> 1, never 0', () => {
    const { ep, sent } = make({ initialSequence: 14 });
    ep.write(Buffer.from('0123456789ab'), 0);
    for (let i = 0; i < 3; i++) ep.receive(ack(sent[sent.length - 1]!.sequence, 4), i + 1);
    expect(sent.map((p) => [p.sequence, p.data.toString()])).toEqual([
      [14, '0123'],
      [15, '4567'],
      [1, '89ab'],
    ]);
  });

  it('resends the unaccepted rest of a partial ack in a new packet with a new sequence number', () => {
    const { ep, sent } = make();
    ep.write(Buffer.from('root'), 0);
    ep.receive(ack(1, 1), 1); // only "r" taken
    expect(sent.map((p) => [p.sequence, p.data.toString()])).toEqual([
      [1, 'root'],
      [2, 'oot'],
    ]);
  });

  it('backs off after a NACK that accepted nothing', () => {
    const { ep, sent } = make({ nackBackoffMs: 50 });
    ep.write(Buffer.from('ab'), 0);
    ep.receive(ack(1, 0, SolOperation.NACK), 10);
    expect(sent).toHaveLength(1);
    expect(ep.nextDeadline).toBe(60);
    ep.onTimer(60);
    expect(sent.map((p) => [p.sequence, p.data.toString()])).toEqual([
      [1, 'ab'],
      [2, 'ab'],
    ]);
  });

  it('retransmits the same packet on timeout, then fails after maxRetries', () => {
    const { ep, sent } = make();
    ep.write(Buffer.from('x'), 0);
    expect(ep.onTimer(100)).toBe(true);
    expect(ep.onTimer(200)).toBe(true);
    expect(sent.map((p) => p.sequence)).toEqual([1, 1, 1]);
    expect(ep.onTimer(300)).toBe(false);
    expect(ep.failed).toBe(true);
  });

  it('an ack accepting more than was sent (a stale match, as ipmi_sim does) resends everything at once', () => {
    const { ep, sent } = make();
    ep.write(Buffer.from('ab'), 0);
    ep.receive(ack(1, 7), 1);
    expect(ep.staleAcks).toBe(1);
    expect(sent.map((p) => [p.sequence, p.data.toString()])).toEqual([
      [1, 'ab'],
      [2, 'ab'],
    ]);
  });

  it('ignores acks for other sequence numbers', () => {
    const { ep, sent } = make();
    ep.write(Buffer.from('x'), 0);
    ep.receive(ack(5, 1), 1);
    expect(ep.idle).toBe(false);
    expect(sent).toHaveLength(1);
  });

  it('sends a break on the next data packet, or alone in an ack-only packet', () => {
    const { ep, sent } = make();
    ep.requestBreak(0);
    expect(sent[0]).toMatchObject({ sequence: 0, flags: SolOperation.GENERATE_BREAK });
    ep.write(Buffer.from('a'), 1);
    ep.requestBreak(1);
    ep.write(Buffer.from('b'), 1);
    ep.receive(ack(1, 1), 2);
    expect(sent[2]).toMatchObject({ sequence: 2, flags: SolOperation.GENERATE_BREAK });
  });

  it('drops characters beyond maxQueuedBytes', () => {
    const { ep } = make({ maxQueuedBytes: 6 });
    ep.write(Buffer.from('0123'), 0); // in flight: not counted against the queue
    ep.write(Buffer.from('4567'), 0);
    ep.write(Buffer.from('89ab'), 0);
    expect(ep.droppedBytes).toBe(2);
    expect(ep.queuedBytes).toBe(10);
  });
});

describe('SolEndpoint (inbound)', () => {
  it('delivers and acks every data packet with its full length', () => {
    const { ep, sent, delivered } = make();
    ep.receive(data(3, 'hello'), 0);
    expect(delivered).toEqual(['hello']);
    expect(sent).toEqual([{ sequence: 0, ackSequence: 3, acceptedCount: 5, flags: 0, data: Buffer.alloc(0) }]);
  });

  it('treats a repeated sequence number as a retransmission: acks again, delivers only new characters', () => {
    const { ep, sent, delivered } = make();
    ep.receive(data(3, 'abc'), 0);
    ep.receive(data(3, 'abc'), 1);
    ep.receive(data(3, 'abcde'), 2);
    ep.receive(data(4, 'abc'), 3);
    expect(delivered).toEqual(['abc', 'de', 'abc']);
    expect(sent.map((p) => [p.ackSequence, p.acceptedCount])).toEqual([
      [3, 3],
      [3, 3],
      [3, 5],
      [4, 3],
    ]);
  });

  it('applies flow control with a partial NACK when acceptLimit says so', () => {
    let room = 2;
    const { ep, sent, delivered } = make({ acceptLimit: () => room });
    ep.receive(data(1, 'abcd'), 0);
    room = 10;
    ep.receive(data(2, 'cd'), 1);
    expect(delivered).toEqual(['ab', 'cd']);
    expect(sent.map((p) => [p.ackSequence, p.acceptedCount, p.flags])).toEqual([
      [1, 2, SolOperation.NACK],
      [2, 2, 0],
    ]);
  });

  it('a piggy-backed ack and data in one packet are both processed', () => {
    const { ep, sent, delivered } = make();
    ep.write(Buffer.from('q'), 0);
    ep.receive({ sequence: 2, ackSequence: 1, acceptedCount: 1, flags: 0, data: Buffer.from('Z') }, 1);
    expect(ep.idle).toBe(true);
    expect(delivered).toEqual(['Z']);
    expect(sent[1]).toMatchObject({ sequence: 0, ackSequence: 2, acceptedCount: 1 });
  });
});
