import { describe, expect, it } from '@jest/globals';
import { parse as parseYaml } from 'yaml';
import { colorEnabled, formatAge, Printer, renderStructured, renderTable, type Column } from './output.js';

interface Row {
  id: string;
  state: string;
  n: number | null;
}
const rows: Row[] = [
  { id: 'c1', state: 'alive', n: 3 },
  { id: 'conductor-22', state: 'dead', n: null },
];
const cols: Column<Row>[] = [
  { header: 'ID', value: (r) => r.id },
  { header: 'STATE', value: (r) => r.state, color: (t) => `<${t}>` },
  { header: 'N', value: (r) => r.n, wide: true },
];

describe('renderTable', () => {
  it('prints aligned, borderless columns with no trailing spaces, like kubectl', () => {
    expect(renderTable(rows, cols, { wide: false, headers: true, color: false })).toBe(
      ['ID             STATE', 'c1             alive', 'conductor-22   dead', ''].join('\n'),
    );
  });

  it('adds wide columns with -o wide and prints <none> for missing values', () => {
    const out = renderTable(rows, cols, { wide: true, headers: true, color: false });
    expect(out.split('\n')[0]).toBe('ID             STATE   N');
    expect(out.split('\n')[2]).toBe('conductor-22   dead    <none>');
  });

  it('omits the header with --no-headers, and prints nothing for no rows then', () => {
    expect(renderTable(rows, cols, { wide: false, headers: false, color: false }).split('\n')[0]).toBe('c1             alive');
    expect(renderTable([], cols, { wide: false, headers: false, color: false })).toBe('');
    expect(renderTable([], cols, { wide: false, headers: true, color: false })).toBe('ID   STATE\n');
  });

  it('colours cells only when asked', () => {
    expect(renderTable(rows, cols, { wide: false, headers: false, color: true })).toContain('<alive>');
    expect(renderTable(rows, cols, { wide: false, headers: false, color: false })).not.toContain('<');
  });
});

describe('structured output', () => {
  it('round-trips JSON and YAML', () => {
    const data = [{ a: 1, b: null, c: { d: 'x' } }];
    expect(JSON.parse(renderStructured(data, 'json'))).toEqual(data);
    expect(parseYaml(renderStructured(data, 'yaml'))).toEqual(data);
  });

  it('prints a list as an array and one item as an object', () => {
    let text = '';
    const p = new Printer('json', true, false, { write: (s: string) => (text += s) });
    p.list(rows, cols, (r) => ({ id: r.id }));
    expect(JSON.parse(text)).toEqual([{ id: 'c1' }, { id: 'conductor-22' }]);
    text = '';
    p.item(rows[0], cols, (r) => ({ id: r.id }));
    expect(JSON.parse(text)).toEqual({ id: 'c1' });
  });
});

describe('colorEnabled', () => {
  it('colours only a TTY, never with NO_COLOR, TERM=dumb or --no-color', () => {
    expect(colorEnabled({ isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ isTTY: false }, {})).toBe(false);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(colorEnabled({ isTTY: true }, {}, false)).toBe(false);
  });
});

describe('formatAge', () => {
  it.each([
    [400, '0.4s'],
    [42_000, '42s'],
    [125_000, '2m5s'],
    [3_600_000 * 3 + 60_000 * 2, '3h2m'],
    [86_400_000 * 3, '3d'],
    [null, '<none>'],
  ])('%p ms is %p', (ms, s) => expect(formatAge(ms)).toBe(s));
});
