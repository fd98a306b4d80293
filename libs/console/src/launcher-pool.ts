import { availableParallelism } from 'node:os';
import type { InheritedSecret } from './argv.js';
import { ProcessLauncher, type LaunchedProcess } from './process-launcher.js';

/** What starts a console's processes off the conductor's heap: one launcher or a pool of them. */
export interface Launcher {
  spawn(command: string, args: string[], secret?: InheritedSecret): LaunchedProcess;
}

/** One launcher per CPU, at most 4: more only add processes that wait for the same cores. */
export function defaultLauncherCount(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

/**
 * The conductor's launchers, shared by everything that starts a console process: the socat
 * listeners (reconciler/socat-console-processes.ts) and the ipmitool-socat brokers' one ipmitool
 * per node (broker/ipmitool-sol-link.ts). A launcher forks one process at a time (a few ms each),
 * so a takeover spreads its starts round-robin over the pool; each launcher starts on its first use.
 * One pool, not one per user: a second pool would only add launcher processes competing for the
 * same cores, and every launcher dies with the conductor the same way (parent-death signal).
 */
export class LauncherPool implements Launcher {
  private readonly launchers: ProcessLauncher[];
  private next = 0;

  constructor(count = defaultLauncherCount()) {
    this.launchers = Array.from({ length: Math.max(1, count) }, () => new ProcessLauncher());
  }

  get size(): number {
    return this.launchers.length;
  }

  spawn(command: string, args: string[], secret?: InheritedSecret): LaunchedProcess {
    return this.launchers[this.next++ % this.launchers.length]!.spawn(command, args, secret);
  }

  /** Stop every launcher (after every console it started was stopped). Idempotent. */
  close(): void {
    for (const l of this.launchers) l.close();
  }
}
