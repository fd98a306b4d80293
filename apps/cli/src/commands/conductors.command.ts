import type { Command } from 'commander';
import { fleetFacts, type ConductorFacts } from '../lib/cluster-facts.js';
import { withContext } from '../lib/context.js';
import { formatAge, stateColor, type Column } from '../lib/output.js';

const iso = (ms: number | undefined) => (ms === undefined || !ms ? null : new Date(ms).toISOString());

export function conductorJson(c: ConductorFacts): Record<string, unknown> {
  const m = c.member;
  return {
    id: c.id,
    incarnation: m?.incarnation ?? null,
    state: c.state,
    alive: m?.alive ?? false,
    drained: c.drained,
    group: m?.group ?? null,
    api_url: m?.apiUrl ?? null,
    console_address: m?.consoleAddress ?? null,
    heartbeat_age_ms: c.heartbeatAgeMs,
    last_heartbeat_at: iso(m?.lastHeartbeatMs),
    joined_at: iso(m?.joinedAtMs),
    hostname: m?.hostname ?? null,
    pid: m?.pid ?? null,
    version: m?.version ?? null,
    nodes_owned: c.nodesOwned,
    consoles_running: c.consolesRunning,
    claims_held: c.claimsHeld,
  };
}

export function conductorColumns(nowMs: number): Column<ConductorFacts>[] {
  return [
    { header: 'ID', value: (c) => c.id },
    { header: 'INCARNATION', value: (c) => c.member?.incarnation },
    { header: 'GROUP', value: (c) => (c.member ? c.member.group || '""' : null) },
    { header: 'STATE', value: (c) => c.state, color: stateColor },
    { header: 'HEARTBEAT', value: (c) => (c.heartbeatAgeMs === null ? null : formatAge(c.heartbeatAgeMs)) },
    { header: 'NODES', value: (c) => c.nodesOwned },
    { header: 'CONSOLES', value: (c) => c.consolesRunning },
    { header: 'CLAIMS', value: (c) => c.claimsHeld, wide: true },
    { header: 'API URL', value: (c) => c.member?.apiUrl },
    { header: 'CONSOLE ADDRESS', value: (c) => c.member?.consoleAddress },
    { header: 'HOSTNAME', value: (c) => c.member?.hostname, wide: true },
    { header: 'PID', value: (c) => c.member?.pid, wide: true },
    { header: 'UPTIME', value: (c) => (c.member ? formatAge(nowMs - c.member.joinedAtMs) : null), wide: true },
    { header: 'VERSION', value: (c) => c.member?.version, wide: true },
  ];
}

export function registerConductorsCommands(program: Command): void {
  program
    .command('conductors')
    .description('list conductors: liveness by Redis’s clock, nodes the ring gives each, consoles each runs')
    .addHelpText(
      'after',
      `
NODES counts the nodes the ring assigns to a conductor (whatever their console intent); CONSOLES
counts consoles it runs (observed state, only on a live conductor). STATE is one of:
  alive      heartbeating and in the ring
  leaving    stopping on purpose, handing its consoles over
  draining   drained by an operator, still running or holding consoles
  drained    drained, owns and runs nothing (until \`solgate undrain\`)
  dead       crashed (detected by the others), no heartbeat within the cluster's heartbeat
             timeout, or drained and not registered; listed until it rejoins

Examples:
  solgate conductors
  solgate conductors -o wide
  solgate conductors -o json | jq '.[] | select(.state != "alive") | .id'`,
    )
    .action(async (_opts, cmd: Command) =>
      withContext(cmd, async (ctx, out) => {
        const f = await fleetFacts(ctx);
        out.list(f.conductors, conductorColumns(f.nowMs), conductorJson);
      }),
    );
}
