import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { errorMessage } from '#libs/common';
import {
  cloudFileCandidates,
  HttpClient,
  IronicClient,
  IronicSync,
  IronicSyncError,
  KeystoneAuth,
  loadCloudConfig,
  NodeRepositoryTarget,
  StaticTokenAuth,
  summaryLine,
  type IronicAuth,
  type SyncProgress,
  type SyncSummary,
} from '#libs/ironic-sync';
import { withContext } from '../lib/context.js';
import { CliError, EXIT_FAILURE, UsageError } from '../lib/errors.js';
import { parseInteger, parseSeconds } from '../lib/global-options.js';
import type { Column, Printer } from '../lib/output.js';
import { progressBar, type Progress } from '../lib/progress.js';

interface SyncFlags {
  url?: string;
  token?: string;
  tokenFile?: string;
  osCloud?: string;
  cacert?: string;
  insecure?: boolean;
  watch?: boolean;
  interval: number;
  dryRun?: boolean;
  prune: boolean;
  allowMaskedPasswords?: boolean;
  allowEmpty?: boolean;
  pageSize: number;
  deleteTimeout: number;
  progress?: boolean;
}

interface ChangeRow {
  name: string | null;
  uuid: string;
  action: string;
  detail: string;
}

const changeColumns: Column<ChangeRow>[] = [
  { header: 'NAME', value: (r) => r.name },
  { header: 'UUID', value: (r) => r.uuid },
  { header: 'ACTION', value: (r) => r.action },
  { header: 'DETAIL', value: (r) => r.detail },
];

function readToken(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new CliError(`cannot read the token file ${path}: ${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}`);
  }
}

/** Credentials and Ironic's URL from the flags: a token, a clouds.yaml cloud (Keystone), or none (noauth Ironic). */
async function connect(f: SyncFlags): Promise<IronicClient> {
  if ((f.token !== undefined || f.tokenFile !== undefined) && f.osCloud !== undefined) throw new UsageError('use either --token/--token-file or --os-cloud, not both');
  if (f.token !== undefined && f.tokenFile !== undefined) throw new UsageError('use either --token or --token-file, not both');
  let auth: IronicAuth;
  let http: HttpClient;
  if (f.osCloud !== undefined) {
    const cloud = loadCloudConfig(f.osCloud, cloudFileCandidates(process.env, process.cwd()));
    http = new HttpClient({ caFile: f.cacert ?? cloud.cacert, insecure: f.insecure || cloud.verify === false });
    auth = new KeystoneAuth(cloud, http);
  } else {
    http = new HttpClient({ caFile: f.cacert, insecure: f.insecure });
    auth = new StaticTokenAuth(f.tokenFile !== undefined ? readToken(f.tokenFile) : f.token || undefined);
  }
  const url = f.url ?? (await auth.baremetalEndpoint?.());
  if (!url) throw new UsageError(f.osCloud !== undefined ? `cloud ${f.osCloud} has no baremetal endpoint in its catalog: give --url` : 'give --url (Ironic\'s API endpoint) or --os-cloud');
  return new IronicClient(url, auth, http);
}

/** Progress on stderr: the pages read from Ironic, then the writes. */
function progressReporter(force: boolean) {
  let bar: Progress | undefined;
  let phase: SyncProgress['phase'] | undefined;
  return {
    onProgress(p: SyncProgress) {
      if (p.phase !== phase) {
        bar?.stop();
        phase = p.phase;
        bar = progressBar(p.phase === 'list' ? 'reading Ironic' : 'syncing', Math.max(1, p.total), { force });
      }
      if (p.phase === 'list') bar!.setTotal(Math.max(1, p.total));
      bar!.update(p.done);
    },
    stop() {
      bar?.stop();
      bar = undefined;
      phase = undefined;
    },
  };
}

function changeRows(s: SyncSummary): ChangeRow[] {
  return [
    ...s.changes.map((c) => ({
      name: c.name,
      uuid: c.uuid,
      action: c.action === 'create' ? 'created' : c.action === 'update' ? 'updated' : 'deleted',
      detail: c.fields?.join(' ') ?? '',
    })),
    ...s.skipped.map((k) => ({ name: k.name, uuid: k.uuid, action: 'skipped', detail: k.reason })),
  ];
}

function report(out: Printer, s: SyncSummary, watch: boolean): void {
  if (out.structured) {
    // one document per pass; with --watch in JSON, one line each (NDJSON)
    if (watch && out.format === 'json') process.stdout.write(JSON.stringify(s) + '\n');
    else out.data(s, '');
    return;
  }
  const rows = changeRows(s);
  if (rows.length > 0) out.list(rows, changeColumns, (r) => r);
  for (const n of s.notes) process.stderr.write(`note: node ${n.name ?? n.uuid}: ${n.note}\n`);
  out.data(undefined, `${watch ? `${new Date().toISOString()} ` : ''}${summaryLine(s)}`);
}

export function registerIronicCommands(program: Command): void {
  const ironic = program
    .command('ironic')
    .description('live beside an OpenStack Ironic: mirror its nodes into solgate')
    .addHelpText(
      'after',
      `
Examples:
  solgate ironic sync --url http://ironic.example.net:6385 --os-cloud admin
  solgate ironic sync --os-cloud admin --watch --interval 60
See docs/ironic.md (and deploy/haproxy for routing Nova's console calls to solgate).`,
    );

  ironic
    .command('sync')
    .description("mirror Ironic's nodes into solgate by uuid (create, update, delete)")
    .addOption(new Option('--url <url>', "Ironic's API endpoint, e.g. http://ironic:6385 (default with --os-cloud: the catalog's baremetal endpoint)").env('SOLGATE_IRONIC_URL'))
    .addOption(new Option('--token <token>', 'X-Auth-Token to send (visible to other users in the process list: prefer --token-file)').env('SOLGATE_IRONIC_TOKEN'))
    .option('--token-file <path>', 'read the X-Auth-Token from this file')
    .addOption(new Option('--os-cloud <name>', 'authenticate with Keystone as this clouds.yaml cloud (password, application credential or token)').env('OS_CLOUD'))
    .option('--cacert <file>', 'CA bundle for an https Ironic or Keystone (default: the cloud\'s cacert)')
    .option('--insecure', 'do not verify TLS certificates')
    .option('--watch', 'keep syncing every --interval until interrupted')
    .option('--interval <seconds>', 'seconds between passes with --watch', parseSeconds('--interval', 1, 86400), 60)
    .option('--dry-run', 'show what would change; write nothing')
    .option('--no-prune', 'never delete nodes, even synced ones Ironic no longer has')
    .option('--allow-masked-passwords', 'go on when Ironic masks every password (stored passwords are kept; new nodes get none)')
    .option('--allow-empty', 'when Ironic lists no nodes, delete every node the sync created (refused by default)')
    .option('--page-size <n>', 'nodes per page of Ironic\'s list (limit/marker paging)', parseInteger('--page-size', 1, 1000), 500)
    .option('--delete-timeout <seconds>', 'how long to wait for a deleted node\'s console to stop', parseSeconds('--delete-timeout', 0.1, 3600), 15)
    .option('--progress', 'show progress even when stderr is not a terminal')
    .addHelpText(
      'after',
      `
Mirrors by uuid: name, driver_info (ipmi_address, ipmi_port, ipmi_username, ipmi_password,
ipmi_priv_level, ipmi_cipher_suite, ipmi_terminal_port), conductor_group, console_interface
(ipmitool-socat stays, ipmitool-shellinabox becomes ipmitool-socat, anything else no-console),
instance_uuid, maintenance (and its reason), resource_class, owner, lessee, traits and shard.
Nodes the sync creates carry
extra.solgate_ironic_sync=true; only those are deleted when Ironic no longer has them. Nodes an
operator created are updated when Ironic has their uuid, never deleted. The console intent stays
solgate's (Nova's console calls reach solgate, see docs/ironic.md).

Passwords arrive only when Ironic's policy allows it: "show_password": "<rule>" in the file Ironic's
[oslo_policy] policy_file names. When every password comes back as ******, the sync stops with exit 1.
Tokens and passwords are never printed.

Prints the changed and skipped nodes and a summary line (data on stdout; progress, notes on stderr).
Exit 0 when every node was mirrored, 1 when the sync failed or skipped a node.

Examples:
  solgate ironic sync --url http://127.0.0.1:6385                      # a noauth Ironic
  solgate ironic sync --os-cloud admin --dry-run
  solgate ironic sync --url https://ironic:6385 --token-file ./token --cacert ca.pem -o json
  solgate ironic sync --os-cloud admin --watch --interval 30`,
    )
    .action(async (flags: SyncFlags, cmd: Command) => {
      if (flags.watch && flags.dryRun) throw new UsageError('--watch cannot be combined with --dry-run');
      const client = await connect(flags);
      await withContext(cmd, async (ctx, out) => {
        const target = new NodeRepositoryTarget(ctx.nodes, ctx.consoles, Math.round(flags.deleteTimeout * 1000));
        const sync = new IronicSync(client, target);
        const pass = async (): Promise<SyncSummary> => {
          const progress = progressReporter(!!flags.progress);
          try {
            return await sync.run({
              dryRun: flags.dryRun,
              prune: flags.prune,
              allowMaskedPasswords: flags.allowMaskedPasswords,
              allowEmpty: flags.allowEmpty,
              pageSize: flags.pageSize,
              onProgress: (p) => progress.onProgress(p),
            });
          } finally {
            progress.stop();
          }
        };
        if (!flags.watch) {
          const s = await pass();
          report(out, s, false);
          if (s.skipped.length > 0) process.exitCode = EXIT_FAILURE;
          return;
        }
        // --watch: a pass every interval until SIGINT/SIGTERM; a failed pass is reported and retried
        let stop = false;
        let wake: (() => void) | undefined;
        const onSignal = () => {
          stop = true;
          wake?.();
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        try {
          while (!stop) {
            try {
              report(out, await pass(), true);
            } catch (e) {
              if (e instanceof IronicSyncError && (e.code === 'CONFIG' || e.code === 'PASSWORDS_MASKED')) throw e; // retrying cannot help
              process.stderr.write(`error: ${errorMessage(e)} (retrying in ${flags.interval} s)\n`);
            }
            if (stop) break;
            await new Promise<void>((resolve) => {
              const t = setTimeout(resolve, flags.interval * 1000);
              wake = () => {
                clearTimeout(t);
                resolve();
              };
            });
            wake = undefined;
          }
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      });
    });
}
