import { describe, expect, it } from '@jest/globals';
import { InvalidArgumentError } from 'commander';
import fc from 'fast-check';
import { isSolgateError } from '#libs/common';
import { applyNodePatch, validateNodeFields, type NodeRecord } from '#libs/nodes';
import { CliError, UsageError } from './errors.js';
import { parseInteger, parseSeconds } from './global-options.js';
import { bodyFromFlags, csvToRows, detectFormat, parseCsv, parseNodeFile, patchFromFlags, type NodeFlags } from './node-input.js';
import { globToRegExp, matchesSelector, parseSelector, SELECTOR_KEYS, type SelectorKey, type SelectorSubject } from './selector.js';

/**
 * Property-based fuzzing of what an operator types: selectors (-l), durations and integers, node
 * flags (nodes create/update) and node files (nodes import: JSON, YAML, CSV). Properties: the CLI's
 * own errors (UsageError/CliError, commander's InvalidArgumentError) or the API's validation error
 * are the only failures; accepted input means what it says.
 */
const RUNS = { numRuns: 400 };
const KEYS = Object.keys(SELECTOR_KEYS) as SelectorKey[];
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('', ',', '=', '!=', '==', 'a=b,,c=d', 'name=*', 'console=ENABLED', 'x=1', 'group=(', 'name=[a-', 'address=10.*', '\\', '$'));

function onlyCliErrors<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CliError || e instanceof InvalidArgumentError) return undefined;
    throw new Error(`unexpected ${e instanceof Error ? e.constructor.name : typeof e}: ${String(e)}`, { cause: e });
  }
}

const subjectArb: fc.Arbitrary<SelectorSubject> = fc.record(Object.fromEntries(KEYS.map((k) => [k, fc.string({ maxLength: 12 })])) as Record<SelectorKey, fc.Arbitrary<string>>);

describe('selectors (-l): property-based', () => {
  it('any text parses or is a usage error; parsed selectors never throw when matched', () => {
    const selector = fc.oneof(
      text,
      fc.array(fc.tuple(fc.constantFrom(...KEYS, 'conductor_group', 'ipmi_address', 'bogus'), fc.constantFrom('=', '==', '!=', ':', ''), text), { minLength: 1, maxLength: 4 }).map((reqs) => reqs.map(([k, op, v]) => `${k}${op}${v}`).join(',')),
    );
    fc.assert(
      fc.property(selector, subjectArb, (sel, subject) => {
        let reqs;
        try {
          reqs = parseSelector(sel);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
          return;
        }
        expect(reqs.length).toBeGreaterThan(0);
        for (const r of reqs) expect(KEYS).toContain(r.key);
        expect(typeof matchesSelector(reqs, subject)).toBe('boolean');
      }),
      RUNS,
    );
  });

  it('a value without globs matches exactly itself (regex characters are literal; `==` states the operator when the value starts with "=")', () => {
    const literal = fc.string({ maxLength: 20 }).filter((s) => !/[*?,]/.test(s) && s.trim() === s);
    fc.assert(
      fc.property(literal, literal, (value, other) => {
        const [req] = parseSelector(`name==${value}`);
        const subject = { name: value } as SelectorSubject;
        expect(matchesSelector([req], subject)).toBe(true);
        expect(matchesSelector([req], { name: other } as SelectorSubject)).toBe(other === value);
        expect(matchesSelector(parseSelector(`name!=${value}`), subject)).toBe(false);
      }),
      RUNS,
    );
  });

  it('globToRegExp never throws, `*` matches any run and `?` one character', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), (a, mid, b) => {
        const safe = (s: string) => s.replace(/[*?]/g, '');
        expect(globToRegExp(`${safe(a)}*${safe(b)}`).test(`${safe(a)}${mid}${safe(b)}`)).toBe(!/[\n\r\u2028\u2029]/.test(mid));
        expect(() => globToRegExp(a)).not.toThrow();
      }),
      RUNS,
    );
  });
});

describe('durations and integers: property-based', () => {
  it('parseSeconds / parseInteger: a number in range, or commander’s InvalidArgumentError', () => {
    const arg = fc.oneof(fc.string({ maxLength: 12 }), fc.double().map(String), fc.integer().map(String), fc.constantFrom('0', '0.1', '1.', '.5', '1e3', ' 5 ', '-1', 'Infinity', 'NaN', '86400', '86400.0001', '0x10', '١'));
    fc.assert(
      fc.property(arg, fc.double({ min: 0, max: 100, noNaN: true }), fc.double({ min: 100, max: 1e6, noNaN: true }), (v, min, max) => {
        const s = onlyCliErrors(() => parseSeconds('--timeout', min, max)(v));
        if (s !== undefined) expect(Number.isFinite(s) && s >= min && s <= max).toBe(true);
        const i = onlyCliErrors(() => parseInteger('--vnodes', Math.ceil(min), Math.floor(max))(v));
        if (i !== undefined) expect(Number.isInteger(i) && i >= Math.ceil(min) && i <= Math.floor(max)).toBe(true);
      }),
      RUNS,
    );
  });
});

const FLAG_NAMES: (keyof NodeFlags)[] = ['uuid', 'name', 'driver', 'consoleInterface', 'address', 'port', 'username', 'privLevel', 'cipherSuite', 'terminalPort', 'group', 'description'];
const flagValue = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('10.0.0.1', 'ipmi', '623', '00623', '65536', 'ADMINISTRATOR', 'a,b', '-x', '$(id)', 'ipmitool-socat', '17'));
const flagsArb = fc.dictionary(fc.constantFrom(...FLAG_NAMES), flagValue, { maxKeys: 8 }) as fc.Arbitrary<NodeFlags>;

describe('node flags (nodes create / update): property-based', () => {
  const node: NodeRecord = {
    ...validateNodeFields({ uuid: '0b7d3f0e-52d8-4c43-9d63-5c2b0c1e2f11', name: 'n1', driver: 'ipmi', driver_info: { ipmi_address: '10.0.0.9', ipmi_password: 'pw' } }),
    console_enabled: false,
    console_generation: 0,
    provision_state: 'enroll',
    created_at: 1,
    updated_at: null,
    rev: 1,
    console_rev: 1,
  };
  const domainOnly = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      expect(isSolgateError(e) && e.code === 'INVALID_INPUT').toBe(true);
    }
  };

  it('flags become a body or a patch without throwing; the API’s validation is the only judge', () => {
    const unset = fc.array(fc.oneof(fc.constantFrom('description', 'driver_info.ipmi_port', '/extra/x', 'name', 'uuid', 'console_enabled'), fc.string({ maxLength: 10 })), { maxLength: 3 });
    fc.assert(
      fc.property(flagsArb, fc.option(fc.string({ maxLength: 24 }), { nil: undefined }), unset, (flags, password, toUnset) => {
        const body = bodyFromFlags(flags, password);
        domainOnly(() => validateNodeFields(body));
        const ops = patchFromFlags(flags, password, toUnset);
        if (ops.length > 0) domainOnly(() => applyNodePatch(node, ops));
      }),
      RUNS,
    );
  });
});

/** RFC 4180, every field quoted, every record ended by CRLF. */
const toCsv = (rows: string[][]) => rows.map((r) => `${r.map((f) => `"${f.replace(/"/g, '""')}"`).join(',')}\r\n`).join('');

describe('node files (nodes import): property-based', () => {
  it('CSV: what is written per RFC 4180 reads back the same, commas, quotes and line breaks included', () => {
    const field = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('a,b', 'say "hi"', 'two\nlines', 'cr\r\nlf', '', ' padded '));
    fc.assert(
      fc.property(fc.array(fc.array(field, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 6 }), (rows) => {
        expect(parseCsv(toCsv(rows))).toEqual(rows);
      }),
      RUNS,
    );
  });

  it('any text in any format: rows, or one CLI error; never an exception of the parsers', () => {
    const doc = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.array(fc.dictionary(fc.constantFrom('name', 'driver', 'driver_info', 'uuid', 'address', 'port', 'extra.x', 'bogus'), fc.jsonValue({ maxDepth: 1 })), { maxLength: 3 }).map((v) => JSON.stringify(v)),
      fc.constantFrom('{', '[1,', 'nodes:\n  - name: a\n    driver: ipmi', 'name,address\nn1,10.0.0.1\n', 'name,address\n"n1,10.0.0.1\n', 'a: [', ': :', '- - -', '\ufeffname\nx', '&a [*a]', '!!binary x'),
    );
    fc.assert(
      fc.property(doc, fc.constantFrom('json', 'yaml', 'csv') as fc.Arbitrary<'json' | 'yaml' | 'csv'>, fc.constantFrom('nodes.json', 'nodes.yaml', 'nodes.csv', 'nodes.txt', 'nodes'), (t, format, file) => {
        expect(['json', 'yaml', 'csv']).toContain(detectFormat(file, t));
        const rows = onlyCliErrors(() => parseNodeFile(t, format));
        if (rows === undefined) return;
        for (const r of rows) {
          expect(r.row).toBeGreaterThan(0);
          expect((r.body === undefined) !== (r.error === undefined)).toBe(true);
          if (r.body) expect(typeof r.body).toBe('object');
        }
        onlyCliErrors(() => csvToRows(t));
      }),
      RUNS,
    );
  });
});
