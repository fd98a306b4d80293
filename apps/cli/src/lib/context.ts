import type { Command } from 'commander';
import type { Redis } from 'ioredis';
import { ClaimRepository, ClusterSettingsRepository, ClusterView, MembershipRepository, type ClusterSettings } from '#libs/cluster';
import { CONFIG_VARIABLES, DEFAULT_RING_VNODES } from '#libs/config';
import { ConsoleControl } from '#libs/console';
import { ConsoleStatusRepository, NodeRepository, NodeService, type ConsoleStatus, type NodeRecord, type TerminalPortPolicy } from '#libs/nodes';
import { closeRedisClient, createRedisClient, Keys, RecordProblems, redactRedisUrl } from '#libs/redis';
import { CliError, nodeNotFound, UsageError } from './errors.js';
import type { NodeFacts } from './node-view.js';
import { matchesSelector, parseSelector, selectorNeeds, type SelectorSubject } from './selector.js';
import { colorEnabled, Printer, type OutputFormat } from './output.js';

/** Options every command accepts (defined once on the program, see program.ts). */
export interface GlobalOptions {
  redis: string;
  prefix: string;
  connectTimeoutMs: number;
  output: OutputFormat;
  headers: boolean;
  color: boolean;
  /** The conductors' SOLGATE_ALLOW_PRIVILEGED_PORTS and SOLGATE_ALLOW_PORTS_OUTSIDE_RANGE (the range itself is the cluster's). */
  allowPrivilegedPorts: boolean;
  allowPortsOutsideRange: boolean;
}

/** Options as commander parsed them (durations in seconds, see program.ts), with durations in ms. */
export function globalOptions(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as Record<string, unknown>;
  return {
    redis: o.redis as string,
    prefix: o.prefix as string,
    connectTimeoutMs: Math.round((o.connectTimeout as number) * 1000),
    output: o.output as OutputFormat,
    headers: o.headers !== false,
    color: o.color !== false,
    allowPrivilegedPorts: o.allowPrivilegedPorts === true,
    allowPortsOutsideRange: o.allowPortsOutsideRange === true,
  };
}

export function printerFor(cmd: Command): Printer {
  const g = globalOptions(cmd);
  return new Printer(g.output, g.headers, colorEnabled(process.stdout, process.env, g.color));
}

/**
 * Connect to Redis or fail fast: one attempt, bounded by the connect timeout (ioredis would
 * otherwise retry forever, as a conductor must). The message never carries the URL's password.
 */
export async function connectRedis(url: string, prefix: string, connectTimeoutMs: number): Promise<Redis> {
  const where = redactRedisUrl(url);
  let client: Redis;
  try {
    client = createRedisClient(url, {
      // Not `solgate:<prefix>:<member>:<incarnation>:<role>`: the failure detector must never take the CLI for a conductor.
      name: `solgate-cli:${prefix}:${process.pid}`,
      lazyConnect: true,
      maxConnectAttempts: 1,
      connectTimeoutMs,
      commandTimeoutMs: 30_000,
    });
  } catch (e) {
    throw new CliError(`invalid Redis URL ${where}: ${e instanceof Error ? e.message : String(e)}`);
  }
  let lastError: unknown;
  client.on('error', (e) => (lastError = e)); // reported below; keeps ioredis from printing "Unhandled error event"
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${connectTimeoutMs / 1000} s`)), connectTimeoutMs);
      }),
    ]);
  } catch (e) {
    client.disconnect();
    const err = (e instanceof Error && e.message !== 'Connection is closed.' ? e : lastError ?? e) as Error;
    const msg = (err?.message ?? String(err)).split('\n')[0];
    throw new CliError(`cannot connect to Redis at ${where}: ${msg}`);
  } finally {
    if (timer) clearTimeout(timer);
  }
  return client;
}

/** What the CLI assumes when no conductor has published the cluster's settings yet: the conductors' defaults. */
export const DEFAULT_CLUSTER_SETTINGS: ClusterSettings = {
  ringVnodes: DEFAULT_RING_VNODES,
  heartbeatTimeoutMs: Number(CONFIG_VARIABLES.SOLGATE_HEARTBEAT_TIMEOUT) * 1000,
  portRange: { start: Number(CONFIG_VARIABLES.SOLGATE_PORT_RANGE.split(':')[0]), stop: Number(CONFIG_VARIABLES.SOLGATE_PORT_RANGE.split(':')[1]) },
};

/**
 * What a command works with: the same repositories and Lua scripts the conductors use, on one
 * fail-fast connection, the cluster's settings (ring vnodes, heartbeat timeout) as the conductors
 * published them, and a cluster view read on Redis's clock. The CLI never heartbeats and never runs
 * consoles.
 */
export class CliContext {
  readonly keys: Keys;
  readonly nodes: NodeRepository;
  readonly statuses: ConsoleStatusRepository;
  readonly claims: ClaimRepository;
  readonly membership: MembershipRepository;
  readonly nodeService: NodeService;
  readonly consoles: ConsoleControl;
  readonly settingsRepo: ClusterSettingsRepository;
  /** The cluster's settings (DEFAULT_CLUSTER_SETTINGS until a conductor publishes them). */
  settings: ClusterSettings = DEFAULT_CLUSTER_SETTINGS;
  /** Whether a conductor has published the settings. */
  settingsPublished = false;
  /** Unreadable records met by this command (skipped); summarised on stderr at close unless a command reports them itself. */
  readonly problems = new RecordProblems();
  reportsProblemsItself = false;
  /** Fixed console ports a node may ask for: the cluster's port range (set by refreshView) and the --allow-* flags. */
  readonly terminalPorts: TerminalPortPolicy;
  private currentView: ClusterView;

  private constructor(
    readonly redis: Redis,
    readonly options: GlobalOptions,
  ) {
    this.keys = new Keys(options.prefix);
    this.nodes = new NodeRepository(redis, this.keys, this.problems);
    this.statuses = new ConsoleStatusRepository(redis, this.keys, this.problems);
    this.claims = new ClaimRepository(redis, this.keys, this.problems);
    this.membership = new MembershipRepository(redis, this.keys);
    this.terminalPorts = {
      range: this.settings.portRange,
      allowPrivileged: options.allowPrivilegedPorts,
      allowOutsideRange: options.allowPortsOutsideRange,
    };
    this.nodeService = new NodeService(this.nodes, this.terminalPorts);
    this.settingsRepo = new ClusterSettingsRepository(redis, this.keys);
    this.currentView = ClusterView.empty(this.settings.ringVnodes);
    this.consoles = new ConsoleControl(this.nodes, this.statuses, () => this.currentView);
  }

  static async open(options: GlobalOptions): Promise<CliContext> {
    const redis = await connectRedis(options.redis, options.prefix, options.connectTimeoutMs);
    const ctx = new CliContext(redis, options);
    await ctx.refreshView();
    return ctx;
  }

  get view(): ClusterView {
    return this.currentView;
  }

  get heartbeatTimeoutMs(): number {
    return this.settings.heartbeatTimeoutMs;
  }

  /** Re-read the cluster's settings and membership (one snapshot on Redis's clock) and rebuild the rings. */
  async refreshView(): Promise<ClusterView> {
    const published = await this.settingsRepo.read();
    this.settings = published ?? DEFAULT_CLUSTER_SETTINGS;
    this.settingsPublished = !!published;
    this.terminalPorts.range = this.settings.portRange;
    this.currentView = new ClusterView(await this.membership.snapshot(this.settings.heartbeatTimeoutMs), this.settings.ringVnodes, this.currentView);
    return this.currentView;
  }

  /** A node by uuid or name, or exit 1 with "node X not found". */
  async findNode(ident: string): Promise<NodeRecord> {
    const uuid = await this.nodes.resolve(ident);
    const node = uuid ? await this.nodes.get(uuid) : undefined;
    if (!node) throw nodeNotFound(ident);
    return node;
  }

  /** Every node, in creation order (pipelined reads; fine for tens of thousands). */
  async allNodes(): Promise<NodeRecord[]> {
    const uuids = await this.nodes.listUuids();
    const out: NodeRecord[] = [];
    for (let i = 0; i < uuids.length; i += 2000) out.push(...(await this.nodes.getMany(uuids.slice(i, i + 2000))));
    return out;
  }

  async statusesOf(nodes: NodeRecord[]): Promise<ConsoleStatus[]> {
    const out: ConsoleStatus[] = [];
    for (let i = 0; i < nodes.length; i += 2000) out.push(...(await this.statuses.getMany(nodes.slice(i, i + 2000).map((n) => n.uuid))));
    return out;
  }

  /** Console facts for nodes whose statuses were read already. */
  describe(nodes: NodeRecord[], statuses: ConsoleStatus[]): NodeFacts[] {
    return nodes.map((node, i) => {
      const console = this.consoles.describe(node, statuses[i]);
      return { node, console, runsOnLiveConductor: console.phase.reporterLive };
    });
  }

  async factsOf(nodes: NodeRecord[]): Promise<NodeFacts[]> {
    return this.describe(nodes, await this.statusesOf(nodes));
  }

  /**
   * The nodes a command acts on: named ones (uuid or name; any unknown one fails the command before
   * anything changes), or `--all`, or those matching `--selector`.
   */
  async selectNodes(sel: { idents: string[]; all?: boolean; selector?: string }, { required = true } = {}): Promise<NodeRecord[]> {
    const reqs = sel.selector !== undefined ? parseSelector(sel.selector) : undefined;
    if (sel.idents.length > 0 && (sel.all || reqs)) throw new UsageError('name nodes, or use --all or --selector, not both');
    if (sel.all && reqs) throw new UsageError('use either --all or --selector, not both');
    if (sel.idents.length > 0) {
      const found = await Promise.all(sel.idents.map(async (i) => ({ ident: i, uuid: await this.nodes.resolve(i) })));
      const missing = found.filter((f) => !f.uuid).map((f) => f.ident);
      if (missing.length === 1) throw nodeNotFound(missing[0]);
      if (missing.length > 1) throw new CliError(`nodes ${missing.join(', ')} not found`);
      const uuids = [...new Set(found.map((f) => f.uuid!))];
      // named nodes include unreadable records' stubs: an operator must be able to show and delete them
      const nodes = await this.nodes.getMany(uuids, { includeUnreadable: true });
      if (nodes.length !== uuids.length) throw new CliError('a node was deleted while the command ran; retry');
      return nodes;
    }
    if (!sel.all && !reqs) {
      if (required) throw new UsageError('name at least one node (uuid or name), or use --all or --selector');
      return this.allNodes();
    }
    const all = await this.allNodes();
    if (!reqs) return all;
    const statuses = selectorNeeds(reqs, 'state') ? await this.statusesOf(all) : undefined;
    return all.filter((n, i) => {
      const subject: SelectorSubject = {
        name: n.name ?? '',
        uuid: n.uuid,
        group: n.conductor_group,
        interface: n.console_interface,
        driver: n.driver,
        address: String(n.driver_info.ipmi_address ?? ''),
        console: n.console_enabled ? 'enabled' : 'disabled',
        state: statuses ? statuses[i].state : '',
        owner: this.currentView.ownerOf(n.uuid, n.conductor_group) ?? '',
      };
      return matchesSelector(reqs, subject);
    });
  }

  async close(): Promise<void> {
    await closeRedisClient(this.redis);
    const seen = this.problems.current();
    if (seen.length > 0 && !this.reportsProblemsItself) {
      const n = seen.length;
      process.stderr.write(`solgate: warning: skipped ${n} unreadable record${n === 1 ? '' : 's'} in Redis (${seen.slice(0, 3).map((p) => p.key).join(', ')}${n > 3 ? ', …' : ''}); \`solgate doctor\` names them\n`);
    }
  }
}

/** Open a context for a command, run it, and always close the connection. */
export async function withContext<T>(cmd: Command, fn: (ctx: CliContext, printer: Printer) => Promise<T>): Promise<T> {
  const ctx = await CliContext.open(globalOptions(cmd));
  try {
    return await fn(ctx, printerFor(cmd));
  } finally {
    await ctx.close();
  }
}
