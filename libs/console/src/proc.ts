import { readdirSync, readFileSync } from 'node:fs';

/** Alive and not a zombie (PID 1 in some containers does not reap orphans). */
export function isAlive(pid: number): boolean {
  const s = statFields(pid);
  return !!s && s.state !== 'Z' && s.state !== 'X';
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

function statFields(pid: number): { state: string; ppid: number; pgid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0], ppid: Number(rest[1]), pgid: Number(rest[2]) };
  } catch {
    return undefined;
  }
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
