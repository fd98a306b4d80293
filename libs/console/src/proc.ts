import { readdirSync, readFileSync } from 'node:fs';

/** Alive and not a zombie (PID 1 in some containers does not reap orphans). */
export function isAlive(pid: number): boolean {
  const s = statFields(pid);
  return !!s && isLiveState(s.state);
}

/** Whether a /proc state letter is a running (not zombie, not dead) process. */
export const isLiveState = (state: string): boolean => state !== 'Z' && state !== 'X';

/**
 * Send `signal` to process group `pgid` — a console's whole group: socat, its per-client children
 * and their ipmitool — or, with `isGroup` false, to that one process. Returns false when there was
 * nothing to signal (already gone). The one place that kills groups (the standalone launcher.pl
 * asset keeps its own line: it imports nothing from the built tree).
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals, isGroup = true): boolean {
  try {
    process.kill(isGroup ? -pgid : pgid, signal);
    return true;
  } catch {
    return false;
  }
}

export function processGroupOf(pid: number): number | undefined {
  return statFields(pid)?.pgid;
}

export function readCmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** Direct children of a process (Linux /proc/<pid>/task/<pid>/children). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export interface ProcStat {
  /** R, S, D, T, Z (zombie), X (dead), ... */
  state: string;
  ppid: number;
  pgid: number;
}

/**
 * The fields of /proc/<pid>/stat we use, or undefined when the process is gone. The command name
 * (field 2) may contain spaces and parentheses, so fields are counted from its last ')'.
 */
export function statFields(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The pure part of statFields: one /proc/<pid>/stat line. */
export function parseProcStat(stat: string): ProcStat {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], ppid: Number(rest[1]), pgid: Number(rest[2]) };
}

/** Processes whose command line has an argument starting with `prefix` (a /proc scan: tens of ms on a busy host). */
export function processesWithArg(prefix: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries.filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => readCmdline(pid).some((a) => a.startsWith(prefix)));
}
