import { describe, expect, it } from '@jest/globals';
import { EscapeSequenceParser, type EscapeAction } from './escape-sequences.js';

const text = (actions: EscapeAction[]) =>
  actions.map((a) => (a.type === 'data' ? a.data.toString() : `<${a.type}>`)).join('');

describe('EscapeSequenceParser', () => {
  it('~. at the very start or after a newline terminates; elsewhere it is data', () => {
    expect(text(new EscapeSequenceParser().feed(Buffer.from('~.')))).toBe('<terminate>');
    expect(text(new EscapeSequenceParser().feed(Buffer.from('ls\r~.after')))).toBe('ls\r<terminate>');
    expect(text(new EscapeSequenceParser().feed(Buffer.from('a~.b')))).toBe('a~.b');
  });

  it('works across chunks, as keystrokes arrive one by one', () => {
    const p = new EscapeSequenceParser();
    expect(text([...p.feed(Buffer.from('x\n')), ...p.feed(Buffer.from('~')), ...p.feed(Buffer.from('.'))])).toBe('x\n<terminate>');
  });

  it('~B sends a break, ~? asks for help, ~~ sends one ~, ~x sends both', () => {
    const p = new EscapeSequenceParser();
    expect(text(p.feed(Buffer.from('~B\r~?\r~~\r~x')))).toBe('<break>\r<help>\r~\r~x');
  });

  it('a custom escape character', () => {
    expect(text(new EscapeSequenceParser('&').feed(Buffer.from('~.&.')))).toBe('~.&.');
    expect(text(new EscapeSequenceParser('&').feed(Buffer.from('&.')))).toBe('<terminate>');
  });
});
