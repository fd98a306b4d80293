import { monotonicMs } from '#libs/common';
import { PrivilegeLevel } from '../protocol/constants.js';
import { SimBmc, type SimBmcOptions, type SimUser } from './sim-bmc.js';
import type { SerialBehaviour } from './serial-line.js';

export interface BmcFleetOptions {
  count: number;
  /** Address every BMC binds to; default 127.0.0.1. */
  address?: string;
  /** UDP port of the first BMC, the others follow (+1 each); 0 (default) = the kernel picks each. */
  port?: number;
  /** Credentials of every BMC (default admin / password), unless `credentials` says otherwise. */
  user?: string;
  password?: string;
  /** Per-BMC credentials (index is 1-based). */
  credentials?: (index: number) => SimUser[];
  /** Cipher suites the BMCs accept; default [3, 17]. */
  cipherSuites?: number[];
  sessionTimeoutMs?: number;
  setupTimeoutMs?: number;
  maxSessionsPerBmc?: number;
  serial?: SerialBehaviour;
  /** Node names are `${namePrefix}${index}`; default "node". */
  namePrefix?: string;
  solInboundPayloadSize?: number;
  solRetryIntervalMs?: number;
  solRetries?: number;
  powerCycleDelayMs?: number;
}

/** A machine-readable line per BMC, as bin/solgate-bmc-sim prints it (no password in it). */
export interface SimBmcDescription {
  index: number;
  name: string;
  address: string;
  port: number;
  user: string;
  cipherSuites: number[];
}

/**
 * Many simulated BMCs in one process, each on its own UDP port, with its own credentials, power
 * state and serial line. One timer for the whole fleet closes idle sessions.
 */
export class BmcFleet {
  private sweeper: NodeJS.Timeout | null = null;

  private constructor(readonly bmcs: SimBmc[]) {}

  static async start(o: BmcFleetOptions): Promise<BmcFleet> {
    if (!Number.isInteger(o.count) || o.count < 1) throw new Error('count must be a positive integer');
    const address = o.address ?? '127.0.0.1';
    const bmcs: SimBmc[] = [];
    for (let i = 1; i <= o.count; i++) {
      const options: SimBmcOptions = {
        index: i,
        name: `${o.namePrefix ?? 'node'}${i}`,
        address,
        port: o.port ? o.port + i - 1 : 0,
        users: o.credentials?.(i) ?? [{ name: o.user ?? 'admin', password: o.password ?? 'password', privilege: PrivilegeLevel.ADMINISTRATOR }],
        cipherSuites: o.cipherSuites ?? [3, 17],
        sessionTimeoutMs: o.sessionTimeoutMs ?? 60_000,
        setupTimeoutMs: o.setupTimeoutMs ?? 10_000,
        maxSessions: o.maxSessionsPerBmc ?? 32,
        serial: o.serial ?? 'shell',
        solInboundPayloadSize: o.solInboundPayloadSize ?? 255,
        solRetryIntervalMs: o.solRetryIntervalMs ?? 500,
        solRetries: o.solRetries ?? 4,
        powerCycleDelayMs: o.powerCycleDelayMs ?? 1000,
      };
      bmcs.push(new SimBmc(options));
    }
    const fleet = new BmcFleet(bmcs);
    try {
      // Bind in small batches: hundreds of binds at once are fine, but errors stay readable.
      for (let i = 0; i < bmcs.length; i += 64) await Promise.all(bmcs.slice(i, i + 64).map((b) => b.listen()));
    } catch (e) {
      await fleet.stop();
      throw e;
    }
    const sweepEveryMs = Math.max(50, Math.min(1000, Math.floor(Math.min(o.sessionTimeoutMs ?? 60_000, o.setupTimeoutMs ?? 10_000) / 4)));
    fleet.sweeper = setInterval(() => {
      const now = monotonicMs();
      for (const b of bmcs) b.sweep(now);
    }, sweepEveryMs);
    fleet.sweeper.unref();
    return fleet;
  }

  /** BMC by 1-based index. */
  bmc(index: number): SimBmc {
    const b = this.bmcs[index - 1];
    if (!b) throw new Error(`no BMC ${index}`);
    return b;
  }

  describe(): SimBmcDescription[] {
    return this.bmcs.map((b) => ({
      index: b.index,
      name: b.name,
      address: b.address,
      port: b.port,
      user: b.users[0]?.name ?? '',
      cipherSuites: b.cipherSuites,
    }));
  }

  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    await Promise.all(this.bmcs.map((b) => b.close()));
  }
}
