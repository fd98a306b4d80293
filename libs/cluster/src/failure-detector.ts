import { EventEmitter } from 'node:events';
import { createConnection } from 'node:net';
import { errorMessage } from '#libs/common';
import type { Logger } from '#libs/logging';
import type { ClusterView } from './cluster-view.js';
import type { MembershipRepository } from './membership.repository.js';

export type ProbeResult = 'refused' | 'accepted' | 'timeout';

/** TCP connect to a member's advertised API: the second channel, which cannot lie about a dead process. */
export function probeTcp(url: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let host: string;
    let port: number;
    try {
      const u = new URL(url);
      host = u.hostname.replace(/^\[|\]$/g, '');
      port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
    } catch {
      return resolve('timeout');
    }
    const sock = createConnection({ host, port });
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    function finish(r: ProbeResult) {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    }
    sock.once('connect', () => finish('accepted'));
    sock.once('error', (e: NodeJS.ErrnoException) => finish(e.code === 'ECONNREFUSED' ? 'refused' : 'timeout'));
  });
}

/**
 * Fast path for process crashes (kill -9, OOM, segfault): the dead process's Redis connections
 * vanish at once (the kernel closes its sockets). Every few hundred ms we look at CLIENT LIST for
 * each live member's heartbeat connection; when one is gone we confirm through a second channel —
 * its API port must *refuse* connections (the host is up, the process is not). Only then the member
 * is removed, which releases its nodes to the survivors. A silent host (no answer at all) is left to
 * the heartbeat timeout: we never declare dead what we cannot prove dead.
 */
export class FailureDetector extends EventEmitter {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly lastProbe = new Map<string, number>();
  detected = 0;

  constructor(
    /** What this conductor knows of the cluster (MembershipService). */
    private readonly membership: { readonly registered: boolean; readonly view: ClusterView; readonly memberId: string; noteCrashed?(id: string, incarnation: string): void },
    /** Redis: the named connections and the removal (MembershipRepository on the heartbeat connection). */
    private readonly repo: Pick<MembershipRepository, 'connections' | 'remove'>,
    private readonly intervalMs: number,
    private readonly log: Logger,
    /** The second channel (a TCP connect to the member's API). */
    private readonly probe: (url: string, timeoutMs: number) => Promise<ProbeResult> = probeTcp,
  ) {
    super();
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async tick(): Promise<void> {
    if (this.running || !this.membership.registered) return;
    this.running = true;
    try {
      const view = this.membership.view;
      const others = view.members.filter((m) => m.alive && m.id !== this.membership.memberId);
      if (others.length === 0) return;
      const conns = await this.repo.connections();
      const connected = new Set(conns.filter((c) => c.role === 'hb').map((c) => `${c.memberId}/${c.incarnation}`));
      const now = Date.now();
      await Promise.all(
        others
          .filter((m) => !connected.has(`${m.id}/${m.incarnation}`))
          .map(async (m) => {
            const key = `${m.id}/${m.incarnation}`;
            if (now - (this.lastProbe.get(key) ?? 0) < 250) return;
            this.lastProbe.set(key, now);
            const probe = await this.probe(m.apiUrl, 300);
            if (probe !== 'refused') return;
            if (await this.repo.remove(m.id, m.incarnation, 'dead')) {
              this.detected++;
              this.membership.noteCrashed?.(m.id, m.incarnation);
              // `crashed`, not `member`: the logger's own `member` says who detected it
              this.log.warn({ crashed: m.id, incarnation: m.incarnation, api: m.apiUrl }, 'conductor crashed (Redis connection gone, API refuses): taking over its nodes');
              this.emit('dead', m.id);
            }
          }),
      );
      if (this.lastProbe.size > 1000) this.lastProbe.clear();
    } catch (e) {
      this.log.debug({ err: errorMessage(e) }, 'failure detector pass failed');
    } finally {
      this.running = false;
    }
  }
}
