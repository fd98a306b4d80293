import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '#libs/common';
import { FaultProxy, type FaultMode, type FaultProxyStats } from './fault-proxy.js';

/**
 * Fault proxies in their own process, so that traffic through them (every Redis command of several
 * conductors in a chaos run) is not delayed when the test's own thread is busy reading /proc or
 * parsing API answers: a stalled test thread must not look like a network fault to a conductor.
 * A process rather than a worker thread: a worker whose sockets did not finish closing kept Node's
 * exit waiting for it forever (a jest run hung after its chaos test passed); a process is killed.
 * Each proxy has a name and belongs to a group (e.g. one group per conductor: its links to Sentinel
 * and to every Redis server); a mode is set for a whole group at once.
 */
type Request =
  | { id: number; op: 'start'; name: string; group: string; target: { host: string; port: number } }
  | { id: number; op: 'mode'; group: string; mode: FaultMode }
  | { id: number; op: 'stats'; group: string }
  | { id: number; op: 'close' };
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Reply = { id: number; ok: true; value?: unknown } | { id: number; ok: false; error: string };

export interface HostedProxy {
  name: string;
  group: string;
  target: { host: string; port: number };
  port: number;
}

export class FaultProxyHost {
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private seq = 0;
  readonly proxies: HostedProxy[] = [];
  private closed = false;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (this.pending.size === 0) this.child.channel?.unref();
      if (r.ok) p.resolve(r.value);
      else p.reject(new Error(r.error));
    });
    const fail = (e: Error) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    child.on('error', fail);
    child.on('exit', () => fail(new Error('the fault proxy process exited')));
  }

  /** Runs the built copy of this file (dist/): run `npm run build` first, as for every integration test. */
  static start(): FaultProxyHost {
    const file = join(packageRoot(), 'dist', 'test', 'support', 'fault-proxy-host.js');
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` before the integration tests`);
    // setpriv: the kernel kills it if the test process dies first, so nothing outlives a run
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', process.execPath, file], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, SOLGATE_FAULT_PROXY_HOST: '1' } });
    // it never keeps the test process alive by itself: a teardown that could not end it must not hang the run
    child.unref();
    child.channel?.unref();
    return new FaultProxyHost(child);
  }

  private call<T>(req: WithoutId<Request>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('fault proxy host is closed'));
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.channel?.ref();
      this.child.send({ ...req, id }, (err) => err && reject(err));
    });
  }

  /** A new proxy to `target`; resolves with its loopback port. */
  async add(name: string, group: string, target: { host: string; port: number }): Promise<HostedProxy> {
    const port = await this.call<number>({ op: 'start', name, group, target });
    const p = { name, group, target, port };
    this.proxies.push(p);
    return p;
  }

  setMode(group: string, mode: FaultMode): Promise<void> {
    return this.call<void>({ op: 'mode', group, mode });
  }

  stats(group: string): Promise<FaultProxyStats> {
    return this.call<FaultProxyStats>({ op: 'stats', group });
  }

  /** Close every proxy and end the process (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.race([this.call({ op: 'close' }).catch(() => undefined), new Promise((r) => setTimeout(r, 5000).unref())]);
    this.closed = true;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGKILL');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000).unref())]);
    }
  }
}

if (process.env.SOLGATE_FAULT_PROXY_HOST === '1' && process.send) {
  const reply = (r: Reply) => process.send?.(r);
  const proxies: { group: string; proxy: FaultProxy }[] = [];
  process.on('disconnect', () => process.exit(0)); // the test process went away
  process.on('message', (req: Request) => {
    void (async (): Promise<unknown> => {
      switch (req.op) {
        case 'start': {
          const proxy = await FaultProxy.start(req.target);
          proxies.push({ group: req.group, proxy });
          return proxy.port;
        }
        case 'mode':
          for (const p of proxies) if (p.group === req.group) p.proxy.setMode(req.mode);
          return undefined;
        case 'stats': {
          const total: FaultProxyStats = { accepted: 0, open: 0, bytesForwarded: 0, bytesDropped: 0, resets: 0 };
          for (const p of proxies) {
            if (p.group !== req.group) continue;
            const s = p.proxy.stats();
            for (const k of Object.keys(total) as (keyof FaultProxyStats)[]) total[k] += s[k];
          }
          return total;
        }
        case 'close':
          await Promise.all(proxies.map((p) => p.proxy.close()));
          proxies.length = 0;
          return undefined;
      }
    })().then(
      (value) => reply({ id: req.id, ok: true, value }),
      (e: unknown) => reply({ id: req.id, ok: false, error: e instanceof Error ? e.message : String(e) }),
    );
  });
}
