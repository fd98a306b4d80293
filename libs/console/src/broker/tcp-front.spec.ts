import { afterEach, describe, expect, it } from '@jest/globals';
import { lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '#libs/logging';
import type { ConsoleBrokerHandle } from './broker-api.js';
import { TcpFront } from './tcp-front.js';

/** The front's socket file: listen() takes the path over from a stale file, never through a link. */
describe('TcpFront.listen', () => {
  const dirs: string[] = [];
  const fronts: TcpFront[] = [];
  afterEach(async () => {
    for (const f of fronts.splice(0)) await f.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const front = (socketPath: string) => {
    const f = new TcpFront({ uuid: 'n1', socketPath, broker: {} as ConsoleBrokerHandle, escapeChar: '~', idleTimeoutMs: 0, log: createLogger('silent') });
    fronts.push(f);
    return f;
  };
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'solgate-front-'));
    dirs.push(d);
    return d;
  };

  it('listens on a fresh path, 0600, and knows it is intact', async () => {
    const path = join(dir(), 'n1.sock');
    const f = front(path);
    await f.listen();
    expect(lstatSync(path).isSocket()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await f.intact()).toBe(true);
  });

  it('replaces a stale file left at the path (an earlier run’s socket)', async () => {
    const path = join(dir(), 'n1.sock');
    writeFileSync(path, 'stale');
    await front(path).listen();
    expect(lstatSync(path).isSocket()).toBe(true);
  });

  it('replaces a symbolic link planted at the path without touching what it points to', async () => {
    const d = dir();
    const victim = join(d, 'victim');
    writeFileSync(victim, 'precious');
    const path = join(d, 'n1.sock');
    symlinkSync(victim, path);
    await front(path).listen();
    expect(lstatSync(path).isSocket()).toBe(true);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
  });
});
