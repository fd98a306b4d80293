import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { chmodSync, chownSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '#libs/logging';
import { prepareLogDirectory, UnsafePathError } from '../trusted-path.js';
import { FileLogSink } from './sinks.js';

const UUID = '1be26c0b-5d10-4d60-9d3a-1e7a0c1b2a3f';

function recordingLog() {
  const warnings: string[] = [];
  const log = { warn: (_o: unknown, m: string) => warnings.push(m), info: () => undefined, debug: () => undefined } as unknown as Logger;
  return { log, warnings };
}

async function writeThrough(dir: string, text: string, log: Logger, maxBytes = 1 << 20): Promise<void> {
  const sink = new FileLogSink(dir, UUID, maxBytes, 3, log);
  sink.write(0, Buffer.from(text));
  await sink.close();
}

/**
 * Sibling of hardening finding 1 (a planted link in a directory the conductor writes): console logs
 * hold bytes a node's user chooses, appended by the conductor (often root). A link planted at
 * `<uuid>.log` must not turn that into a write to another file, and a log directory others can
 * write is refused at start.
 */
describe('console log files (SOLGATE_CONSOLE_LOG_DIR)', () => {
  let root: string;
  let dir: string;
  let victim: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'solgate-logs-'));
    dir = join(root, 'consoles');
    expect(prepareLogDirectory(dir)).toEqual([]);
    victim = join(root, 'victim');
    writeFileSync(victim, 'untouched\n');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('creates the directory 0750 and appends the console output, rotating at the size limit', async () => {
    expect(lstatSync(dir).mode & 0o777).toBe(0o750);
    const { log, warnings } = recordingLog();
    await writeThrough(dir, 'boot: ok\n', log);
    expect(readFileSync(join(dir, `${UUID}.log`), 'utf8')).toBe('boot: ok\n');
    await writeThrough(dir, 'x'.repeat(20), log, 16);
    expect(readFileSync(join(dir, `${UUID}.log.1`), 'utf8')).toBe('boot: ok\n');
    expect(warnings).toEqual([]);
  });

  it('keeps SOLGATE_CONSOLE_LOG_FILE_COUNT rotated files, the newest as .1, and drops older ones', async () => {
    const { log, warnings } = recordingLog();
    // five writes that each pass the 16-byte limit: the live file, then .1 (newest) … .3, and no .4
    for (const n of [1, 2, 3, 4, 5]) await writeThrough(dir, `generation-${n}-${'x'.repeat(10)}\n`, log, 16);
    const read = (suffix: string) => readFileSync(join(dir, `${UUID}.log${suffix}`), 'utf8');
    expect([read(''), read('.1'), read('.2'), read('.3')].map((t) => t.slice(0, 12))).toEqual(['generation-5', 'generation-4', 'generation-3', 'generation-2']);
    expect(existsSync(join(dir, `${UUID}.log.4`))).toBe(false);
    expect(warnings).toEqual([]);
  });

  it('does not follow a symbolic link planted as <uuid>.log', async () => {
    symlinkSync(victim, join(dir, `${UUID}.log`));
    const { log, warnings } = recordingLog();
    await writeThrough(dir, 'echo pwned >> /root/.ssh/authorized_keys\n', log);
    expect(readFileSync(victim, 'utf8')).toBe('untouched\n');
    expect(warnings).toEqual(['console log file: write failed']);
  });

  it('does not write through a hard link planted as <uuid>.log', async () => {
    linkSync(victim, join(dir, `${UUID}.log`));
    const { log, warnings } = recordingLog();
    await writeThrough(dir, 'pwned\n', log);
    expect(readFileSync(victim, 'utf8')).toBe('untouched\n');
    expect(warnings).toEqual(['console log file: write failed']);
  });

  it('stops writing when the directory was swapped for a link after the start', async () => {
    rmSync(dir, { recursive: true });
    const elsewhere = join(root, 'elsewhere');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, dir);
    const { log, warnings } = recordingLog();
    await writeThrough(dir, 'pwned\n', log);
    expect(existsSync(join(elsewhere, `${UUID}.log`))).toBe(false);
    expect(warnings).toEqual(['console log file: write failed']);
  });

  it.each([
    ['writable by others', (d: string) => chmodSync(d, 0o777), /its mode is 0777/],
    ['writable by its group', (d: string) => chmodSync(d, 0o770), /its mode is 0770/],
    ['owned by another user', (d: string) => chownSync(d, 65534, 65534), /owned by uid 65534/],
    ['a symbolic link', (d: string) => (rmSync(d, { recursive: true }), symlinkSync('/tmp', d)), /is a symbolic link/],
  ])('refuses at start a log directory %s', (_what, spoil, message) => {
    spoil(dir);
    expect(() => prepareLogDirectory(dir)).toThrow(UnsafePathError);
    expect(() => prepareLogDirectory(dir)).toThrow(message);
  });

  it('refuses a parent owned by another user, and warns about one anybody may write (a Kubernetes emptyDir is 0777)', () => {
    const open = join(root, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(prepareLogDirectory(join(open, 'consoles'))).toEqual([expect.stringContaining(`${open} (mode 0777) is writable by other users`)]);
    const theirs = join(root, 'theirs');
    mkdirSync(theirs);
    chownSync(theirs, 65534, 65534);
    expect(() => prepareLogDirectory(join(theirs, 'consoles'))).toThrow(/owned by uid 65534/);
  });
});
