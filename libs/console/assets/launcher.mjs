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
// Protocol (Node IPC, one JSON message each):
//   in:  { op: 'spawn', id, command, args }
//   out: { id, event: 'spawned', pid } | { id, event: 'line', line } | { id, event: 'exit', code, signal }
//        | { id, event: 'error', message }
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

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
  try {
    child = spawn(m.command, m.args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    send({ id: m.id, event: 'error', message: String(e && e.message ? e.message : e) });
    send({ id: m.id, event: 'exit', code: null, signal: null });
    return;
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
