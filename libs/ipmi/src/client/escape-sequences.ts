/**
 * ipmitool-style console escapes, recognised only at the start of a line (after CR or LF, or at the
 * very beginning): `~.` ends the session, `~B` sends a break, `~?` prints help, `~~` sends one `~`.
 * Any other character after `~` is sent together with the `~`. Pure: feed input, get actions.
 */
export type EscapeAction = { type: 'data'; data: Buffer } | { type: 'terminate' } | { type: 'break' } | { type: 'help' };

export const ESCAPE_HELP = (c: string) =>
  [
    `${c}?`,
    'Supported escape sequences:',
    `  ${c}.  - terminate connection`,
    `  ${c}B  - send break`,
    `  ${c}?  - this message`,
    `  ${c}${c}  - send the escape character by typing it twice`,
    '(Note that escapes are only recognized immediately after newline.)',
    '',
  ].join('\r\n');

export class EscapeSequenceParser {
  private atLineStart = true;
  private pending = false;
  private readonly esc: number;

  constructor(escapeChar = '~') {
    if (escapeChar.length !== 1) throw new Error('the escape character must be one character');
    this.esc = escapeChar.charCodeAt(0);
  }

  feed(input: Buffer): EscapeAction[] {
    const actions: EscapeAction[] = [];
    let out: number[] = [];
    const flush = () => {
      if (out.length) actions.push({ type: 'data', data: Buffer.from(out) });
      out = [];
    };
    for (const ch of input) {
      if (this.pending) {
        this.pending = false;
        if (ch === 0x2e /* . */) {
          flush();
          actions.push({ type: 'terminate' });
          return actions; // nothing after ~. is sent
        }
        if (ch === 0x42 /* B */) {
          flush();
          actions.push({ type: 'break' });
          continue;
        }
        if (ch === 0x3f /* ? */) {
          flush();
          actions.push({ type: 'help' });
          continue;
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
