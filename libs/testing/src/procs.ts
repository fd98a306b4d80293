import { readdirSync } from 'node:fs';
import { isLiveState, readCmdline, statFields } from '#libs/console';

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
    const pid = Number(d);
    const stat = statFields(pid);
    if (!stat || !isLiveState(stat.state)) continue; // gone, or a zombie
    out.push({ pid, ppid: stat.ppid, pgid: stat.pgid, argv: readCmdline(pid) });
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
