import type { Command } from 'commander';
import { errorMessage } from '#libs/common';
import { InvalidArgumentError } from 'commander';
import { ConsoleLogRepository, type ConsoleLogEntry, type NodeRecord } from '#libs/nodes';
import { plainConsoleText, parseDurationMs } from '../lib/console-log-text.js';
import { withContext, type CliContext } from '../lib/context.js';
import { mapLimit } from '../lib/concurrency.js';
import { EXIT_FAILURE } from '../lib/errors.js';
import { parseInteger, parseSeconds } from '../lib/global-options.js';
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

const durationOption = (v: string) => {
  try {
    return parseDurationMs(v);
  } catch (e) {
    throw new InvalidArgumentError(errorMessage(e));
  }
};

/** Entries per XRANGE page of `console log`. */
const LOG_PAGE = 10_000;

/**
 * `console log`: the node's console log from Redis (what its broker captured, across takeovers), no
 * conductor involved. Plain text by default (escape sequences and control characters removed),
 * exact bytes with --raw; --follow waits for more until interrupted.
 */
async function showLog(ctx: CliContext, out: Printer, ident: string, opts: { follow?: boolean; since?: number; raw?: boolean }): Promise<void> {
  const node = await ctx.findNode(ident);
  const repo = new ConsoleLogRepository(ctx.redis, ctx.keys);
  const from = opts.since === undefined ? 0 : (await repo.now()) - opts.since;
  const structured = ctx.options.output === 'json' || ctx.options.output === 'yaml';
  const print = (entries: ConsoleLogEntry[]) => {
    if (structured) return;
    for (const e of entries) process.stdout.write(opts.raw ? e.data : plainConsoleText(e.data));
  };
  const entries: ConsoleLogEntry[] = [];
  for (;;) {
    const page = await repo.since(node.uuid, from, LOG_PAGE, entries.at(-1)?.id);
    entries.push(...page);
    if (page.length < LOG_PAGE) break;
  }
  if (structured) {
    out.list(entries, [], (e) => ({ at: new Date(e.at).toISOString(), offset: e.offset, bytes: e.data.length, text: opts.raw ? e.data.toString('latin1') : plainConsoleText(e.data) }));
    return;
  }
  print(entries);
  if (!opts.follow) return;
  const reader = ctx.redis.duplicate();
  let stop = false;
  const onSignal = () => {
    stop = true;
    reader.disconnect();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // after the last entry read, or else from the --since time: not '$', which would miss what came
    // between the read above and the first XREAD
    let after = entries.at(-1)?.id ?? `${Math.max(0, Math.floor(from))}-0`;
    while (!stop) {
      let more: ConsoleLogEntry[];
      try {
        more = await repo.follow(reader, node.uuid, after, 1000);
      } catch (e) {
        if (stop) break;
        throw e;
      }
      if (more.length) after = more[more.length - 1]!.id;
      print(more);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    reader.disconnect();
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
  solgate console disable --all --wait --timeout 120
  solgate console log node-17 --since 15m
  solgate console who node-17`,
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

  group
    .command('log')
    .description('print a node’s console log from Redis (what its broker captured; survives takeover)')
    .argument('<node>', 'node uuid or name')
    .option('-f, --follow', 'keep printing new output until interrupted')
    .option('--since <duration>', 'only output of the last DURATION (90s, 15m, 2h, 1d)', durationOption)
    .option('--raw', 'the exact bytes (escape sequences and CR included) instead of plain text')
    .addHelpText(
      'after',
      `
The owner's console broker appends the node's output to a capped Redis Stream in ~50 ms batches
(SOLGATE_CONSOLE_LOG_BYTES per node), so this works with no conductor involved and shows what a
previous owner captured before a takeover. With SOLGATE_CONSOLE_CAPTURE=always (or the node's
driver_info.solgate_console_capture) output is captured with nobody watching. -o json prints one
object per batch (at, offset, bytes, text). Full logs are files on the owning conductor
(SOLGATE_CONSOLE_LOG_DIR).

Examples:
  solgate console log node-17
  solgate console log node-17 --since 15m
  solgate console log node-17 --follow --raw`,
    )
    .action(async (ident: string, opts: { follow?: boolean; since?: number; raw?: boolean }, cmd: Command) => withContext(cmd, (ctx, out) => showLog(ctx, out, ident, opts)));

  group
    .command('who')
    .description('show who is attached to a node’s console and who holds its write lock')
    .argument('<node>', 'node uuid or name')
    .option('--audit [count]', 'also print the last COUNT audit events (attach, detach, write lock, break, BMC session)', parseInteger('--audit', 1, 1000))
    .addHelpText(
      'after',
      `
Read from Redis, where the node's console broker publishes its viewers (fenced by the node's claim:
a previous owner's list is not shown). WRITER marks the write-lock holder.

Examples:
  solgate console who node-17
  solgate console who node-17 --audit 20 -o json`,
    )
    .action(async (ident: string, opts: { audit?: number | true }, cmd: Command) =>
      withContext(cmd, async (ctx, out) => {
        const node = await ctx.findNode(ident);
        const repo = new ConsoleLogRepository(ctx.redis, ctx.keys);
        const [published, status] = await Promise.all([repo.viewers(node.uuid), ctx.statuses.get(node.uuid)]);
        const current = published && status.incarnation === published.incarnation && status.state !== 'stopped' ? published : null;
        const viewers = current?.viewers ?? [];
        const count = opts.audit === undefined ? 0 : opts.audit === true ? 20 : opts.audit;
        const audit = count ? await repo.audit(node.uuid, count) : [];
        const structured = ctx.options.output === 'json' || ctx.options.output === 'yaml';
        if (structured) {
          out.item({ node, viewers, audit }, [], (r) => ({
            uuid: r.node.uuid,
            name: r.node.name,
            conductor: current?.conductor ?? null,
            viewers: r.viewers.map((v) => ({ name: v.name, address: v.address, via: v.via, writer: v.writer, read_only: v.readOnly, attached_at: new Date(v.attachedAt).toISOString() })),
            ...(count ? { audit: r.audit.map((a) => ({ at: new Date(a.at).toISOString(), event: a.event, client: a.client, name: a.name, via: a.via, offset: a.offset, detail: a.detail })) } : {}),
          }));
          return;
        }
        if (viewers.length === 0) process.stderr.write(`no viewers on node ${node.name ?? node.uuid}\n`);
        out.list(viewers, [
          { header: 'NAME', value: (v) => v.name },
          { header: 'ADDRESS', value: (v) => v.address },
          { header: 'VIA', value: (v) => v.via },
          { header: 'WRITER', value: (v) => (v.writer ? 'yes' : v.readOnly ? 'read-only' : 'no') },
          { header: 'SINCE', value: (v) => new Date(v.attachedAt).toISOString() },
        ], (v) => v);
        if (count) {
          process.stdout.write('\n');
          out.list(audit, [
            { header: 'TIME', value: (a) => new Date(a.at).toISOString() },
            { header: 'EVENT', value: (a) => a.event },
            { header: 'CLIENT', value: (a) => a.client },
            { header: 'OFFSET', value: (a) => a.offset },
            { header: 'DETAIL', value: (a) => (a.detail ? JSON.stringify(a.detail) : null) },
          ], (a) => a);
        }
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
