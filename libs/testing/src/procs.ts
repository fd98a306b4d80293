import { readFileSync, readdirSync } from 'node:fs';

/** Alive and not a zombie (PID 1 here does not reap orphans): the conductor's own check. */
export { isAlive } from '#libs/console';

export interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  argv: string[];
}

/** Every live (non-zombie) process with its argv. */
export function listProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] === 'Z' || rest[0] === 'X') continue;
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean);
      out.push({ pid: Number(d), ppid: Number(rest[1]), pgid: Number(rest[2]), argv });
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Processes whose argv contains every given fragment (as a substring of the joined command line). */
export function findProcesses(...fragments: string[]): ProcInfo[] {
  return listProcesses().filter((p) => {
    const line = p.argv.join(' ');
    return fragments.every((f) => line.includes(f));
  });
}
