import { describe, expect, it } from '@jest/globals';
import { AttachEscapeParser, parseEscapeChar, type AttachAction } from './attach-escapes.js';

const feed = (p: AttachEscapeParser, ...chunks: string[]) => chunks.flatMap((c) => p.feed(Buffer.from(c, 'latin1')));
const text = (actions: AttachAction[]) => actions.map((a) => (a.type === 'data' ? a.data.toString('latin1') : `<${a.type}${a.type === 'take' && a.force ? '!' : ''}>`)).join('');

describe('console attach escapes', () => {
  it('acts on each escape at the start of the input and after a newline', () => {
    expect(text(feed(new AttachEscapeParser('~'), '~.'))).toBe('<disconnect>');
    expect(text(feed(new AttachEscapeParser('~'), 'ls\r~w~W~r~#~B~?'))).toBe('ls\r<take><take!><release><who><break><help>');
    expect(text(feed(new AttachEscapeParser('~'), 'x\n~.ignored'))).toBe('x\n<disconnect>');
  });

  it('sends a tilde in the middle of a line, ~~ as one tilde, an unknown escape as typed', () => {
    expect(text(feed(new AttachEscapeParser('~'), 'cd ~/x'))).toBe('cd ~/x');
    expect(text(feed(new AttachEscapeParser('~'), '~~home'))).toBe('~home');
    expect(text(feed(new AttachEscapeParser('~'), '~x'))).toBe('~x');
  });

  it('recognises an escape split across reads', () => {
    expect(text(feed(new AttachEscapeParser('~'), 'a\r', '~', '.'))).toBe('a\r<disconnect>');
  });

  it('uses another escape character, or none', () => {
    expect(text(feed(new AttachEscapeParser('&'), '~.&.'))).toBe('~.&.'); // &. is mid-line
    expect(text(feed(new AttachEscapeParser('&'), '&.'))).toBe('<disconnect>');
    expect(text(feed(new AttachEscapeParser(undefined), '~.'))).toBe('~.');
    expect(parseEscapeChar('none')).toBeUndefined();
    expect(parseEscapeChar('^')).toBe('^');
    expect(() => parseEscapeChar('ab')).toThrow();
    expect(() => parseEscapeChar('\x01')).toThrow();
  });
});
