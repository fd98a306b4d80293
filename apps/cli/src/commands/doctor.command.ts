import type { Command } from 'commander';
import { auditNodeRecords } from '#libs/nodes';
import { redactRedisUrl } from '#libs/redis';
import { CliContext, globalOptions, printerFor } from '../lib/context.js';
import { CliError, EXIT_FAILURE } from '../lib/errors.js';
import {
  checkBinaries,
  checkClaims,
  checkConductors,
  checkConsoles,
  checkRecords,
  checkRedis,
  parseInfo,
  type ClaimEntry,
  type Finding,
} from '../lib/doctor-checks.js';
import { parseSeconds } from '../lib/global-options.js';
import { stateColor, type Column } from '../lib/output.js';

const findingColumns: Column<Finding>[] = [
  { header: 'LEVEL', value: (x) => x.level.toUpperCase(), color: stateColor },
  { header: 'CHECK', value: (x) => x.check },
  { header: 'SUBJECT', value: (x) => x.subject },
  { header: 'MESSAGE', value: (x) => x.message },
];

export function registerDoctorCommands(program: Command): void {
  program
    .command('doctor')
    .description('check Redis, the conductors, claims, consoles and the local binaries a conductor needs')
    .option('--grace <seconds>', 'how long a console may be starting, stopping or handed over before it counts as stuck', parseSeconds('--grace', 0, 3600), 30)
    .option('--skip-binaries', 'do not check socat, ipmitool and perl here (on a host that runs no conductor)')
    .addHelpText(
      'after',
      `
Checks, one line per finding (LEVEL CHECK SUBJECT MESSAGE):
  redis        reachable; version ${'>='} 6.2
  persistence  append-only file on (warn when off); memory: no eviction policy that could drop records
  conductor    each member alive, leaving, drained or dead
  record       node records no conductor can read (bad JSON, wrong shape, a key of the wrong Redis
               type, a non-uuid index member: fail), index entries without a record (warn)
  claim        claims held by an incarnation that is not live (fail on console-enabled nodes, warn
               otherwise) and claims on nodes that no longer exist
  console      intent against observed state: error (with last_error), starting or stopping longer
               than --grace, running on a dead conductor, running although disabled
  group        console-enabled nodes whose group has no live conductor
  binary       socat -V, ipmitool -V, perl -v on this host
Exit 0 when healthy (warnings alone still exit 0), 1 when any check fails.

Examples:
  solgate doctor
  solgate doctor --skip-binaries -o json | jq '.[] | select(.level != "ok")'`,
    )
    .action(async (opts: { grace: number; skipBinaries?: boolean }, cmd: Command) => {
      const g = globalOptions(cmd);
      const out = printerFor(cmd);
      const where = redactRedisUrl(g.redis);
      const findings: Finding[] = [];
      const binaries = opts.skipBinaries ? Promise.resolve([]) : checkBinaries();
      let ctx: CliContext | undefined;
      try {
        ctx = await CliContext.open(g);
      } catch (e) {
        findings.push({ level: 'fail', check: 'redis', subject: where, message: e instanceof CliError ? e.message : String(e) });
      }
      if (ctx) {
        try {
          const info = parseInfo(`${await ctx.redis.info('server')}\n${await ctx.redis.info('persistence')}\n${await ctx.redis.info('memory')}\n${await ctx.redis.info('replication')}`);
          findings.push(...checkRedis(info, where));
          const view = await ctx.refreshView();
          findings.push(...checkConductors(view, await ctx.membership.drainedIds(), view.snapshot.nowMs));
          ctx.reportsProblemsItself = true;
          findings.push(...checkRecords(await auditNodeRecords(ctx.redis, ctx.keys)));
          const nodes = await ctx.allNodes();
          const byUuid = new Map(nodes.map((n) => [n.uuid, n]));
          const claimed = await ctx.claims.scanClaimedUuids();
          const claims = await ctx.claims.getMany(claimed);
          const entries: ClaimEntry[] = claimed.flatMap((uuid, i) => (claims[i] ? [{ uuid, claim: claims[i]!, node: byUuid.get(uuid) }] : []));
          findings.push(...checkClaims(entries, view, (u) => ctx!.keys.claim(u)));
          findings.push(...checkConsoles(await ctx.factsOf(nodes), Date.now(), opts.grace * 1000));
        } finally {
          await ctx.close();
        }
      }
      findings.push(...(await binaries));
      out.list(findings, findingColumns, (x) => x);
      const fails = findings.filter((x) => x.level === 'fail').length;
      const warns = findings.filter((x) => x.level === 'warn').length;
      const w = `${warns} warning${warns === 1 ? '' : 's'}`;
      if (fails > 0) {
        process.stderr.write(`${fails} problem${fails === 1 ? '' : 's'}${warns ? `, ${w}` : ''}\n`);
        process.exitCode = EXIT_FAILURE;
      } else process.stderr.write(warns ? `healthy, with ${w} (warnings alone exit 0)\n` : 'healthy\n');
    });
}
