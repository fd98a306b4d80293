/**
 * ipmitool interprets its own escapes (`~.`, `~B`, ...) in what it reads on stdin, right after a CR
 * or LF. The broker has already handled its viewers' escapes; what it forwards must reach the node
 * byte for byte. This encoder mirrors ipmitool's input state machine (processSolUserInput in
 * lanplus/ipmi_sol.c: `last_was_cr` starts true) and doubles an escape character wherever ipmitool
 * would take it for the start of an escape (`~~` is its literal `~`), so ipmitool passes every byte
 * through unchanged. It also tells when ipmitool would accept `~B` (a serial break): only at a line
 * start. Pure.
 */
export class IpmitoolEscapeEncoder {
  private lastWasCr = true;
  private readonly esc: number;

  constructor(escapeChar = '~') {
    this.esc = escapeChar.charCodeAt(0);
  }

  /** Whether ipmitool would read an escape character sent now as the start of an escape. */
  get atLineStart(): boolean {
    return this.lastWasCr;
  }

  encode(data: Buffer): Buffer {
    let extra = 0;
    let state = this.lastWasCr;
    for (const ch of data) {
      if (state && ch === this.esc) extra++;
      state = ch === 0x0d || ch === 0x0a;
    }
    if (extra === 0) {
      this.lastWasCr = state;
      return data;
    }
    const out = Buffer.allocUnsafe(data.length + extra);
    let j = 0;
    for (const ch of data) {
      if (this.lastWasCr && ch === this.esc) out[j++] = ch;
      out[j++] = ch;
      this.lastWasCr = ch === 0x0d || ch === 0x0a;
    }
    return out;
  }

  /** The bytes that make ipmitool send a break (only valid when atLineStart; the state is unchanged). */
  breakSequence(): Buffer {
    return Buffer.from([this.esc, 0x42]);
  }
}
