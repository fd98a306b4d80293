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

/** Enabled: the console serves (ConsoleControl.describe). Disabled: it does not, and no live conductor reports it other than stopped. */
export function settled(f: NodeFacts, enabled: boolean): boolean {
  if (enabled) return f.console.serving;
  return !f.console.serving && (f.console.status.state === 'stopped' || !f.runsOnLiveConductor);
}

/** A failure that waiting longer will not fix (the console went to `error` for the current generation, or the intent changed). */
export function terminalFailure(f: NodeFacts, enabled: boolean): string | undefined {
  if (f.node.console_enabled !== enabled) return `console intent changed to ${f.node.console_enabled ? 'enabled' : 'disabled'} meanwhile`;
  const s = f.console.status;
  if (enabled && s.state === 'error' && s.generation === f.node.console_generation && f.runsOnLiveConductor) return s.last_error ?? 'console in error';
  return undefined;
}

/** Why a node has not settled (printed when --wait gives up). */
export function pendingReason(f: NodeFacts, enabled: boolean): string {
  const s = f.console.status;
  if (!enabled) return `still ${s.state} on conductor ${s.conductor}`;
  if (f.console.conductor === null) return `no live conductor in group '${f.node.conductor_group}'`;
  if (s.state === 'error') return s.last_error ?? 'console in error';
  if (s.state === 'starting' || s.state === 'restarting') return `still starting${s.last_error ? ` (last error: ${s.last_error})` : ''}`;
  if (s.state === 'running') return `running on ${s.conductor}, waiting for ${f.console.conductor}`;
  return `still starting: not started by ${f.console.conductor} yet`;
}

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
