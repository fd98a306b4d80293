/**
 * `solgate console attach`'s escapes, as ipmitool users know them, recognised only right after a
 * newline the user typed (or at the very start): `~.` disconnect, `~w` take the write lock, `~W`
 * force it, `~r` release it, `~#` who is attached, `~B` serial break, `~?` help, `~~` one `~`.
 * Any other character after `~` is sent together with the `~`. Handled in the CLI (not in-band on
 * the node's stream), so `~.` ends the command even when the gateway no longer answers. Pure.
 */
export type AttachAction =
  | { type: 'data'; data: Buffer }
  | { type: 'disconnect' }
  | { type: 'take'; force: boolean }
  | { type: 'release' }
  | { type: 'who' }
  | { type: 'break' }
  | { type: 'help' };

const COMMANDS: Record<string, AttachAction> = {
  '.': { type: 'disconnect' },
  w: { type: 'take', force: false },
  W: { type: 'take', force: true },
  r: { type: 'release' },
  '#': { type: 'who' },
  B: { type: 'break' },
  '?': { type: 'help' },
};

export function attachHelp(c: string): string {
  return [
    `${c}?`,
    'Supported escape sequences:',
    `  ${c}.  - disconnect`,
    `  ${c}w  - take the write lock (when it is free)`,
    `  ${c}W  - take the write lock from whoever holds it`,
    `  ${c}r  - give the write lock up`,
    `  ${c}#  - who is attached`,
    `  ${c}B  - send a serial break`,
    `  ${c}?  - this message`,
    `  ${c}${c}  - send the escape character by typing it twice`,
    '(Escapes are recognised only right after a newline.)',
    '',
  ].join('\r\n');
}

export class AttachEscapeParser {
  private atLineStart = true;
  private pending = false;
  private readonly esc: number | undefined;

  /** `escapeChar` undefined: escapes off (every byte goes to the node). */
  constructor(escapeChar: string | undefined) {
    if (escapeChar !== undefined && Buffer.byteLength(escapeChar) !== 1) throw new Error('the escape character must be a single ASCII character');
    this.esc = escapeChar === undefined ? undefined : escapeChar.charCodeAt(0);
  }

  feed(input: Buffer): AttachAction[] {
    if (this.esc === undefined) return input.length ? [{ type: 'data', data: input }] : [];
    const actions: AttachAction[] = [];
    let out: number[] = [];
    const flush = () => {
      if (out.length) actions.push({ type: 'data', data: Buffer.from(out) });
      out = [];
    };
    for (const ch of input) {
      if (this.pending) {
        this.pending = false;
        const cmd = COMMANDS[String.fromCharCode(ch)];
        if (cmd) {
          flush();
          actions.push(cmd);
          if (cmd.type === 'disconnect') return actions; // nothing typed after ~. is sent
          continue; // still at a line start: `~w~#` works
        }
        if (ch !== this.esc) out.push(this.esc);
        out.push(ch);
      } else if (this.atLineStart && ch === this.esc) {
        this.pending = true;
        continue;
      } else {
        out.push(ch);
      }
      this.atLineStart = ch === 0x0d || ch === 0x0a;
    }
    flush();
    return actions;
  }
}

/** `--escape-char`: one ASCII character, or `none`. */
export function parseEscapeChar(v: string): string | undefined {
  if (v === 'none') return undefined;
  if (v.length !== 1 || v.charCodeAt(0) > 0x7e || v.charCodeAt(0) < 0x20) throw new Error('must be one printable ASCII character, or "none"');
  return v;
}
