import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { packageRoot } from '#libs/common';
import { FaultProxy, type FaultMode, type FaultProxyStats } from './fault-proxy.js';

/**
 * Fault proxies in their own worker thread, so that traffic through them (every Redis command of
 * several conductors in a chaos run) is not delayed when the test's own thread is busy reading /proc
 * or parsing API answers: a stalled test thread must not look like a network fault to a conductor.
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

  private constructor(private readonly worker: Worker) {
    worker.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r.value);
      else p.reject(new Error(r.error));
    });
    worker.on('error', (e) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    });
  }

  /** Runs the built copy of this file (dist/): run `npm run build` first, as for every integration test. */
  static start(): FaultProxyHost {
    const file = join(packageRoot(), 'dist', 'test', 'support', 'fault-proxy-host.js');
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` before the integration tests`);
    const worker = new Worker(file, { workerData: { faultProxyWorker: true } });
    // the worker never keeps its process alive by itself: a teardown that could not end it must not hang the test run
    worker.unref();
    return new FaultProxyHost(worker);
  }

  private call<T>(req: WithoutId<Request>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('fault proxy host is closed'));
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...req, id });
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

  /** Close every proxy and end the worker (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.race([this.call({ op: 'close' }).catch(() => undefined), new Promise((r) => setTimeout(r, 5000).unref())]);
    this.closed = true;
    await Promise.race([this.worker.terminate(), new Promise((r) => setTimeout(r, 3000).unref())]);
  }
}

if (!isMainThread && (workerData as { faultProxyWorker?: boolean } | null)?.faultProxyWorker) {
  const port = parentPort!;
  const proxies: { group: string; proxy: FaultProxy }[] = [];
  port.on('message', (req: Request) => {
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
      (value) => port.postMessage({ id: req.id, ok: true, value } satisfies Reply),
      (e: unknown) => port.postMessage({ id: req.id, ok: false, error: e instanceof Error ? e.message : String(e) } satisfies Reply),
    );
  });
}
