import { describe, expect, it } from '@jest/globals';
import { bodyFromFlags, csvToRows, detectFormat, parseCsv, parseNodeFile, patchFromFlags } from './node-input.js';

describe('parseCsv', () => {
  it('handles quotes, escaped quotes, commas and line breaks inside quotes, CRLF and a BOM', () => {
    expect(parseCsv('\ufeffa,b,c\r\n"x,1","say ""hi""","two\nlines"\r\n')).toEqual([
      ['a', 'b', 'c'],
      ['x,1', 'say "hi"', 'two\nlines'],
    ]);
  });

  it('keeps empty fields and a last line without a line break', () => {
    expect(parseCsv('a,,c\n1,2,')).toEqual([
      ['a', '', 'c'],
      ['1', '2', ''],
    ]);
  });

  it('refuses an unclosed quote', () => {
    expect(() => parseCsv('a\n"open')).toThrow(/not closed/);
  });
});

describe('csvToRows', () => {
  it.each(['constructor', 'toString', '__proto__', 'valueOf'])('refuses a %p column (a name only the prototype of the column tables has)', (h) => {
    expect(() => csvToRows(`name,${h}\nn1,x\n`)).toThrow(`unknown CSV column "${h}"`);
  });

  it('maps columns onto an API body: short names, ipmi_* keys, dotted nested keys; numbers for ports', () => {
    const rows = csvToRows('name,address,port,username,password,group,cipher_suite,terminal_port,extra.rack,driver_info.ipmi_bridging\nn1,10.0.0.1,623,admin,pw,Rack1,3,,r7,no\n');
    expect(rows).toEqual([
      {
        row: 1,
        body: {
          name: 'n1',
          driver: 'ipmi',
          conductor_group: 'Rack1',
          driver_info: { ipmi_address: '10.0.0.1', ipmi_port: 623, ipmi_username: 'admin', ipmi_password: 'pw', ipmi_cipher_suite: 3, ipmi_bridging: 'no' },
          extra: { rack: 'r7' },
        },
      },
    ]);
  });

  it('numbers rows from 1 without the header, skips blank lines, and flags rows with a wrong field count', () => {
    const rows = csvToRows('name,address\nn1,10.0.0.1\n\nn2\nn3,10.0.0.3\n');
    expect(rows.map((r) => [r.row, r.body?.name ?? null, r.error ?? null])).toEqual([
      [1, 'n1', null],
      [3, null, 'has 1 fields, the header has 2'],
      [4, 'n3', null],
    ]);
  });

  it('refuses unknown columns for the whole file', () => {
    expect(() => csvToRows('name,colour\nn1,red\n')).toThrow(/unknown CSV column "colour"/);
  });
});

describe('parseNodeFile', () => {
  it('reads one node, a list, or {"nodes": [...]} from JSON and YAML', () => {
    expect(parseNodeFile('{"name":"a","driver":"ipmi"}', 'json')).toEqual([{ row: 1, body: { name: 'a', driver: 'ipmi' } }]);
    expect(parseNodeFile('[{"name":"a"},{"name":"b"}]', 'json').map((r) => r.body)).toEqual([
      { name: 'a', driver: 'ipmi' },
      { name: 'b', driver: 'ipmi' },
    ]);
    const yaml = 'nodes:\n  - name: a\n    driver_info:\n      ipmi_address: 10.0.0.1\n      ipmi_port: 623\n  - 42\n';
    expect(parseNodeFile(yaml, 'yaml')).toEqual([
      { row: 1, body: { name: 'a', driver: 'ipmi', driver_info: { ipmi_address: '10.0.0.1', ipmi_port: 623 } } },
      { row: 2, error: 'not an object' },
    ]);
  });

  it('reports a syntax error as one line', () => {
    expect(() => parseNodeFile('{oops', 'json')).toThrow(/cannot parse JSON/);
  });
});

describe('detectFormat', () => {
  it('goes by extension, then by content', () => {
    expect(detectFormat('a.yml', '')).toBe('yaml');
    expect(detectFormat('a.CSV', '')).toBe('csv');
    expect(detectFormat('-', ' [ {}]')).toBe('json');
    expect(detectFormat('-', 'name,address\nx,y')).toBe('csv');
    expect(detectFormat('-', 'name: x\n')).toBe('yaml');
  });
});

describe('flags', () => {
  it('builds a POST body with the ipmi driver by default and the password from a file', () => {
    expect(bodyFromFlags({ name: 'n1', address: '10.0.0.1', port: '623', group: 'r1', terminalPort: '7000' }, 'pw')).toEqual({
      driver: 'ipmi',
      name: 'n1',
      conductor_group: 'r1',
      driver_info: { ipmi_address: '10.0.0.1', ipmi_port: 623, ipmi_terminal_port: 7000, ipmi_password: 'pw' },
    });
  });

  it('builds an Ironic JSON Patch (add replaces) with removals', () => {
    expect(patchFromFlags({ address: 'bmc.example', cipherSuite: '17' }, undefined, ['driver_info/ipmi_terminal_port', 'description'])).toEqual([
      { op: 'add', path: '/driver_info/ipmi_address', value: 'bmc.example' },
      { op: 'add', path: '/driver_info/ipmi_cipher_suite', value: 17 },
      { op: 'remove', path: '/driver_info/ipmi_terminal_port' },
      { op: 'remove', path: '/description' },
    ]);
  });
});
