import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { errorMessage } from '#libs/common';
import { maskDriverInfo } from '#libs/nodes';
import { withContext } from '../lib/context.js';
import { CliError, EXIT_FAILURE, UsageError } from '../lib/errors.js';
import { parseSeconds } from '../lib/global-options.js';
import { importNodes, type ImportResult, type Rejection } from '../lib/node-import.js';
import { bodyFromFlags, detectFormat, parseNodeFile, patchFromFlags, type InputFormat, type InputRow, type NodeFlags } from '../lib/node-input.js';
import { consoleStateLabel, nodeJson, nodeLastError, type NodeFacts } from '../lib/node-view.js';
import { stateColor, type Column, type Printer } from '../lib/output.js';
import { passwordFromOptions } from '../lib/password.js';
import { progressBar } from '../lib/progress.js';
import { selectorHelp } from '../lib/selector.js';

const nodeColumns: Column<NodeFacts>[] = [
  { header: 'NAME', value: (f) => f.node.name },
  { header: 'UUID', value: (f) => f.node.uuid },
  { header: 'GROUP', value: (f) => f.node.conductor_group || '""' },
  { header: 'INTERFACE', value: (f) => f.node.console_interface, wide: true },
  { header: 'ADDRESS', value: (f) => f.node.driver_info.ipmi_address as string | undefined, wide: true },
  { header: 'CONSOLE', value: (f) => (f.node.console_enabled ? 'enabled' : 'disabled') },
  { header: 'STATE', value: (f) => consoleStateLabel(f), color: stateColor },
  { header: 'OWNER', value: (f) => f.console.conductor },
  { header: 'URL', value: (f) => f.console.url, wide: true },
  { header: 'LAST ERROR', value: (f) => nodeLastError(f.node, { conductor: f.console.conductor, status: f.console.status }), wide: true },
];

/** Node flags shared by `create` and `update`. */
function addNodeFlags(cmd: Command): Command {
  return cmd
    .option('--name <name>', 'node name (unique)')
    .option('--driver <driver>', 'hardware type: ipmi (or a legacy name such as pxe_ipmitool_socat)')
    .option('--console-interface <interface>', 'ipmitool-socat, native-ipmi-socat or no-console')
    .option('--address <host>', 'BMC address (driver_info.ipmi_address)')
    .option('--port <port>', 'BMC UDP port (driver_info.ipmi_port)')
    .option('--username <user>', 'BMC user (driver_info.ipmi_username)')
    .option('--password-file <path>', 'read the BMC password from this file (driver_info.ipmi_password)')
    .option('--password-prompt', 'ask for the BMC password (no echo; reads a line from stdin when it is not a terminal)')
    .option('--priv-level <level>', 'ADMINISTRATOR, OPERATOR, USER or CALLBACK (driver_info.ipmi_priv_level)')
    .option('--cipher-suite <n>', 'IPMI cipher suite 0-17 (driver_info.ipmi_cipher_suite)')
    .option('--terminal-port <port>', 'fixed console TCP port (driver_info.ipmi_terminal_port)')
    .option('--group <group>', 'conductor group (conductor_group)')
    .option('--description <text>', 'free text');
}

const FLAG_NAMES: (keyof NodeFlags)[] = ['uuid', 'name', 'driver', 'consoleInterface', 'address', 'port', 'username', 'privLevel', 'cipherSuite', 'terminalPort', 'group', 'description'];
const flagsOf = (o: Record<string, unknown>): NodeFlags => Object.fromEntries(FLAG_NAMES.filter((k) => o[k] !== undefined).map((k) => [k, String(o[k])]));

function readInput(file: string, format?: InputFormat): InputRow[] {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}`);
  }
  return parseNodeFile(text, format ?? detectFormat(file === '-' ? '' : file, text));
}

const rejectionColumns: Column<Rejection>[] = [
  { header: 'ROW', value: (r) => r.row },
  { header: 'NAME', value: (r) => r.name },
  { header: 'REASON', value: (r) => r.reason },
];

function importJson(r: ImportResult) {
  return {
    total: r.total,
    created: r.dryRun ? 0 : r.created.length,
    valid: r.dryRun ? r.total - r.rejected.length : undefined,
    rejected: r.rejected,
    duration_ms: r.durationMs,
    dry_run: r.dryRun,
  };
}

function showNode(out: Printer, f: NodeFacts): void {
  const n = f.node;
  out.one(
    [
      ['uuid', n.uuid],
      ['name', n.name],
      ['driver', n.driver],
      ['console_interface', n.console_interface],
      ['conductor_group', n.conductor_group || '""'],
      ['driver_info', maskDriverInfo(n.driver_info)],
      ['console', n.console_enabled ? 'enabled' : 'disabled'],
      ['console_state', consoleStateLabel(f)],
      ['console_url', f.console.url],
      ['owner', f.console.conductor],
      ['reported_by', f.console.status.conductor],
      ['last_error', nodeLastError(n, { conductor: f.console.conductor, status: f.console.status })],
      ['provision_state', n.provision_state],
      ['description', n.description],
      ['created_at', new Date(n.created_at).toISOString()],
      ['updated_at', n.updated_at ? new Date(n.updated_at).toISOString() : null],
    ],
    nodeJson(n, f.console),
  );
}

export function registerNodesCommands(program: Command): void {
  const nodes = program
    .command('nodes')
    .alias('node')
    .description('list, show, create, update, delete and import nodes')
    .addHelpText(
      'after',
      `
Examples:
  solgate nodes list -l group=rack1
  solgate nodes show node-17 -o json
  solgate nodes create --name node-17 --address 10.0.7.17 --username admin --password-file ./pw
  solgate nodes import fleet.csv`,
    );

  nodes
    .command('list')
    .alias('ls')
    .description('list nodes with their console intent, observed state and ring owner')
    .option('-l, --selector <selector>', 'only nodes matching the selector (see below)')
    .addHelpText(
      'after',
      `
CONSOLE is the intent (enabled/disabled); STATE is what runs: running, starting, restarting, error,
stopping, stopped, or "no conductor" when the node's group has no live conductor. OWNER is the
conductor the ring assigns the node to. JSON output is the API's node document (GET /v1/nodes/X at
microversion 1.78, without links) for each node.
${selectorHelp()}
Examples:
  solgate nodes list
  solgate nodes list -o wide -l 'name=rack1-*,console=enabled'
  solgate nodes list -o json | jq -r '.[] | select(.last_error) | .name'`,
    )
    .action(async (opts: { selector?: string }, cmd: Command) =>
      withContext(cmd, async (ctx, out) => {
        const list = await ctx.selectNodes({ idents: [], selector: opts.selector }, { required: false });
        out.list(await ctx.factsOf(list), nodeColumns, (f) => nodeJson(f.node, f.console));
      }),
    );

  nodes
    .command('show')
    .alias('get')
    .description('show one node (uuid or name)')
    .argument('<node>', 'node uuid or name')
    .addHelpText(
      'after',
      `
JSON output is what the API returns for GET /v1/nodes/X at microversion 1.78 (passwords masked as
******), without the link fields.

Examples:
  solgate nodes show node-17
  solgate nodes show node-17 -o yaml`,
    )
    .action(async (ident: string, _opts, cmd: Command) =>
      withContext(cmd, async (ctx, out) => {
        const [f] = await ctx.factsOf([await ctx.findNode(ident)]);
        showNode(out, f);
      }),
    );

  addNodeFlags(
    nodes
      .command('create')
      .description('enrol a node from flags, or nodes from a file (-f)')
      .option('--uuid <uuid>', 'node uuid (default: a new one)')
      .option('-f, --filename <file>', 'JSON, YAML or CSV file with one node or a list ("-" reads stdin); see `solgate nodes import --help`'),
  )
    .addOption(new Option('--format <format>', 'format of --filename when its extension does not tell').choices(['json', 'yaml', 'csv']))
    .addHelpText(
      'after',
      `
The driver defaults to ipmi. Passwords are read from a file or a prompt, never from the command line,
and are never printed (the API shows ******). The node is validated exactly as the API validates a
POST; a file is validated as a whole before anything is written (see \`nodes import\`).

Examples:
  solgate nodes create --name node-17 --address 10.0.7.17 --username admin --password-file ./bmc-pw
  solgate nodes create --name node-18 --address bmc18.example.net --password-prompt --group rack2
  solgate nodes create -f node-17.yaml -o json`,
    )
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const flags = flagsOf(opts);
      const file = opts.filename as string | undefined;
      if (file !== undefined && Object.keys(flags).length > 0)
        throw new UsageError(`--filename cannot be combined with node flags (${Object.keys(flags).map((f) => '--' + f.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())).join(', ')})`);
      if (file === undefined && Object.keys(flags).length === 0) throw new UsageError('give the node as flags (at least --address or --name) or with -f FILE');
      const rows = file !== undefined ? readInput(file, opts.format as InputFormat | undefined) : undefined;
      const password = await passwordFromOptions(opts);
      await withContext(cmd, async (ctx, out) => {
        if (!rows) {
          const node = await ctx.nodeService.create(bodyFromFlags(flags, password), { provisionState: 'enroll' });
          const [f] = await ctx.factsOf([node]);
          out.item(f, nodeColumns, (x) => nodeJson(x.node, x.console));
          return;
        }
        const res = await importNodes(ctx, rows, { password });
        const created = await ctx.factsOf(res.created);
        if (created.length === 1 && rows.length === 1) out.item(created[0], nodeColumns, (x) => nodeJson(x.node, x.console));
        else out.list(created, nodeColumns, (x) => nodeJson(x.node, x.console));
        for (const r of res.rejected) process.stderr.write(`error: row ${r.row}${r.name ? ` (${r.name})` : ''}: ${r.reason}\n`);
        if (res.rejected.length > 0) process.exitCode = EXIT_FAILURE;
      });
    });

  addNodeFlags(
    nodes
      .command('update')
      .description('change a node with flags or an Ironic JSON Patch')
      .argument('<node>', 'node uuid or name'),
  )
    .option('--patch <json>', 'Ironic JSON Patch, e.g. \'[{"op":"replace","path":"/driver_info/ipmi_port","value":6230}]\'')
    .option('--unset <path...>', 'remove fields, e.g. driver_info/ipmi_terminal_port or description')
    .addHelpText(
      'after',
      `
Flags become JSON Patch "add" operations (which replace existing values); --patch adds your own
operations after them. The result is validated exactly as the API validates a PATCH, and written with
compare-and-set (a concurrent change makes it fail: retry). A console that runs restarts with the new
settings.

Examples:
  solgate nodes update node-17 --address 10.0.7.117 --port 6230
  solgate nodes update node-17 --password-file ./new-pw
  solgate nodes update node-17 --unset driver_info/ipmi_terminal_port
  solgate nodes update node-17 --patch '[{"op":"add","path":"/extra/rack","value":"r7"}]'`,
    )
    .action(async (ident: string, opts: Record<string, unknown>, cmd: Command) => {
      let extra: unknown[] = [];
      if (opts.patch !== undefined) {
        try {
          const p = JSON.parse(opts.patch as string);
          extra = Array.isArray(p) ? p : [p];
        } catch (e) {
          throw new UsageError(`--patch is not JSON: ${errorMessage(e)}`);
        }
      }
      const password = await passwordFromOptions(opts);
      const ops = [...patchFromFlags(flagsOf(opts), password, (opts.unset as string[] | undefined) ?? []), ...extra];
      if (ops.length === 0) throw new UsageError('nothing to change: give flags, --unset or --patch');
      await withContext(cmd, async (ctx, out) => {
        const node = await ctx.nodeService.patch(await ctx.findNode(ident), ops);
        const [f] = await ctx.factsOf([node]);
        out.item(f, nodeColumns, (x) => nodeJson(x.node, x.console));
      });
    });

  nodes
    .command('delete')
    .alias('rm')
    .description('delete nodes, stopping their consoles first')
    .argument('<nodes...>', 'node uuids or names')
    .option('--timeout <seconds>', 'how long to wait for a running console to stop', parseSeconds('--timeout', 0.1, 3600), 15)
    .addHelpText(
      'after',
      `
As the API does: the console intent is turned off, the owner stops the console (and ends the SOL
session), then the records go. A node whose console does not stop within --timeout is not deleted.

Examples:
  solgate nodes delete node-17
  solgate nodes delete node-17 node-18 -o json`,
    )
    .action(async (idents: string[], opts: { timeout: number }, cmd: Command) =>
      withContext(cmd, async (ctx, out) => {
        const list = await ctx.selectNodes({ idents });
        const results: { uuid: string; name: string | null; deleted: boolean; error: string | null }[] = [];
        for (const n of list) {
          try {
            await ctx.consoles.deleteNode(n, Math.round(opts.timeout * 1000));
            results.push({ uuid: n.uuid, name: n.name, deleted: true, error: null });
          } catch (e) {
            results.push({ uuid: n.uuid, name: n.name, deleted: false, error: errorMessage(e) });
            process.stderr.write(`error: node ${n.name ?? n.uuid}: ${errorMessage(e)}\n`);
            process.exitCode = EXIT_FAILURE;
          }
        }
        const done = results.filter((r) => r.deleted);
        out.data(results, done.map((r) => `node ${r.name ?? r.uuid} deleted`).join('\n'));
      }),
    );

  nodes
    .command('import')
    .description('enrol many nodes from a CSV, JSON or YAML file, with a progress bar and a report of rejected rows')
    .argument('<file>', 'the file ("-" reads stdin)')
    .addOption(new Option('--format <format>', 'input format when the file extension does not tell').choices(['json', 'yaml', 'csv']))
    .option('--password-file <path>', 'BMC password for rows that carry none')
    .option('--password-prompt', 'ask for the BMC password for rows that carry none (no echo)')
    .option('--dry-run', 'validate only; write nothing')
    .option('--progress', 'show the progress bar even when stderr is not a terminal')
    .option('--concurrency <n>', 'node writes in flight', (v) => Math.max(1, Math.min(1024, Number(v) || 64)), 64)
    .addHelpText(
      'after',
      `
The whole file is validated first, with the API's rules (addresses, ports, user names, names,
interfaces...), and checked for names and uuids that repeat within the file (the first row wins) or
exist already. Rejected rows are reported (row number, name, reason) and not stored; every other
node is then written with one atomic Redis script each, so no node is ever half-written. Exit 1 if
any row was rejected. Rows are numbered from 1, the CSV header not counted.

CSV: a header row naming the columns; empty cells are left out; the driver defaults to ipmi.
  name, uuid, driver, console_interface (or interface), conductor_group (or group), description,
  ipmi_address (or address), ipmi_port (or port), ipmi_username (or username),
  ipmi_password (or password), ipmi_priv_level (or priv_level), ipmi_cipher_suite (or cipher_suite),
  ipmi_terminal_port (or terminal_port), any other ipmi_* key, driver_info.<key>, extra.<key>,
  properties.<key>
JSON / YAML: one node, a list of nodes, or {"nodes": [...]}, each shaped like an API POST body:
  {"name": "node-1", "driver": "ipmi", "driver_info": {"ipmi_address": "10.0.0.1", ...}}

Examples:
  solgate nodes import fleet.csv
  solgate nodes import fleet.yaml --password-file ./bmc-pw --dry-run
  solgate nodes import fleet.json -o json > report.json`,
    )
    .action(async (file: string, opts: Record<string, unknown>, cmd: Command) => {
      const rows = readInput(file, opts.format as InputFormat | undefined);
      const password = await passwordFromOptions(opts);
      await withContext(cmd, async (ctx, out) => {
        const bar = progressBar(opts.dryRun ? 'validating' : 'importing', rows.length, { force: !!opts.progress });
        let res: ImportResult;
        try {
          res = await importNodes(ctx, rows, { password, dryRun: !!opts.dryRun, progress: bar, concurrency: opts.concurrency as number });
        } finally {
          bar.stop();
        }
        const stored = res.dryRun ? 0 : res.created.length;
        process.stderr.write(
          res.dryRun
            ? `validated ${res.total} rows in ${(res.durationMs / 1000).toFixed(2)} s: ${res.total - res.rejected.length} valid, ${res.rejected.length} rejected (dry run: nothing written)\n`
            : `imported ${stored} of ${res.total} nodes in ${(res.durationMs / 1000).toFixed(2)} s` +
                (res.rejected.length ? `; ${res.rejected.length} rejected (not stored):\n` : '\n'),
        );
        if (out.structured) out.data(importJson(res), '');
        else if (res.rejected.length > 0) out.list(res.rejected, rejectionColumns, (r) => r);
        if (res.rejected.length > 0) process.exitCode = EXIT_FAILURE;
      });
    });
}
