import { afterEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '#libs/common';
import { childrenOf, isAlive, ProcessLauncher, signalGroup, type LaunchedProcess } from '#libs/console';
import { waitFor } from '../../support/wait.js';

/**
 * The console launcher (libs/console/assets/launcher.pl, driven by ProcessLauncher): what every
 * console process relies on — its own process group, the parent-death signal set by the launcher
 * itself (no `setpriv` exec per console), nothing of the conductor's environment, the secret as an
 * unlinked fd 3, every stderr line before the exit, and nothing left behind when the conductor or
 * the launcher is killed outright.
 */
interface Ran {
  lines: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  spawned: Promise<number>;
}

function run(p: LaunchedProcess): Ran {
  const lines: string[] = [];
  p.on('line', (l: string) => lines.push(l));
  return {
    lines,
    exit: new Promise((r) => p.once('exit', r)),
    spawned: new Promise((r) => p.once('spawned', () => r(p.pid!))),
  };
}

const statusOf = (pid: number, field: string) => new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
const pgrpOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[2]);

describe('process launcher', () => {
  const launchers: ProcessLauncher[] = [];
  const launcher = () => {
    const l = new ProcessLauncher();
    launchers.push(l);
    return l;
  };
  afterEach(() => {
    for (const l of launchers.splice(0)) l.close();
  });

  it('starts a command in its own process group with the parent-death signal SIGKILL, and reports its stderr lines before its exit', async () => {
    const r = run(launcher().spawn('sh', ['-c', 'for i in $(seq 1 200); do echo "line $i" >&2; done; printf "no newline" >&2; sleep 0.3; exit 3']));
    const pid = await r.spawned;
    expect(pgrpOf(pid)).toBe(pid);
    // (/proc does not show the parent-death signal: the kill tests below prove it)
    expect(statusOf(pid, 'SigIgn')).toBe('0000000000000000'); // the launcher’s ignored SIGPIPE is not inherited
    expect(await r.exit).toEqual({ code: 3, signal: null });
    expect(r.lines).toHaveLength(201);
    expect(r.lines[0]).toBe('line 1');
    expect(r.lines.at(-1)).toBe('no newline');
  });

  it('reports a signal by its name and a command that cannot run with the reason and status 127', async () => {
    const l = launcher();
    const killed = run(l.spawn('sleep', ['30']));
    process.kill(await killed.spawned, 'SIGTERM');
    expect(await killed.exit).toEqual({ code: null, signal: 'SIGTERM' });
    const missing = run(l.spawn('/nonexistent/solgate-no-such-binary', []));
    expect(await missing.exit).toEqual({ code: 127, signal: null });
    expect(missing.lines.join('\n')).toMatch(/launcher: cannot run \/nonexistent\/solgate-no-such-binary: No such file/);
  });

  it('a SIGTERM to the group as soon as the pid is known always ends the process, even between the launcher’s fork and exec', async () => {
    // the group exists before the pid is reported, and the child blocks the launcher's own signal
    // handlers until its dispositions are reset: a stop is never lost to the launcher's handler
    const l = launcher();
    const exits = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const r = run(l.spawn('sleep', ['30']));
        const pid = await r.spawned;
        const sent = signalGroup(pid, 'SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const exit = await Promise.race([r.exit, new Promise((resolve) => (timer = setTimeout(() => resolve('still running after 5 s'), 5000)))]);
        clearTimeout(timer);
        if (exit === 'still running after 5 s') signalGroup(pid, 'SIGKILL');
        return { sent, exit };
      }),
    );
    expect(exits).toEqual(Array.from({ length: 100 }, () => ({ sent: true, exit: { code: null, signal: 'SIGTERM' } })));
  });

  it('passes PATH and nothing else, no descriptor but 0-3, and the secret as an unlinked file on fd 3', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'solgate-launcher-'));
    try {
      const secretPath = join(dir, 'node.pw-abc');
      const secret = 'pass word\twith\\odd bytes \0';
      const r = run(launcher().spawn('sleep', ['30'], { path: secretPath, content: secret }));
      const pid = await r.spawned;
      await waitFor(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep'), { what: 'the exec' });
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
      expect(env.map((kv) => kv.split('=')[0])).toEqual(['PATH']);
      expect(readdirSync(`/proc/${pid}/fd`).map(Number).sort()).toEqual([0, 1, 2, 3]);
      expect(readlinkSync(`/proc/${pid}/fd/0`)).toBe('/dev/null');
      expect(readlinkSync(`/proc/${pid}/fd/3`)).toBe(`${secretPath} (deleted)`);
      expect(readFileSync(`/proc/${pid}/fd/3`, 'utf8')).toBe(secret);
      expect(statSync(`/proc/${pid}/fd/3`).mode & 0o777).toBe(0o600);
      expect(readdirSync(dir)).toEqual([]); // never left on disk
      process.kill(pid, 'SIGKILL');
      expect(await r.exit).toEqual({ code: null, signal: 'SIGKILL' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('when the launcher is killed outright, its children die (parent-death signal) and the rest of their groups is killed', async () => {
    const l = launcher();
    const r = run(l.spawn('sh', ['-c', 'sleep 300 & sleep 300; wait']));
    const pid = await r.spawned;
    await waitFor(() => childrenOf(pid).length === 2, { what: 'the two sleeps' });
    const group = [pid, ...childrenOf(pid)];
    const launcherPid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
    expect(readFileSync(`/proc/${launcherPid}/cmdline`, 'utf8')).toContain('launcher.pl');
    process.kill(launcherPid, 'SIGKILL');
    expect(await r.exit).toEqual({ code: null, signal: 'SIGKILL' });
    await waitFor(() => group.every((p) => !isAlive(p)), { what: 'the console group to die' });
  });

  // a stand-in conductor: the built ProcessLauncher in a process of its own
  const lib = join(packageRoot(), 'dist', 'libs', 'console', 'src', 'index.js');
  const conductorScript = `
      const { ProcessLauncher } = await import(${JSON.stringify(lib)});
      const l = new ProcessLauncher();
      const p = l.spawn('sh', ['-c', 'sleep 300 & sleep 300; wait']);
      p.on('spawned', () => console.log(p.pid));
      setInterval(() => {}, 1000);`;

  it('when the conductor and the launcher are both killed outright, the console process dies all the same (its parent-death signal, set by the launcher)', async () => {
    const conductor = spawn(process.execPath, ['--input-type=module', '-e', conductorScript], { stdio: ['ignore', 'pipe', 'inherit'] });
    let group: number | undefined;
    try {
      const pid = await new Promise<number>((resolve) => conductor.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
      group = pid;
      const launcherPid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      process.kill(launcherPid, 'SIGSTOP'); // it cannot clean up: only the kernel can
      conductor.kill('SIGKILL');
      process.kill(launcherPid, 'SIGKILL');
      await waitFor(() => !isAlive(pid), { what: 'the console process to die with its launcher' });
    } finally {
      conductor.kill('SIGKILL');
      if (group) signalGroup(group, 'SIGKILL'); // its own children: the conductor’s job, gone here
    }
  });

  it('when the conductor is killed outright (kill -9), the launcher kills every console group and exits', async () => {
    const conductor = spawn(process.execPath, ['--input-type=module', '-e', conductorScript], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const pid = await new Promise<number>((resolve) => conductor.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
      await waitFor(() => childrenOf(pid).length === 2, { what: 'the two sleeps' });
      const launcherPid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      const all = [launcherPid, pid, ...childrenOf(pid)];
      conductor.kill('SIGKILL');
      await waitFor(() => all.every((p) => !isAlive(p)), { what: 'the launcher and the console group to die' });
    } finally {
      conductor.kill('SIGKILL');
    }
  });
});
