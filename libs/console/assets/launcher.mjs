// solgate process launcher: starts console processes on behalf of the conductor and owns them.
//
// Why a separate process: Node's spawn() forks the calling process, and on Linux that takes time
// proportional to its memory (page tables are copied). From a conductor holding a few hundred MB it
// blocked the event loop for 5-20 ms per console, which made a takeover of a hundred consoles take
// seconds. This process stays small (no dependencies), so each fork costs ~1 ms, off the
// conductor's event loop.
//
// Ownership: the conductor starts this under `setpriv --pdeathsig TERM`, and each console as
// `setpriv --pdeathsig KILL -- socat ...` in its own process group. So when the conductor dies, even by
// SIGKILL, the kernel sends this process SIGTERM and it kills every console's whole group (socat,
// socat's per-client children, ipmitool); were this process itself killed outright, the kernel
// kills every socat listener (their parent-death signal) and the conductor kills the rest. When a
// socat exits on its own, its group goes too: its children must not outlive it.
//
// Environment: the conductor starts this with a minimal environment (PATH of trusted system
// directories only, see libs/console/src/child-env.ts) and every console gets exactly that: no API
// token, no Redis password.
//
// Secrets: a spawn may carry `secret: { path, content }` (a BMC password). It becomes the console's
// fd 3: written to a fresh file (O_EXCL|O_NOFOLLOW, 0600) inside the private runtime directory and
// unlinked at once, so it never stays on disk and is gone with the last process that holds it, even
// after a kill -9 of everything (ipmitool reads it through the link <uuid>.pw -> /proc/self/fd/3).
//
// Protocol (Node IPC, one JSON message each):
//   in:  { op: 'spawn', id, command, args, secret? }
//   out: { id, event: 'spawned', pid } | { id, event: 'line', line } | { id, event: 'exit', code, signal }
//        | { id, event: 'error', message }
import { spawn } from 'node:child_process';
import { closeSync, constants, openSync, unlinkSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';

const CHILD_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
const SECRET_FD = 3;
const CREATE_SECRET = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** An open, already unlinked file holding `secret.content`. */
function secretFd(secret) {
  let fd;
  try {
    fd = openSync(secret.path, CREATE_SECRET, 0o600);
  } catch (e) {
    if (!e || e.code !== 'EEXIST') throw e;
    unlinkSync(secret.path); // never written through: a new file or nothing
    fd = openSync(secret.path, CREATE_SECRET, 0o600);
  }
  try {
    unlinkSync(secret.path);
    writeSync(fd, secret.content);
    return fd;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

const groups = new Set();
const send = (m) => {
  if (process.connected) process.send(m);
};
const killGroup = (pid) => {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
};

process.on('message', (m) => {
  if (!m || m.op !== 'spawn') return;
  let child;
  let fd;
  try {
    const stdio = ['ignore', 'ignore', 'pipe'];
    if (m.secret) stdio[SECRET_FD] = fd = secretFd(m.secret);
    child = spawn(m.command, m.args, { detached: true, stdio, env: CHILD_ENV });
  } catch (e) {
    // the message names a path at most, never the secret
    send({ id: m.id, event: 'error', message: String(e && e.message ? e.message : e) });
    send({ id: m.id, event: 'exit', code: null, signal: null });
    return;
  } finally {
    if (fd !== undefined) closeSync(fd); // the child holds its own copy
  }
  child.on('error', (e) => send({ id: m.id, event: 'error', message: e.message }));
  if (child.pid === undefined) return; // 'error' then 'close' follow
  const pid = child.pid;
  groups.add(pid);
  send({ id: m.id, event: 'spawned', pid });
  createInterface({ input: child.stderr }).on('line', (line) => send({ id: m.id, event: 'line', line }));
  child.on('exit', () => {
    killGroup(pid); // the per-client children of a socat that died
    groups.delete(pid);
  });
  // 'close' (not 'exit'): every stderr line has been forwarded by then.
  child.on('close', (code, signal) => send({ id: m.id, event: 'exit', code, signal }));
});

function shutdown() {
  for (const pid of groups) killGroup(pid);
  process.exit(0);
}
// the conductor died (parent-death signal: its main thread is gone; its sockets close when its last
// thread has exited, so wait for our channel to close too, briefly) or went away
process.on('SIGTERM', () => {
  if (!process.connected) return shutdown();
  process.once('disconnect', shutdown);
  setTimeout(shutdown, 200).unref();
});
process.on('SIGINT', shutdown);
process.on('SIGHUP', shutdown);
process.on('disconnect', shutdown);
