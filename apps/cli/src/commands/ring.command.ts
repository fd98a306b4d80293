import type { Command } from 'commander';
import { balance } from '#libs/ring';
import { CliError } from '../lib/errors.js';
import { withContext } from '../lib/context.js';
import type { Column } from '../lib/output.js';

export interface GroupRing {
  group: string;
  members: string[];
  vnodes: number;
  nodes: number;
  perMember: Record<string, number>;
  maxOverMean: number | null;
}

const groupLabel = (g: string) => (g === '' ? '""' : g);

export const noConductorMessage = (group: string) => `no live conductor in group '${group}'`;

export function registerRingCommands(program: Command): void {
  const ring = program
    .command('ring')
    .description('show the consistent hash ring per conductor group: members, vnodes, nodes per member, balance')
    .addHelpText(
      'after',
      `
The ring is computed here exactly as the conductors compute it: from the sorted ids of the live,
undrained conductors of each group, with the vnode count the conductors published in Redis
(SOLGATE_RING_VNODES of the first conductor; every conductor must use the same). MAX/MEAN is the busiest member's node count over the mean (1.00 is
perfect); a group with nodes but no live conductor is listed with no members.

Examples:
  solgate ring
  solgate ring -o json
  solgate ring owner node-17`,
    )
    .action(async (_opts, cmd: Command) =>
      withContext(cmd, async (ctx, out) => {
        const view = await ctx.refreshView();
        const nodes = await ctx.allNodes();
        const byGroup = new Map<string, string[]>();
        for (const g of view.groups()) byGroup.set(g, []);
        for (const n of nodes) {
          const list = byGroup.get(n.conductor_group) ?? [];
          list.push(n.uuid);
          byGroup.set(n.conductor_group, list);
        }
        const rows: GroupRing[] = [...byGroup.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([group, uuids]) => {
            const r = view.ring(group);
            if (!r) return { group, members: [], vnodes: ctx.settings.ringVnodes, nodes: uuids.length, perMember: {}, maxOverMean: null };
            const b = balance(r, uuids);
            return { group, members: [...r.members], vnodes: r.vnodes, nodes: uuids.length, perMember: b.perMember, maxOverMean: uuids.length ? Number(b.maxOverMean.toFixed(3)) : null };
          });
        const cols: Column<GroupRing>[] = [
          { header: 'GROUP', value: (r) => groupLabel(r.group) },
          { header: 'MEMBERS', value: (r) => r.members.length },
          { header: 'VNODES', value: (r) => r.vnodes },
          { header: 'NODES', value: (r) => r.nodes },
          { header: 'MAX/MEAN', value: (r) => (r.maxOverMean === null ? '-' : r.maxOverMean.toFixed(2)) },
          {
            header: 'NODES PER MEMBER',
            value: (r) => (r.members.length === 0 ? noConductorMessage(r.group) : r.members.map((m) => `${m}=${r.perMember[m] ?? 0}`).join(' ')),
          },
        ];
        out.list(rows, cols, (r) => ({
          group: r.group,
          members: r.members,
          vnodes: r.vnodes,
          nodes: r.nodes,
          nodes_per_member: r.perMember,
          max_over_mean: r.maxOverMean,
        }));
      }),
    );

  ring
    .command('owner')
    .description('the conductor the ring assigns a node to')
    .argument('<node>', 'node uuid or name')
    .addHelpText(
      'after',
      `
Exits 1 with "no live conductor in group X" when the node's group has none.

Examples:
  solgate ring owner node-17
  solgate ring owner 1be26c0b-03f2-4d2e-ae87-c02d7f33c123 -o json`,
    )
    .action(async (ident: string, _opts, cmd: Command) =>
      withContext(cmd, async (ctx, out) => {
        const node = await ctx.findNode(ident);
        const owner = ctx.view.ownerOf(node.uuid, node.conductor_group);
        if (!owner) throw new CliError(noConductorMessage(node.conductor_group));
        const m = ctx.view.member(owner)!;
        const row = { uuid: node.uuid, name: node.name, group: node.conductor_group, owner, api_url: m.apiUrl, console_address: m.consoleAddress };
        out.item(row, [
          { header: 'NODE', value: (r) => r.name ?? r.uuid },
          { header: 'UUID', value: (r) => r.uuid, wide: true },
          { header: 'GROUP', value: (r) => groupLabel(r.group) },
          { header: 'OWNER', value: (r) => r.owner },
          { header: 'API URL', value: (r) => r.api_url, wide: true },
        ], (r) => r);
      }),
    );
}
