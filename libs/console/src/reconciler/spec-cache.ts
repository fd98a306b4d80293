import { systemClock, type Clock } from '#libs/common';
import { NodeRepository, type NodeRecord } from '#libs/nodes';
import type { NodeSpecs } from './ports.js';

/** Full re-read of the enabled nodes at least this often, whatever the nodes version says. */
const FULL_READ_MS = 30_000;

/**
 * The specs of console-enabled nodes, re-read only when the nodes version moved (every change that
 * matters bumps it) or every FULL_READ_MS as a safety net: a pass over 5,000 quiet nodes then costs
 * one GET instead of 5,000 reads, on every conductor, every second. A nudge drops one node's spec.
 */
export class SpecCache implements NodeSpecs {
  private readonly specs = new Map<string, NodeRecord>();
  private known = { version: -1, readAtMs: 0, enabled: [] as string[] };

  constructor(
    private readonly nodes: Pick<NodeRepository, 'version' | 'consoleEnabledUuids' | 'stamps' | 'getMany' | 'get'>,
    private readonly clock: Clock = systemClock,
  ) {}

  async enabled(): Promise<string[]> {
    const version = await this.nodes.version();
    const now = this.clock.monotonicMs();
    if (version === this.known.version && now - this.known.readAtMs < FULL_READ_MS) return this.known.enabled;
    const enabled = await this.nodes.consoleEnabledUuids();
    const stamps = await this.nodes.stamps(enabled);
    const enabledSet = new Set(enabled);
    for (const uuid of this.specs.keys()) if (!enabledSet.has(uuid)) this.specs.delete(uuid);
    const stale = enabled.filter((u, i) => stamps[i] !== null && NodeRepository.stampOf(this.specs.get(u) ?? NO_SPEC) !== stamps[i]);
    for (const n of await this.nodes.getMany(stale)) this.specs.set(n.uuid, n);
    this.known = { version, readAtMs: now, enabled };
    return enabled;
  }

  peek(uuid: string): NodeRecord | undefined {
    return this.specs.get(uuid);
  }

  async read(uuid: string): Promise<NodeRecord | null> {
    const node = await this.nodes.get(uuid);
    if (node?.console_enabled) this.specs.set(uuid, node);
    else this.specs.delete(uuid);
    return node ?? null;
  }

  invalidate(uuid: string): void {
    this.specs.delete(uuid);
  }

  /** Forget everything (after a fence, a Redis restart): the next pass reads every enabled node again. */
  clear(): void {
    this.specs.clear();
    this.known = { version: -1, readAtMs: 0, enabled: [] };
  }
}

const NO_SPEC = { rev: -1, console_generation: -1 } as NodeRecord;
