import { isUuid } from '#libs/common';

/**
 * A record in Redis that cannot be read as what its key says it is: a node hash whose `spec` is not
 * JSON or not a node, a key of the wrong Redis type, a member of an index that is not a node uuid.
 * Readers skip such a record (it never affects any other node) and report it here; `problem` says
 * what is wrong without quoting the record (it may hold a BMC password).
 */
export interface RecordProblem {
  key: string;
  /** The node it belongs to, when the key names one. */
  uuid: string | null;
  problem: string;
}

export interface SeenProblem extends RecordProblem {
  firstSeenMs: number;
  lastSeenMs: number;
  count: number;
}

/** How long a problem counts as current after it was last seen (metrics gauge). */
const CURRENT_MS = 10 * 60_000;
/** Remember at most this many distinct keys (a flood of junk must not grow memory without bound). */
const MAX_KEYS = 1000;

/**
 * The problems this process met while reading records: each distinct key is reported to `onFirst`
 * (the conductor logs it) the first time and then at most every `relogMs`; `total` counts every bad
 * read (a Prometheus counter), `current()` the distinct keys seen lately (a gauge, `doctor`).
 */
export class RecordProblems {
  private readonly seen = new Map<string, SeenProblem>();
  total = 0;
  onReport?: (p: RecordProblem, repeat: boolean) => void;

  constructor(private readonly relogMs = CURRENT_MS) {}

  report(p: RecordProblem, nowMs = Date.now()): void {
    this.total++;
    const s = this.seen.get(p.key);
    if (s) {
      const relog = nowMs - s.lastSeenMs >= this.relogMs;
      Object.assign(s, { problem: p.problem, lastSeenMs: nowMs, count: s.count + 1 });
      if (relog) this.onReport?.(p, true);
      return;
    }
    if (this.seen.size >= MAX_KEYS) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(p.key, { ...p, firstSeenMs: nowMs, lastSeenMs: nowMs, count: 1 });
    this.onReport?.(p, false);
  }

  /** Distinct records seen bad within the last ten minutes. */
  current(nowMs = Date.now()): SeenProblem[] {
    return [...this.seen.values()].filter((s) => nowMs - s.lastSeenMs < CURRENT_MS);
  }
}

/** The process-wide registry the repositories report to unless given their own. */
export const recordProblems = new RecordProblems();

/** A member of a node index (sorted set, set) must be a canonical lower-case node uuid. */
export function isNodeUuid(member: string): boolean {
  return isUuid(member) && member === member.toLowerCase();
}

/** Redis refused the command because the key holds another type (WRONGTYPE). */
export function isWrongType(e: unknown): boolean {
  return e instanceof Error && e.message.startsWith('WRONGTYPE');
}
