import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { sleep } from '#libs/common';
import { childrenOf, isAlive, parseProcStat, processGroupOf, readCmdline, signalGroup, statFields } from './proc.js';

describe('/proc readers', () => {
  it('parses a stat line whose command name holds spaces and parentheses', () => {
    expect(parseProcStat('4242 (my (odd) name) S 17 4242 4242 0 -1 4194560 ...')).toEqual({ state: 'S', ppid: 17, pgid: 4242 });
    expect(parseProcStat('7 (x) Z 1 7 7 0')).toEqual({ state: 'Z', ppid: 1, pgid: 7 });
  });

  it('reads this process and a child of it, and tells a reaped child is gone', async () => {
    expect(statFields(process.pid)).toMatchObject({ ppid: process.ppid });
    expect(isAlive(process.pid)).toBe(true);
    const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    const pid = child.pid!;
    expect(readCmdline(pid)).toEqual(['sleep', '30']);
    expect(processGroupOf(pid)).toBe(pid); // detached: its own group
    expect(childrenOf(process.pid)).toContain(pid);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    expect(isAlive(pid)).toBe(false);
    expect(statFields(pid)).toBeUndefined();
    expect(readCmdline(pid)).toEqual([]);
  });

  it('signalGroup kills a whole group (a child and its own child), and says false when there is nothing to signal', async () => {
    const child = spawn('sh', ['-c', 'sleep 30 & wait'], { detached: true, stdio: 'ignore' });
    const pgid = child.pid!;
    let grandchild: number | undefined;
    for (let i = 0; i < 200 && grandchild === undefined; i++, await sleep(10)) grandchild = childrenOf(pgid)[0];
    expect(grandchild).toBeDefined();
    expect(processGroupOf(grandchild!)).toBe(pgid);
    const exited = new Promise((r) => child.once('exit', r));
    expect(signalGroup(pgid, 'SIGKILL')).toBe(true);
    await exited;
    for (let i = 0; i < 200 && isAlive(grandchild!); i++) await sleep(10); // an orphan: PID 1 may reap it late
    expect(isAlive(grandchild!)).toBe(false);
    expect(signalGroup(2 ** 22 + 1, 'SIGTERM')).toBe(false); // beyond pid_max: no such group
    expect(signalGroup(2 ** 22 + 1, 'SIGTERM', false)).toBe(false);
  });
});
