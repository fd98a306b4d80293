import type { Command } from 'commander';
import { sleep } from '#libs/common';
import { fleetFacts, type ConductorFacts, type FleetFacts } from '../lib/cluster-facts.js';
import { withContext, type CliContext } from '../lib/context.js';
import { CliError } from '../lib/errors.js';
import { parseSeconds } from '../lib/global-options.js';
import { progressBar } from '../lib/progress.js';
import { conductorColumns, conductorJson } from './conductors.command.js';

async function findConductor(ctx: CliContext, id: string, facts?: FleetFacts): Promise<{ facts: FleetFacts; c: ConductorFacts | undefined }> {
  const f = facts ?? (await fleetFacts(ctx));
  return { facts: f, c: f.conductors.find((c) => c.id === id) };
}

/** What a drained conductor still does: consoles it runs and claims it holds (it is done at 0). */
const remaining = (c: ConductorFacts | undefined) => (c ? Math.max(c.consolesRunning, c.claimsHeld) : 0);

/** Enabled consoles the ring gives this conductor that it does not serve yet (undrain is done at 0). */
function notYetServed(f: FleetFacts, ctx: CliContext, id: string): number {
  let n = 0;
  ctx.describe(f.nodes, f.statuses).forEach(({ node, console: v }) => {
    if (!node.console_enabled || v.conductor !== id) return;
    if (!(v.phase.serving && v.phase.reporter === id)) n++;
  });
  return n;
}

export function registerDrainCommands(program: Command): void {
  program
    .command('drain')
    .description('take a conductor out of the ring: it hands its consoles over and stays out until undrained')
    .argument('<conductor>', 'conductor (member) id, as `solgate conductors` lists it')
    .option('-w, --wait', 'wait until it runs no console and holds no claim')
    .option('--timeout <seconds>', 'how long --wait waits (exit 1 when it passes)', parseSeconds('--timeout', 0.1, 86400), 60)
    .option('--progress', 'show the --wait progress bar even when stderr is not a terminal')
    .addHelpText(
      'after',
      `
The conductor stays a member (it keeps heartbeating) but leaves the ring of its group at once: every
conductor sees the change through Redis pub/sub, the drained one stops its consoles and releases
their claims, and the new owners start them (graceful handover, no double SOL session). It stays
out across restarts until \`solgate undrain\`. If it is the only live conductor of its group, its
consoles stop and wait for another conductor.

Examples:
  solgate drain conductor-2 --wait
  solgate drain conductor-2 && solgate conductors`,
    )
    .action(async (id: string, opts: { wait?: boolean; timeout: number; progress?: boolean }, cmd: Command) =>
      withContext(cmd, async (ctx, out) => {
        let { c } = await findConductor(ctx, id);
        if (!c) throw new CliError(`conductor ${id} not found (see \`solgate conductors\`)`);
        if (c.member) {
          const others = ctx.view.members.filter((m) => m.id !== id && m.alive && !m.drained && m.state === 'alive' && m.group === c!.member!.group);
          if (others.length === 0 && c.consolesRunning > 0)
            process.stderr.write(`warning: no other live conductor in group '${c.member.group}': its ${c.consolesRunning} consoles will stop until one joins\n`);
        }
        await ctx.membership.setDrained(id, true);
        process.stderr.write(`conductor ${id} drained\n`);
        if (opts.wait) {
          const initial = remaining(c);
          const bar = progressBar('handing over', initial, { force: !!opts.progress });
          const deadline = performance.now() + opts.timeout * 1000;
          try {
            for (;;) {
              ({ c } = await findConductor(ctx, id));
              const left = remaining(c);
              bar.update(Math.max(0, initial - left));
              if (left === 0 || performance.now() >= deadline) break;
              await sleep(100);
            }
          } finally {
            bar.stop();
          }
          if (remaining(c) > 0) throw new CliError(`conductor ${id} still runs ${c!.consolesRunning} consoles and holds ${c!.claimsHeld} claims after ${opts.timeout} s`);
        }
        const { facts, c: after } = await findConductor(ctx, id);
        if (after) out.item(after, conductorColumns(facts.nowMs), conductorJson);
      }),
    );

  program
    .command('undrain')
    .alias('uncordon')
    .description('put a drained conductor back into the ring')
    .argument('<conductor>', 'conductor (member) id')
    .option('-w, --wait', 'wait until it serves every console the ring gives it')
    .option('--timeout <seconds>', 'how long --wait waits (exit 1 when it passes)', parseSeconds('--timeout', 0.1, 86400), 60)
    .addHelpText(
      'after',
      `
The conductor rejoins its group's ring at once; the consoles the ring gives it move to it (each
handed over by its current owner).

Examples:
  solgate undrain conductor-2 --wait`,
    )
    .action(async (id: string, opts: { wait?: boolean; timeout: number }, cmd: Command) =>
      withContext(cmd, async (ctx, out) => {
        const drained = await ctx.membership.drainedIds();
        let { facts, c } = await findConductor(ctx, id);
        if (!c && !drained.includes(id)) throw new CliError(`conductor ${id} not found (see \`solgate conductors\`)`);
        if (!drained.includes(id)) process.stderr.write(`conductor ${id} was not drained\n`);
        await ctx.membership.setDrained(id, false);
        process.stderr.write(`conductor ${id} undrained\n`);
        if (opts.wait) {
          const deadline = performance.now() + opts.timeout * 1000;
          for (;;) {
            ({ facts, c } = await findConductor(ctx, id));
            if ((c?.state === 'alive' && notYetServed(facts, ctx, id) === 0) || performance.now() >= deadline) break;
            await sleep(100);
          }
          if (c?.state !== 'alive') throw new CliError(`conductor ${id} is ${c?.state ?? 'not registered'}, not back in the ring after ${opts.timeout} s`);
          const left = notYetServed(facts, ctx, id);
          if (left > 0) throw new CliError(`conductor ${id} does not serve ${left} of the consoles the ring gives it after ${opts.timeout} s`);
        }
        ({ facts, c } = await findConductor(ctx, id));
        if (c) out.item(c, conductorColumns(facts.nowMs), conductorJson);
      }),
    );
}
