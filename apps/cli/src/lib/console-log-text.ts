/**
 * `solgate console log` without --raw: console output made safe to print on a terminal or grep —
 * escape sequences (colours, cursor moves, titles) and other control characters removed, CR LF and
 * lone CR turned into LF. Pure.
 */
export function plainConsoleText(data: Buffer): string {
  return (
    data
      .toString('utf8')
      // CSI … final byte, OSC … BEL/ST, and other two-byte ESC sequences
      .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '')
      .replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g, '')
      .replace(/\x1b[@-Z\\-_]/g, '')
      .replace(/\r\n/g, '\n')
      .replace(/\r/g, '\n')
      // remaining C0 controls (keep TAB and LF) and DEL
      .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '')
  );
}

/** `--since` durations: 90, 90s, 15m, 2h, 1d (seconds when no unit). */
export function parseDurationMs(v: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(v.trim());
  if (!m) throw new Error(`invalid duration ${JSON.stringify(v)}: a number with an optional unit s, m, h or d (e.g. 15m)`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * unit * 1000);
}
