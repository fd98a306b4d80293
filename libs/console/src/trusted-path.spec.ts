import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { chmodSync, chownSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertTrustedFile, createPrivateDirectory, readPrivateFile, UnsafePathError } from './trusted-path.js';

/** Another local user: files are handed to it with chown (these tests run as root, as CI does). */
const NOBODY = 65534;

describe('trusted paths', () => {
  let base: string;

  beforeEach(() => {
    if (process.geteuid?.() !== 0) throw new Error('these tests create files owned by another user: run them as root');
    base = mkdtempSync(join(tmpdir(), 'solgate-trust-'));
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  const refusal = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(UnsafePathError);
      return (e as Error).message;
    }
    throw new Error('expected an UnsafePathError');
  };

  describe('createPrivateDirectory', () => {
    it('creates the directory itself, 0700 and ours, even under a restrictive umask', () => {
      const dir = join(base, 'run');
      const old = process.umask(0o277);
      try {
        createPrivateDirectory(dir);
      } finally {
        process.umask(old);
      }
      const st = lstatSync(dir);
      expect({ dir: st.isDirectory(), mode: st.mode & 0o7777, uid: st.uid }).toEqual({ dir: true, mode: 0o700, uid: 0 });
    });

    it('accepts its own directory from an earlier run (0700, ours)', () => {
      const dir = join(base, 'run');
      createPrivateDirectory(dir);
      writeFileSync(join(dir, 'lease'), '0\n');
      createPrivateDirectory(dir);
      expect(readPrivateFile(join(dir, 'lease'))).toBe('0\n');
    });

    it('refuses a directory another user created first', () => {
      const dir = join(base, 'run');
      mkdirSync(dir, { mode: 0o700 });
      chownSync(dir, NOBODY, NOBODY);
      expect(refusal(() => createPrivateDirectory(dir))).toMatch(/owned by uid 65534, not by this conductor/);
    });

    it('refuses its own directory when its mode is not 0700', () => {
      const dir = join(base, 'run');
      mkdirSync(dir);
      chmodSync(dir, 0o755);
      expect(refusal(() => createPrivateDirectory(dir))).toMatch(/mode is 0755, not 0700/);
    });

    it('refuses a symbolic link in its place, even to a good directory', () => {
      const good = join(base, 'good');
      mkdirSync(good, { mode: 0o700 });
      symlinkSync(good, join(base, 'run'));
      expect(refusal(() => createPrivateDirectory(join(base, 'run')))).toMatch(/is a symbolic link/);
    });

    it('refuses a parent that other users can write without the sticky bit', () => {
      const parent = join(base, 'shared');
      mkdirSync(parent);
      chmodSync(parent, 0o777);
      expect(refusal(() => createPrivateDirectory(join(parent, 'run')))).toMatch(/shared \(mode 0777\) is writable by other users and has no sticky bit/);
    });

    it('accepts a world-writable parent with the sticky bit (/dev/shm, /tmp)', () => {
      const parent = join(base, 'shm');
      mkdirSync(parent);
      chmodSync(parent, 0o1777);
      createPrivateDirectory(join(parent, 'run'));
      expect(statSync(join(parent, 'run')).mode & 0o7777).toBe(0o700);
    });

    it('refuses a parent owned by another user', () => {
      const parent = join(base, 'theirs');
      mkdirSync(parent, { mode: 0o755 });
      chownSync(parent, NOBODY, NOBODY);
      expect(refusal(() => createPrivateDirectory(join(parent, 'run')))).toMatch(/theirs is owned by uid 65534/);
    });

    it('refuses a path through a symbolic link another user owns (they could repoint it)', () => {
      const target = join(base, 'target');
      mkdirSync(target, { mode: 0o755 });
      const link = join(base, 'link');
      symlinkSync(target, link);
      lchownSync(link, NOBODY, NOBODY);
      expect(refusal(() => createPrivateDirectory(join(link, 'run')))).toMatch(/link is a symbolic link owned by uid 65534/);
    });
  });

  describe('assertTrustedFile', () => {
    it('accepts a root-owned file not writable by others and returns its resolved path', () => {
      const f = join(base, 'script.sh');
      writeFileSync(f, '#!/bin/sh\n', { mode: 0o755 });
      expect(assertTrustedFile(f, 'script')).toBe(f);
    });

    it('refuses a file other users can write, or that another user owns', () => {
      const f = join(base, 'script.sh');
      writeFileSync(f, '#!/bin/sh\n');
      chmodSync(f, 0o775);
      expect(refusal(() => assertTrustedFile(f, 'script'))).toMatch(/mode 0775\) is writable by other users/);
      chmodSync(f, 0o755);
      chownSync(f, NOBODY, NOBODY);
      expect(refusal(() => assertTrustedFile(f, 'script'))).toMatch(/owned by uid 65534/);
    });

    it('refuses a file whose resolved location lies in a directory others can write', () => {
      const open = join(base, 'open');
      mkdirSync(open);
      chmodSync(open, 0o777);
      writeFileSync(join(open, 'real.sh'), '#!/bin/sh\n', { mode: 0o755 });
      symlinkSync(join(open, 'real.sh'), join(base, 'script.sh'));
      expect(refusal(() => assertTrustedFile(join(base, 'script.sh'), 'script'))).toMatch(/open \(mode 0777\) is writable by other users/);
    });
  });

  describe('readPrivateFile', () => {
    it('never follows a symbolic link, and reads only our own regular files', () => {
      const secret = join(base, 'secret');
      writeFileSync(secret, 'not for you');
      symlinkSync(secret, join(base, 'x.pid'));
      expect(readPrivateFile(join(base, 'x.pid'))).toBeUndefined();
      writeFileSync(join(base, 'y.pid'), '123\n');
      chownSync(join(base, 'y.pid'), NOBODY, NOBODY);
      expect(readPrivateFile(join(base, 'y.pid'))).toBeUndefined();
      expect(readPrivateFile(join(base, 'missing'))).toBeUndefined();
    });
  });
});
