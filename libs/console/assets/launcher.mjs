// solgate process launcher: starts console processes on behalf of the conductor.
//
// Why a separate process: Node's spawn() forks the calling process, and on Linux that takes time
// proportional to its memory (page tables are copied). From a conductor holding a few hundred MB it
// blocked the event loop for 5-20 ms per console, which made a takeover of a hundred consoles take
// seconds. This process stays small (no dependencies), so each fork costs ~1 ms, off the
// conductor's event loop.
//
// Protocol (Node IPC, one JSON message each):
//   in:  { op: 'spawn', id, command, args }
//   out: { id, event: 'spawned', pid } | { id, event: 'line', line } | { id, event: 'exit', code, signal }
//        | { id, event: 'error', message }
// The conductor starts this under `setpriv --pdeathsig KILL`; each console it spawns has its own
// parent-death guard (console-guard.sh), so when either dies, every console goes with it.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const send = (m) => {
  if (process.connected) process.send(m);
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
  send({ id: m.id, event: 'spawned', pid: child.pid });
  createInterface({ input: child.stderr }).on('line', (line) => send({ id: m.id, event: 'line', line }));
  // 'close' (not 'exit'): every stderr line has been forwarded by then.
  child.on('close', (code, signal) => send({ id: m.id, event: 'exit', code, signal }));
});

// The conductor went away: nothing of ours may stay (the guards would see us die too).
process.on('disconnect', () => process.exit(0));
