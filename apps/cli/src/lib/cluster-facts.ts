import type { Claim, MemberView } from '#libs/cluster';
import type { ConsoleStatus, NodeRecord } from '#libs/nodes';
import type { CliContext } from './context.js';

/** What one conductor owns and runs, from Redis: the ring's placement, observed statuses, claims. */
export interface ConductorFacts {
  id: string;
  /** undefined: drained but not registered (never joined, or left). */
  member: MemberView | undefined;
  drained: boolean;
  state: ConductorState;
  nodesOwned: number;
  consolesRunning: number;
  claimsHeld: number;
  heartbeatAgeMs: number | null;
}

export type ConductorState = 'alive' | 'draining' | 'drained' | 'leaving' | 'dead';

/**
 * alive; leaving (it stops on purpose and hands its consoles over); draining (an operator drained
 * it and it still runs or holds something); drained (it owns and runs nothing until undrained);
 * dead (no heartbeat within the timeout, or drained and not registered).
 */
export function conductorState(m: MemberView | undefined, drained: boolean, consolesRunning: number, claimsHeld: number): ConductorState {
  if (!m || !m.alive) return 'dead';
  if (m.state === 'leaving') return 'leaving';
  if (drained) return consolesRunning > 0 || claimsHeld > 0 ? 'draining' : 'drained';
  return 'alive';
}

export interface FleetFacts {
  nodes: NodeRecord[];
  statuses: ConsoleStatus[];
  claims: (Claim | undefined)[];
  conductors: ConductorFacts[];
  nowMs: number;
}

export async function claimsOf(ctx: CliContext, nodes: NodeRecord[]): Promise<(Claim | undefined)[]> {
  const out: (Claim | undefined)[] = [];
  for (let i = 0; i < nodes.length; i += 2000) out.push(...(await ctx.claims.getMany(nodes.slice(i, i + 2000).map((n) => n.uuid))));
  return out;
}

/** Read everything once and count per conductor (a few pipelined round trips, whatever the fleet size). */
export async function fleetFacts(ctx: CliContext): Promise<FleetFacts> {
  const view = await ctx.refreshView();
  const nodes = await ctx.allNodes();
  const [statuses, claims, drainedIds] = await Promise.all([ctx.statusesOf(nodes), claimsOf(ctx, nodes), ctx.membership.drainedIds()]);
  const facts = ctx.describe(nodes, statuses);
  const ids = [...new Set([...view.members.map((m) => m.id), ...drainedIds])].sort();
  const owned = new Map<string, number>();
  const running = new Map<string, number>();
  const held = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  nodes.forEach((n, i) => {
    const owner = view.ownerOf(n.uuid, n.conductor_group);
    if (owner) bump(owned, owner);
    // consolePhase: a console counts only on a conductor that is alive with that incarnation
    const on = facts[i].console.phase.runningOn;
    if (on) bump(running, on);
    const c = claims[i];
    if (c && view.isLive(c.member, c.incarnation)) bump(held, c.member);
  });
  const drained = new Set(drainedIds);
  const conductors = ids.map((id): ConductorFacts => {
    const member = view.member(id);
    const consolesRunning = running.get(id) ?? 0;
    const claimsHeld = held.get(id) ?? 0;
    return {
      id,
      member,
      drained: drained.has(id),
      state: conductorState(member, drained.has(id), consolesRunning, claimsHeld),
      nodesOwned: owned.get(id) ?? 0,
      consolesRunning,
      claimsHeld,
      heartbeatAgeMs: member ? view.snapshot.nowMs - member.lastHeartbeatMs : null,
    };
  });
  return { nodes, statuses, claims, conductors, nowMs: view.snapshot.nowMs };
}
