import { closeSync, constants, fchmodSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, realpathSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';

/**
 * Which files and directories a conductor may trust (it runs consoles, often as root): only what
 * no other local user can change. A path is trusted when every directory from `/` down to it — as
 * written and as resolved — is owned by root or by us and is writable by nobody else, unless it has
 * the sticky bit (/tmp, /dev/shm: others may add entries there but never rename or replace ours);
 * a symbolic link on the way must be owned by root or by us. The same rule as OpenSSH's
 * `safe_path()` and sudo's checks of its configuration files.
 */
export class UnsafePathError extends Error {
  readonly code = 'UNSAFE_PATH';
  constructor(message: string) {
    super(message);
    this.name = 'UnsafePathError';
  }
}

/** The sticky bit (not in node:fs constants). */
const S_ISVTX = 0o1000;

const euid = () => process.geteuid?.() ?? 0;
const trustedOwner = (uid: number) => uid === 0 || uid === euid();
const ownerText = (uid: number) => `uid ${uid}${uid === 0 ? ' (root)' : ''}`;
const octal = (mode: number) => `0${(mode & 0o7777).toString(8)}`;

/** Writable by group or others, and without the sticky bit that would protect our entries in it. */
function openToOthers(st: Stats): boolean {
  return (st.mode & 0o022) !== 0 && (st.mode & S_ISVTX) === 0;
}

/** Every ancestor of `path` from `/` down (not `path` itself). */
function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let p = dirname(path); ; p = dirname(p)) {
    out.unshift(p);
    if (p === dirname(p)) return out;
  }
}

/** One directory (or a link to one) on the way to a trusted path, checked without following it. */
function checkComponent(path: string, what: string): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) {
    if (!trustedOwner(st.uid)) throw new UnsafePathError(`${what}: ${path} is a symbolic link owned by ${ownerText(st.uid)}, who could point it elsewhere`);
    return; // where it points is checked on the resolved path
  }
  if (!st.isDirectory()) throw new UnsafePathError(`${what}: ${path} is not a directory`);
  if (!trustedOwner(st.uid)) throw new UnsafePathError(`${what}: ${path} is owned by ${ownerText(st.uid)}, neither root nor this process (uid ${euid()})`);
  if (openToOthers(st)) throw new UnsafePathError(`${what}: ${path} (mode ${octal(st.mode)}) is writable by other users and has no sticky bit`);
}

/** Throws UnsafePathError unless every directory above `path` (as written and resolved) is trusted. */
export function assertTrustedAncestors(path: string, what: string): void {
  if (!isAbsolute(path)) throw new UnsafePathError(`${what}: ${path} is not an absolute path`);
  const abs = resolve(path);
  for (const p of ancestors(abs)) checkComponent(p, what);
  const realParent = realpathSync(dirname(abs));
  if (realParent !== dirname(abs)) {
    for (const p of ancestors(realParent)) checkComponent(p, what);
    checkComponent(realParent, what);
  }
}

/**
 * A file the conductor executes or hands to a process it runs as itself (a script, node, a
 * binary): owned by root or us, writable by nobody else, in trusted directories. Returns the
 * resolved path.
 */
export function assertTrustedFile(path: string, what: string): string {
  assertTrustedAncestors(path, what);
  const real = realpathSync(path);
  if (real !== resolve(path)) assertTrustedAncestors(real, what);
  const st = lstatSync(real);
  if (!st.isFile()) throw new UnsafePathError(`${what}: ${real} is not a regular file`);
  if (!trustedOwner(st.uid)) throw new UnsafePathError(`${what}: ${real} is owned by ${ownerText(st.uid)}, neither root nor this process (uid ${euid()})`);
  if ((st.mode & 0o022) !== 0) throw new UnsafePathError(`${what}: ${real} (mode ${octal(st.mode)}) is writable by other users`);
  return real;
}

/** A directory that must be trusted itself too (e.g. where the package is installed). */
export function assertTrustedDirectory(path: string, what: string): void {
  assertTrustedAncestors(path, what);
  checkComponent(path, what);
  const real = realpathSync(path);
  if (real !== resolve(path)) {
    assertTrustedAncestors(real, what);
    checkComponent(real, what);
  }
}

/**
 * The conductor's private runtime directory: created here (`mkdir`, not recursive on the last
 * component, mode 0700) or, if it already exists, accepted only when it is a real directory (not
 * a link), owned by this process's user and of mode 0700 — a directory another local user created
 * first, or could have written into, is refused. Missing parents are created (0755, ours). Every
 * directory above it must be trusted (see assertTrustedAncestors).
 */
export function createPrivateDirectory(path: string, what = 'runtime directory'): void {
  if (!isAbsolute(path)) throw new UnsafePathError(`${what} ${path}: not an absolute path`);
  const abs = resolve(path);
  mkdirSync(dirname(abs), { recursive: true, mode: 0o755 });
  assertTrustedAncestors(abs, what);
  let created = true;
  try {
    mkdirSync(abs, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    created = false;
  }
  const st = lstatSync(abs);
  const refuse = (why: string) =>
    new UnsafePathError(
      `refusing the ${what} ${abs}: ${why}. Another local user may have prepared it to run code as this conductor or to read BMC credentials; ` +
        'remove it (after checking who made it), or point SOLGATE_TERMINAL_PID_DIR at a directory under a parent only root can write (e.g. /run/solgate)',
    );
  if (st.isSymbolicLink()) throw refuse('it is a symbolic link');
  if (!st.isDirectory()) throw refuse('it is not a directory');
  if (st.uid !== euid()) throw refuse(`it is owned by ${ownerText(st.uid)}, not by this conductor (uid ${euid()})`);
  if ((st.mode & 0o7777) !== 0o700) {
    // Ours and just made: only the umask can have narrowed it. Anything older is refused.
    if (!created) throw refuse(`its mode is ${octal(st.mode)}, not 0700`);
    const fd = openSync(abs, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    try {
      // fchmod through the handle we checked: no path lookup between the check and the change
      fchmodSync(fd, 0o700);
      if (fstatSync(fd).uid !== euid()) throw refuse('it changed owner while being created');
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Open a file inside the private directory for reading without following a symbolic link, and
 * only if it is a regular file owned by us; undefined when it is missing or anything else.
 */
export function readPrivateFile(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== euid()) return undefined;
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * The console log directory (SOLGATE_CONSOLE_LOG_DIR): the conductor appends every node's serial
 * output there — bytes a node's user chooses — often as root, so nobody else may plant a name in it
 * (a symbolic or hard link would turn the log into a write to any file). Created here (0750) if
 * missing; accepted only as a real directory owned by this process that no group or other user can
 * write (assertLogDirectory, checked again before each file is opened). Directories above it must be
 * owned by root or us; one that others may write without the sticky bit is only warned about (a
 * Kubernetes emptyDir is 0777, written by the pod's one user): the warnings are returned.
 */
export function prepareLogDirectory(path: string, what = 'console log directory (SOLGATE_CONSOLE_LOG_DIR)'): string[] {
  if (!isAbsolute(path)) throw new UnsafePathError(`${what} ${path}: not an absolute path`);
  const abs = resolve(path);
  mkdirSync(dirname(abs), { recursive: true, mode: 0o755 });
  const warnings: string[] = [];
  const checkAncestor = (p: string) => {
    const st = lstatSync(p);
    if (!trustedOwner(st.uid)) throw new UnsafePathError(`${what}: ${p} is owned by ${ownerText(st.uid)}, neither root nor this process (uid ${euid()})`);
    if (!st.isSymbolicLink() && openToOthers(st)) warnings.push(`${what}: ${p} (mode ${octal(st.mode)}) is writable by other users; only this conductor's user should write there`);
  };
  for (const p of ancestors(abs)) checkAncestor(p);
  const realParent = realpathSync(dirname(abs));
  if (realParent !== dirname(abs)) for (const p of [...ancestors(realParent), realParent]) checkAncestor(p);
  try {
    mkdirSync(abs, { mode: 0o750 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  assertLogDirectory(abs, what);
  return warnings;
}

/** The log directory itself: a real directory of ours that no group or other user can write. */
export function assertLogDirectory(path: string, what = 'console log directory (SOLGATE_CONSOLE_LOG_DIR)'): void {
  const st = lstatSync(path);
  const refuse = (why: string) => new UnsafePathError(`refusing the ${what} ${path}: ${why}; another local user could make the conductor write console output into any file`);
  if (st.isSymbolicLink()) throw refuse('it is a symbolic link');
  if (!st.isDirectory()) throw refuse('it is not a directory');
  if (st.uid !== euid()) throw refuse(`it is owned by ${ownerText(st.uid)}, not by this conductor (uid ${euid()})`);
  if ((st.mode & 0o022) !== 0) throw refuse(`its mode is ${octal(st.mode)}: others can create entries in it (make it 0750 or 0700)`);
}

/**
 * Open (create) a file in a directory only we can write, for appending, without following a
 * symbolic link; refused unless it is a regular file of ours with one name (a hard link planted
 * earlier would make our writes land in someone else's file).
 */
export async function openOwnAppendFile(path: string, mode = 0o640): Promise<FileHandle> {
  const h = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, mode);
  try {
    const st = await h.stat();
    if (!st.isFile() || st.uid !== euid() || st.nlink !== 1) throw new UnsafePathError(`${path} is not a regular file of this conductor with a single name`);
    return h;
  } catch (e) {
    await h.close().catch(() => undefined);
    throw e;
  }
}
