import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ownEntry } from '#libs/common';
import type { PatchOperation } from '#libs/nodes';
import { CliError } from './errors.js';

/**
 * Node bodies from what an operator types or writes in a file: flags, JSON, YAML or CSV. The
 * output is an API-shaped POST body; validation is libs/nodes' (validateNodeFields), never here.
 */
export type NodeBody = Record<string, unknown>;

/** One record of an input file: its 1-based number among the records, and a body or why it has none. */
export interface InputRow {
  row: number;
  body?: NodeBody;
  error?: string;
}

export type InputFormat = 'json' | 'yaml' | 'csv';

/** The CLI's default hardware type when a body names none (the API itself requires one). */
export const DEFAULT_DRIVER = 'ipmi';

/** Flags of `nodes create` / `nodes update` that map onto node fields. */
export interface NodeFlags {
  uuid?: string;
  name?: string;
  driver?: string;
  consoleInterface?: string;
  address?: string;
  port?: string;
  username?: string;
  privLevel?: string;
  cipherSuite?: string;
  terminalPort?: string;
  group?: string;
  description?: string;
}

const FLAG_PATHS: [keyof NodeFlags, string][] = [
  ['uuid', '/uuid'],
  ['name', '/name'],
  ['driver', '/driver'],
  ['consoleInterface', '/console_interface'],
  ['group', '/conductor_group'],
  ['description', '/description'],
  ['address', '/driver_info/ipmi_address'],
  ['port', '/driver_info/ipmi_port'],
  ['username', '/driver_info/ipmi_username'],
  ['privLevel', '/driver_info/ipmi_priv_level'],
  ['cipherSuite', '/driver_info/ipmi_cipher_suite'],
  ['terminalPort', '/driver_info/ipmi_terminal_port'],
];

/** driver_info keys sent as JSON numbers when they are all digits (ports, cipher suite). */
const NUMERIC_KEYS = new Set(['ipmi_port', 'ipmi_terminal_port', 'ipmi_cipher_suite']);
const numeric = (key: string, v: string): string | number => (NUMERIC_KEYS.has(key) && /^\d{1,5}$/.test(v) ? Number(v) : v);

/** A POST body from `nodes create` flags (and a password read from a file or a prompt). */
export function bodyFromFlags(f: NodeFlags, password?: string): NodeBody {
  const body: NodeBody = { driver: f.driver ?? DEFAULT_DRIVER };
  const info: Record<string, unknown> = {};
  for (const [flag, path] of FLAG_PATHS) {
    const v = f[flag];
    if (v === undefined) continue;
    const parts = path.split('/').slice(1);
    if (parts[0] === 'driver_info') info[parts[1]] = numeric(parts[1], v);
    else body[parts[0]] = v;
  }
  if (password !== undefined) info.ipmi_password = password;
  if (Object.keys(info).length > 0) body.driver_info = info;
  return body;
}

/** An Ironic JSON Patch from `nodes update` flags (`add` replaces an existing member). */
export function patchFromFlags(f: NodeFlags, password?: string, unset: string[] = []): PatchOperation[] {
  const ops: PatchOperation[] = [];
  for (const [flag, path] of FLAG_PATHS) {
    const v = f[flag];
    if (v === undefined || flag === 'uuid') continue;
    const key = path.split('/').pop()!;
    ops.push({ op: 'add', path, value: numeric(key, v) });
  }
  if (password !== undefined) ops.push({ op: 'add', path: '/driver_info/ipmi_password', value: password });
  for (const u of unset) ops.push({ op: 'remove', path: u.startsWith('/') ? u : `/${u.replace(/\./g, '/')}` });
  return ops;
}

// --- files -----------------------------------------------------------------------------------

export function detectFormat(fileName: string, text: string): InputFormat {
  const ext = extname(fileName).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  if (ext === '.csv') return 'csv';
  const head = text.trimStart();
  if (head.startsWith('{') || head.startsWith('[')) return 'json';
  const first = head.split(/\r?\n/, 1)[0] ?? '';
  if (first.includes(',') && !/:\s/.test(first)) return 'csv';
  return 'yaml';
}

/** Records of a node file: one node, a list of nodes, or Ironic's `{"nodes": [...]}`; or CSV rows. */
export function parseNodeFile(text: string, format: InputFormat): InputRow[] {
  if (format === 'csv') return csvToRows(text);
  let doc: unknown;
  try {
    doc = format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new CliError(`cannot parse ${format.toUpperCase()}: ${(e as Error).message.split('\n')[0]}`);
  }
  const list =
    Array.isArray(doc) ? doc
    : doc && typeof doc === 'object' && Array.isArray((doc as { nodes?: unknown }).nodes) ? (doc as { nodes: unknown[] }).nodes
    : doc === null || doc === undefined ? []
    : [doc];
  return list.map((item, i) =>
    item && typeof item === 'object' && !Array.isArray(item)
      ? { row: i + 1, body: withDefaults(item as NodeBody) }
      : { row: i + 1, error: 'not an object' },
  );
}

function withDefaults(body: NodeBody): NodeBody {
  return body.driver === undefined || body.driver === null || body.driver === '' ? { ...body, driver: DEFAULT_DRIVER } : body;
}

/**
 * CSV columns (header row required; empty cells are left out):
 *   name, uuid, driver, console_interface (or interface), conductor_group (or group), description,
 *   ipmi_address (or address), ipmi_port (port), ipmi_username (username), ipmi_password (password),
 *   ipmi_priv_level (priv_level), ipmi_cipher_suite (cipher_suite), ipmi_terminal_port (terminal_port),
 *   driver_info.<key>, extra.<key>, properties.<key>
 */
const CSV_TOP: Record<string, string> = {
  name: 'name',
  uuid: 'uuid',
  driver: 'driver',
  console_interface: 'console_interface',
  interface: 'console_interface',
  conductor_group: 'conductor_group',
  group: 'conductor_group',
  description: 'description',
};
const CSV_DRIVER_INFO: Record<string, string> = {
  address: 'ipmi_address',
  port: 'ipmi_port',
  username: 'ipmi_username',
  password: 'ipmi_password',
  priv_level: 'ipmi_priv_level',
  cipher_suite: 'ipmi_cipher_suite',
  terminal_port: 'ipmi_terminal_port',
};

type CsvTarget = { top: string } | { nested: 'driver_info' | 'extra' | 'properties'; key: string };

export function csvColumn(header: string): CsvTarget | undefined {
  const h = header.trim();
  const lower = h.toLowerCase();
  const top = ownEntry(CSV_TOP, lower);
  if (top) return { top };
  const info = ownEntry(CSV_DRIVER_INFO, lower);
  if (info) return { nested: 'driver_info', key: info };
  if (/^ipmi_[a-z_]+$/.test(lower)) return { nested: 'driver_info', key: lower };
  const m = /^(driver_info|extra|properties)\.(.+)$/.exec(h);
  if (m && m[2]) return { nested: m[1] as 'driver_info' | 'extra' | 'properties', key: m[2] };
  return undefined;
}

export function csvToRows(text: string): InputRow[] {
  const records = parseCsv(text);
  if (records.length === 0) return [];
  const header = records[0];
  const targets = header.map((h) => csvColumn(h));
  const unknown = header.filter((_, i) => !targets[i]);
  if (unknown.length > 0)
    throw new CliError(`unknown CSV column${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => JSON.stringify(u)).join(', ')}: see \`solgate nodes import --help\``);
  const rows: InputRow[] = [];
  for (let r = 1; r < records.length; r++) {
    const rec = records[r];
    if (rec.length === 1 && rec[0].trim() === '') continue; // blank line
    const row = r;
    if (rec.length !== header.length) {
      rows.push({ row, error: `has ${rec.length} fields, the header has ${header.length}` });
      continue;
    }
    const body: NodeBody = {};
    rec.forEach((cell, i) => {
      const v = cell.trim();
      if (v === '') return;
      const t = targets[i]!;
      if ('top' in t) body[t.top] = v;
      else {
        const obj = (body[t.nested] ??= {}) as Record<string, unknown>;
        obj[t.key] = t.nested === 'driver_info' ? numeric(t.key, v) : v;
      }
    });
    rows.push({ row, body: withDefaults(body) });
  }
  return rows;
}

/** RFC 4180 CSV: quoted fields may hold commas, quotes ("") and line breaks; CRLF or LF. */
export function parseCsv(text: string): string[][] {
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const records: string[][] = [];
  let field = '';
  let rec: string[] = [];
  let i = 0;
  let quoted = false;
  let atFieldStart = true;
  while (i < s.length) {
    const c = s[i];
    if (quoted) {
      if (c === '"') {
        if (s[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += c;
      i++;
      continue;
    }
    if (c === '"' && atFieldStart) {
      quoted = true;
      atFieldStart = false;
      i++;
      continue;
    }
    if (c === ',') {
      rec.push(field);
      field = '';
      atFieldStart = true;
      i++;
      continue;
    }
    if (c === '\n' || c === '\r') {
      rec.push(field);
      records.push(rec);
      rec = [];
      field = '';
      atFieldStart = true;
      i += c === '\r' && s[i + 1] === '\n' ? 2 : 1;
      continue;
    }
    field += c;
    atFieldStart = false;
    i++;
  }
  if (quoted) throw new CliError('cannot parse CSV: a quoted field is not closed');
  if (field !== '' || rec.length > 0) {
    rec.push(field);
    records.push(rec);
  }
  return records;
}
