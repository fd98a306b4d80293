/**
 * The escapes a TCP viewer types, as ipmitool users know them, plus conserver's write-lock manners.
 * Recognised only at the start of a line (after CR or LF, or at the very beginning):
 *   ~?  help      ~.  disconnect     ~B  serial break     ~#  who is attached
 *   ~w  take the write lock when free     ~W  take it from its holder     ~r  give it up
 *   ~~  one literal ~ (any other character after ~ is sent together with the ~, as ipmitool does)
 * The escape character is configurable (SOLGATE_ESCAPE_CHAR); null turns escapes off, for clients
 * that send binary. Pure: feed bytes, get actions.
 */
export type BrokerEscape = 'help' | 'disconnect' | 'break' | 'who' | 'take' | 'force' | 'release';
export type EscapeAction = { type: 'data'; data: Buffer } | { type: BrokerEscape };

const ESCAPES: Record<number, BrokerEscape> = {
  0x3f: 'help', // ?
  0x2e: 'disconnect', // .
  0x42: 'break', // B
  0x23: 'who', // #
  0x77: 'take', // w
  0x57: 'force', // W
  0x72: 'release', // r
};

export function escapeHelp(c: string): string[] {
  return [
    `${c}?  this help`,
    `${c}.  disconnect`,
    `${c}w  take the write lock (when nobody holds it)`,
    `${c}W  take the write lock from whoever holds it`,
    `${c}r  give the write lock up`,
    `${c}#  who is attached`,
    `${c}B  send a serial break`,
    `${c}${c}  send the escape character itself`,
    'Escapes are recognised only at the start of a line.',
  ];
}

/** SOLGATE_ESCAPE_CHAR: one printable ASCII character, or "none". */
export function parseEscapeChar(value: string): string | null {
  if (value === 'none') return null;
  if (value.length !== 1 || value.charCodeAt(0) < 0x21 || value.charCodeAt(0) > 0x7e) throw new Error('the escape character must be one printable ASCII character or "none"');
  return value;
}

export class BrokerEscapeParser {
  private atLineStart = true;
  private pending = false;
  private readonly esc: number | null;

  constructor(escapeChar: string | null = '~') {
    this.esc = escapeChar === null ? null : escapeChar.charCodeAt(0);
  }

  feed(input: Buffer): EscapeAction[] {
    const esc = this.esc;
    if (esc === null) return input.length ? [{ type: 'data', data: input }] : [];
    const actions: EscapeAction[] = [];
    let start = 0; // start of the pending run of plain bytes in `input`
    let extra: number[] | null = null; // bytes to emit before input[start..] (a held-back escape char)
    const flush = (end: number) => {
      if (extra || end > start) {
        const parts = extra ? [Buffer.from(extra), input.subarray(start, end)] : [input.subarray(start, end)];
        const data = parts.length === 1 ? Buffer.from(parts[0]!) : Buffer.concat(parts);
        if (data.length) actions.push({ type: 'data', data });
      }
      extra = null;
    };
    for (let i = 0; i < input.length; i++) {
      const ch = input[i]!;
      if (this.pending) {
        this.pending = false;
        const escape = ESCAPES[ch];
        if (escape) {
          actions.push({ type: escape });
          start = i + 1;
          if (escape === 'disconnect') return actions; // nothing after ~. counts
          continue; // the line-start state is unchanged, so escapes can follow one another
        }
        // `~~` → one `~`; `~x` → `~x`
        extra = ch === esc ? [esc] : [esc, ch];
        start = i + 1;
      } else if (this.atLineStart && ch === esc) {
        flush(i);
        this.pending = true;
        start = i + 1;
        continue;
      }
      this.atLineStart = ch === 0x0d || ch === 0x0a;
    }
    flush(input.length);
    return actions;
  }
}
