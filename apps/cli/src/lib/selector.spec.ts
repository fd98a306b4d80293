import { describe, expect, it } from '@jest/globals';
import { UsageError } from './errors.js';
import { globToRegExp, matchesSelector, parseSelector, type SelectorSubject } from './selector.js';

const subject = (over: Partial<SelectorSubject> = {}): SelectorSubject => ({
  name: 'node-17',
  uuid: '1be26c0b-03f2-4d2e-ae87-c02d7f33c123',
  group: 'rack1',
  interface: 'ipmitool-socat',
  driver: 'ipmi',
  address: '10.0.7.17',
  console: 'enabled',
  state: 'running',
  owner: 'c1',
  ...over,
});

describe('parseSelector', () => {
  it('parses comma-separated ANDs with =, == and !=', () => {
    const r = parseSelector('group=rack1, name==node-*,interface!=no-console');
    expect(r.map((x) => [x.key, x.op, x.value])).toEqual([
      ['group', '=', 'rack1'],
      ['name', '=', 'node-*'],
      ['interface', '!=', 'no-console'],
    ]);
  });

  it('accepts API field names as aliases', () => {
    expect(parseSelector('conductor_group=a,console_interface=b,ipmi_address=c').map((x) => x.key)).toEqual(['group', 'interface', 'address']);
  });

  it.each(['', ',', 'group', 'group=a,,name=b', 'colour=red', '=x', 'console=maybe', 'constructor=x', 'tostring=x', '__proto__=x', 'hasownproperty=x'])('refuses %p as a usage error', (s) => {
    expect(() => parseSelector(s)).toThrow(UsageError);
  });

  it('names the known keys when one is unknown', () => {
    expect(() => parseSelector('colour=red')).toThrow(/unknown selector key "colour": one of name, uuid, group/);
  });
});

describe('matchesSelector', () => {
  it('requires every requirement (AND)', () => {
    expect(matchesSelector(parseSelector('group=rack1,name=node-*'), subject())).toBe(true);
    expect(matchesSelector(parseSelector('group=rack1,name=web-*'), subject())).toBe(false);
  });

  it('negates with !=', () => {
    expect(matchesSelector(parseSelector('state!=running'), subject())).toBe(false);
    expect(matchesSelector(parseSelector('state!=running'), subject({ state: 'error' }))).toBe(true);
  });

  it('matches the whole value, with * and ? globs', () => {
    expect(matchesSelector(parseSelector('name=node-1'), subject())).toBe(false);
    expect(matchesSelector(parseSelector('name=node-1?'), subject())).toBe(true);
    expect(matchesSelector(parseSelector('address=10.0.*'), subject())).toBe(true);
  });

  it('matches the default group with an empty value, and groups case-insensitively', () => {
    expect(matchesSelector(parseSelector('group='), subject({ group: '' }))).toBe(true);
    expect(matchesSelector(parseSelector('group=RACK1'), subject())).toBe(true);
  });

  it('treats regex characters in values literally', () => {
    expect(globToRegExp('a.b+(c)').test('a.b+(c)')).toBe(true);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
  });
});
