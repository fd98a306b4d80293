import { sleep } from '#libs/common';
import type { NodeRecord } from '#libs/nodes';
import type { CliContext } from './context.js';
import type { NodeFacts } from './node-view.js';
import type { Progress } from './progress.js';

export interface WaitOutcome {
  uuid: string;
  name: string | null;
  ok: boolean;
  reason: string | null;
  facts?: NodeFacts;
}

/** consolePhase decides (libs/console), as for the API: settled, a failure waiting will not fix, or why it is pending. */
export const settled = (f: NodeFacts, enabled: boolean): boolean => f.console.phase.settled(enabled);
export const terminalFailure = (f: NodeFacts, enabled: boolean): string | undefined => f.console.phase.terminalReason(enabled);
export const pendingReason = (f: NodeFacts, enabled: boolean): string => f.console.phase.pendingReason(enabled);

/**
 * Poll until every node's observed console state matches the intent, or the timeout passes.
 * Reads are pipelined (nodes, statuses, membership), about ten times a second.
 */
export async function waitForConsoles(
  ctx: CliContext,
  nodes: NodeRecord[],
  enabled: boolean,
  { timeoutMs, intervalMs = 100, progress }: { timeoutMs: number; intervalMs?: number; progress?: Progress },
): Promise<WaitOutcome[]> {
  const deadline = performance.now() + timeoutMs;
  const outcomes = new Map<string, WaitOutcome>();
  let pending = nodes.map((n) => n.uuid);
  let last = new Map<string, NodeFacts>();
  for (;;) {
    await ctx.refreshView();
    const fresh = await ctx.nodes.getMany(pending);
    const byUuid = new Map(fresh.map((n) => [n.uuid, n]));
    const facts = await ctx.factsOf(fresh);
    last = new Map(facts.map((f) => [f.node.uuid, f]));
    const still: string[] = [];
    for (const uuid of pending) {
      const f = last.get(uuid);
      const name = byUuid.get(uuid)?.name ?? nodes.find((n) => n.uuid === uuid)?.name ?? null;
      if (!f) {
        outcomes.set(uuid, { uuid, name, ok: false, reason: 'node deleted meanwhile' });
        progress?.increment();
        continue;
      }
      if (settled(f, enabled)) {
        outcomes.set(uuid, { uuid, name, ok: true, reason: null, facts: f });
        progress?.increment();
        continue;
      }
      const terminal = terminalFailure(f, enabled);
      if (terminal) {
        outcomes.set(uuid, { uuid, name, ok: false, reason: terminal, facts: f });
        progress?.increment();
        continue;
      }
      still.push(uuid);
    }
    pending = still;
    if (pending.length === 0 || performance.now() >= deadline) break;
    await sleep(intervalMs);
  }
  for (const uuid of pending) {
    const f = last.get(uuid)!;
    outcomes.set(uuid, { uuid, name: f.node.name, ok: false, reason: pendingReason(f, enabled), facts: f });
  }
  return nodes.map((n) => outcomes.get(n.uuid)!);
}
