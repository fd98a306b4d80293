import { describe, expect, it } from '@jest/globals';
import { parseDurationMs, plainConsoleText } from './console-log-text.js';

describe('plainConsoleText', () => {
  it.each([
    ['line endings', 'a\r\nb\rc\n', 'a\nb\nc\n'],
    ['colours and cursor moves', '\x1b[1;32mOK\x1b[0m \x1b[2J\x1b[H', 'OK '],
    ['window titles', '\x1b]0;root@node\x07$ ', '$ '],
    ['other controls, tabs kept', 'a\x07b\x00c\td\x7f', 'abc\td'],
    ['UTF-8 text', 'Grüße — ok', 'Grüße — ok'],
  ])('%s', (_what, input, expected) => {
    expect(plainConsoleText(Buffer.from(input))).toBe(expected);
  });
});

describe('parseDurationMs', () => {
  it.each([
    ['90', 90_000],
    ['90s', 90_000],
    ['15m', 900_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['0.5m', 30_000],
  ])('%s', (v, ms) => expect(parseDurationMs(v)).toBe(ms));
  it.each(['', 'm', '-5m', '5 weeks', '1w'])('refuses %j', (v) => expect(() => parseDurationMs(v)).toThrow(/invalid duration/));
});
