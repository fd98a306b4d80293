import type { Command } from 'commander';
import { errorMessage } from '#libs/common';
import type { NodeRecord } from '#libs/nodes';
import { withContext, type CliContext } from '../lib/context.js';
import { mapLimit } from '../lib/concurrency.js';
import { EXIT_FAILURE } from '../lib/errors.js';
import { parseSeconds } from '../lib/global-options.js';
import { waitForConsoles, type WaitOutcome } from '../lib/console-wait.js';
import { consoleJson, consoleStateLabel, type NodeFacts } from '../lib/node-view.js';
import { stateColor, type Column, type Printer } from '../lib/output.js';
import { progressBar } from '../lib/progress.js';
import { selectorHelp } from '../lib/selector.js';
import { registerConsoleAttach } from './console-attach.js';

const consoleColumns: Column<NodeFacts>[] = [
  { header: 'NAME', value: (f) => f.node.name },
  { header: 'UUID', value: (f) => f.node.uuid },
  { header: 'DESIRED', value: (f) => (f.node.console_enabled ? 'enabled' : 'disabled') },
  { header: 'STATE', value: (f) => consoleStateLabel(f), color: stateColor },
  { header: 'URL', value: (f) => f.console.url },
  { header: 'OWNER', value: (f) => f.console.conductor },
  { header: 'REPORTED BY', value: (f) => f.console.status.conductor, wide: true },
  { header: 'PID', value: (f) => f.console.status.pid, wide: true },
  { header: 'RESTARTS', value: (f) => f.console.status.restarts, wide: true },
  { header: 'LAST ERROR', value: (f) => consoleJson(f).last_error as string | null, wide: true },
];

interface ChangeRow {
  node: NodeRecord;
  changed: boolean | null;
  error: string | null;
  wait?: WaitOutcome;
}

const changeColumns = (waited: boolean): Column<ChangeRow>[] => [
  { header: 'NAME', value: (r) => r.node.name },
  { header: 'UUID', value: (r) => r.node.uuid },
  { header: 'DESIRED', value: (r) => (r.error ? null : r.node.console_enabled ? 'enabled' : 'disabled') },
  { header: 'CHANGED', value: (r) => (r.changed === null ? null : r.changed ? 'yes' : 'no') },
  ...(waited
    ? ([
        { header: 'RESULT', value: (r) => (r.error || !r.wait?.ok ? 'failed' : 'ok'), color: (t) => stateColor(t === 'failed' ? 'error' : 'ok') },
        { header: 'URL', value: (r) => (r.wait?.ok ? r.wait.facts?.console.url : null) },
      ] as Column<ChangeRow>[])
    : []),
  { header: 'REASON', value: (r) => r.error ?? r.wait?.reason ?? null },
];

interface Selection {
  all?: boolean;
  selector?: string;
}

function selectionOptions(cmd: Command): Command {
  return cmd.option('-A, --all', 'every node').option('-l, --selector <selector>', 'nodes matching the selector (see below)');
}

async function setIntent(ctx: CliContext, out: Printer, idents: string[], opts: Selection & { wait?: boolean; timeout: number; progress?: boolean }, enabled: boolean) {
  const nodes = await ctx.selectNodes({ idents, all: opts.all, selector: opts.selector });
  const rows: ChangeRow[] = await mapLimit(nodes, 64, async (n): Promise<ChangeRow> => {
    try {
      const { changed } = await ctx.consoles.setEnabled(n, enabled);
      return { node: { ...n, console_enabled: enabled }, changed, error: null };
    } catch (e) {
      return { node: n, changed: null, error: errorMessage(e) };
    }
  });
  const accepted = rows.filter((r) => !r.error);
  if (opts.wait && accepted.length > 0) {
    const bar = progressBar(`${enabled ? 'enabling' : 'disabling'} consoles`, accepted.length, { force: !!opts.progress });
    let outcomes: WaitOutcome[];
    try {
      outcomes = await waitForConsoles(
        ctx,
        accepted.map((r) => r.node),
        enabled,
        { timeoutMs: Math.round(opts.timeout * 1000), progress: bar },
      );
    } finally {
      bar.stop();
    }
    outcomes.forEach((o, i) => (accepted[i].wait = o));
  }
  const failed = rows.filter((r) => r.error || (opts.wait && !r.wait?.ok));
  for (const r of failed) process.stderr.write(`error: node ${r.node.name ?? r.node.uuid}: ${r.error ?? r.wait?.reason}\n`);
  out.list(rows, changeColumns(!!opts.wait), (r) => {
    const base: Record<string, unknown> = { uuid: r.node.uuid, name: r.node.name, desired: r.error ? null : enabled ? 'enabled' : 'disabled', changed: r.changed };
    if (opts.wait) {
      base.result = r.error || !r.wait?.ok ? 'failed' : 'ok';
      if (r.wait?.facts) Object.assign(base, { console: consoleJson(r.wait.facts) });
    }
    base.reason = r.error ?? r.wait?.reason ?? null;
    return base;
  });
  if (failed.length > 0) {
    process.stderr.write(`${failed.length} of ${rows.length} node${rows.length === 1 ? '' : 's'} failed\n`);
    process.exitCode = EXIT_FAILURE;
  }
}

export function registerConsoleCommands(program: Command): void {
  const group = program
    .command('console')
    .description('show, enable and disable serial consoles')
    .addHelpText(
      'after',
      `
Examples:
  solgate console show node-17
  solgate console enable -l group=rack1 --wait
  solgate console disable --all --wait --timeout 120`,
    );

  selectionOptions(
    group
      .command('show')
      .alias('get')
      .description('show consoles: intent, observed state, URL, ring owner (all nodes when none is named)')
      .argument('[nodes...]', 'node uuids or names'),
  )
    .addHelpText(
      'after',
      `
JSON output carries, for each node, console_enabled and console_info exactly as the API's
GET /v1/nodes/X/states/console reports them (enabled only while the console really serves), plus
desired (the intent), state, owner (ring), conductor (that reported the state), pid, restarts and
last_error. With exactly one node named, JSON is that object rather than a list.
${selectorHelp()}
Examples:
  solgate console show node-17 -o json
  solgate console show -l 'console=enabled,state!=running' -o wide`,
    )
    .action(async (idents: string[], opts: Selection, cmd: Command) =>
      withContext(cmd, async (ctx, out) => {
        const nodes = await ctx.selectNodes({ idents, all: opts.all, selector: opts.selector }, { required: false });
        const facts = await ctx.factsOf(nodes);
        if (idents.length === 1) out.item(facts[0], consoleColumns, consoleJson);
        else out.list(facts, consoleColumns, consoleJson);
      }),
    );

  for (const enabled of [true, false]) {
    const verb = enabled ? 'enable' : 'disable';
    selectionOptions(
      group
        .command(verb)
        .description(`${verb} consoles (records the intent; the owning conductor ${enabled ? 'starts' : 'stops'} them)`)
        .argument('[nodes...]', 'node uuids or names'),
    )
      .option('-w, --wait', `wait until each console ${enabled ? 'serves' : 'has stopped'}`)
      .option('--timeout <seconds>', 'how long --wait waits', parseSeconds('--timeout', 0.1, 86400), 60)
      .option('--progress', 'show the --wait progress bar even when stderr is not a terminal')
      .addHelpText(
        'after',
        `
Like the API's PUT states/console: the intent is recorded at once and the owner acts on it within
milliseconds; setting the state a node already has changes nothing. With --wait the command waits
until ${enabled ? 'each console serves (what GET states/console reports as enabled)' : 'no console is served and each observed state is stopped'}, and
exits 1 if any node fails, printing each with its reason (its last_error, "no live conductor in
group 'X'", or "still starting"). A console that reaches the error state fails at once.
${selectorHelp()}
Examples:
  solgate console ${verb} node-17
  solgate console ${verb} -l 'group=rack1,name=node-*' --wait
  solgate console ${verb} --all --wait --timeout 300 -o json`,
      )
      .action(async (idents: string[], opts: Selection & { wait?: boolean; timeout: number; progress?: boolean }, cmd: Command) =>
        withContext(cmd, (ctx, out) => setIntent(ctx, out, idents, opts, enabled)),
      );
  }
  registerConsoleAttach(group);
}
