import Table from 'cli-table3';
import { stringify as toYaml } from 'yaml';

/**
 * Output in kubectl's manners: `-o table|wide|json|yaml`, `--no-headers`; data on stdout only
 * (chatter, progress and warnings go to stderr); colour only on a TTY and never with NO_COLOR.
 */
export const OUTPUT_FORMATS = ['table', 'wide', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface Column<T> {
  header: string;
  value: (row: T) => string | number | boolean | null | undefined;
  /** Only with `-o wide`. */
  wide?: boolean;
  /** Colour a cell (only called when colour is on). */
  color?: (text: string, row: T) => string;
}

export interface RenderOptions {
  wide: boolean;
  headers: boolean;
  color: boolean;
}

const NO_BORDER = {
  top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
  bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
  left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '',
  middle: '   ',
};

export function cellText(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined || v === '') return '<none>';
  return String(v);
}

/** A borderless, kubectl-like table (cli-table3), lines right-trimmed. Ends with a newline unless empty. */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[], opts: RenderOptions): string {
  const cols = columns.filter((c) => opts.wide || !c.wide);
  const table = new Table({
    chars: NO_BORDER,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
    ...(opts.headers ? { head: cols.map((c) => c.header) } : {}),
  });
  for (const r of rows) {
    table.push(
      cols.map((c) => {
        const text = cellText(c.value(r));
        return opts.color && c.color ? c.color(text, r) : text;
      }),
    );
  }
  if (rows.length === 0 && !opts.headers) return '';
  const out = table
    .toString()
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''))
    .filter((l, i, all) => l !== '' || i < all.length - 1)
    .join('\n');
  return out === '' ? '' : out + '\n';
}

/** JSON (2-space indented) or YAML. */
export function renderStructured(data: unknown, format: 'json' | 'yaml'): string {
  if (format === 'json') return JSON.stringify(data, null, 2) + '\n';
  return toYaml(data, { lineWidth: 0 });
}

// --- colour ---------------------------------------------------------------------------------
const SGR = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 } as const;
export const paint = (code: keyof typeof SGR, text: string) => `\x1b[${SGR[code]}m${text}\x1b[0m`;

/** Colour a state word: green when healthy, yellow when in motion, red when broken. */
export function stateColor(text: string): string {
  if (/^(running|alive|ok|enabled|serving)$/i.test(text)) return paint('green', text);
  if (/^(error|dead|fail|missing)$/i.test(text) || /^no live conductor/.test(text)) return paint('red', text);
  if (/^(starting|restarting|draining|drained|leaving|warn|pending)$/i.test(text)) return paint('yellow', text);
  return text;
}

/** Whether to colour a stream: a TTY, NO_COLOR unset or empty, and not turned off with --no-color. */
export function colorEnabled(stream: { isTTY?: boolean }, env: Record<string, string | undefined>, flag = true): boolean {
  return flag && !!stream.isTTY && !(env.NO_COLOR !== undefined && env.NO_COLOR !== '') && env.TERM !== 'dumb';
}

/** "3s", "2m5s", "1h2m", "4d3h" — the coarse ages kubectl prints. */
export function formatAge(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '<none>';
  if (ms < 0) ms = 0;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${m % 60 ? `${m % 60}m` : ''}`;
  const d = Math.floor(h / 24);
  return `${d}d${h % 24 ? `${h % 24}h` : ''}`;
}

/** Writes command results in the chosen format. */
export class Printer {
  constructor(
    readonly format: OutputFormat,
    readonly headers: boolean,
    readonly color: boolean,
    private readonly out: { write(s: string): unknown } = process.stdout,
  ) {}

  get structured(): boolean {
    return this.format === 'json' || this.format === 'yaml';
  }

  /** A list: a table, or an array of `toData(row)` in JSON/YAML. */
  list<T>(rows: readonly T[], columns: readonly Column<T>[], toData: (row: T) => unknown): void {
    if (this.structured) this.out.write(renderStructured(rows.map(toData), this.format as 'json' | 'yaml'));
    else this.out.write(renderTable(rows, columns, { wide: this.format === 'wide', headers: this.headers, color: this.color }));
  }

  /** One item: a one-row table, or the object itself (not a list) in JSON/YAML. */
  item<T>(row: T, columns: readonly Column<T>[], toData: (row: T) => unknown): void {
    if (this.structured) this.out.write(renderStructured(toData(row), this.format as 'json' | 'yaml'));
    else this.list([row], columns, toData);
  }

  /** One object: `FIELD  VALUE` lines, or the object itself in JSON/YAML. */
  one(fields: [string, unknown][], data: unknown): void {
    if (this.structured) {
      this.out.write(renderStructured(data, this.format as 'json' | 'yaml'));
      return;
    }
    const rows = fields.map(([k, v]) => [k, typeof v === 'object' && v !== null ? JSON.stringify(v) : v] as [string, unknown]);
    const cols: Column<[string, unknown]>[] = [
      { header: 'FIELD', value: (r) => r[0] },
      { header: 'VALUE', value: (r) => r[1] as string, color: (t) => stateColor(t) },
    ];
    this.out.write(renderTable(rows, cols, { wide: true, headers: false, color: this.color }));
  }

  /** Raw structured data (JSON/YAML) or a line of text in table modes. */
  data(data: unknown, text: string): void {
    if (this.structured) this.out.write(renderStructured(data, this.format as 'json' | 'yaml'));
    else this.out.write(text.endsWith('\n') || text === '' ? text : text + '\n');
  }
}
