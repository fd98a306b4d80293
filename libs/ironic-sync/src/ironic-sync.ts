import { errorMessage, isSolgateError } from '#libs/common';
import { SECRET_MASK, writableView, type NodeRecord, type WritableNodeFields } from '#libs/nodes';
import { IronicSyncError } from './errors.js';
import type { IronicClient, IronicNode } from './ironic-client.js';
import { changedFields, isSyncManaged, mapIronicNode, stableJson } from './node-mapping.js';

/** Where the sync writes: solgate's node records (NodeRepository + ConsoleControl in production). */
export interface SyncTarget {
  listNodes(): Promise<NodeRecord[]>;
  get(uuid: string): Promise<NodeRecord | undefined>;
  create(fields: WritableNodeFields): Promise<NodeRecord>;
  /** Compare-and-set on the node's rev: throws CONFLICT when the node changed meanwhile. */
  update(node: NodeRecord, fields: WritableNodeFields): Promise<NodeRecord>;
  /** Stop the node's console, then delete it (as `solgate nodes delete` does). */
  delete(node: NodeRecord): Promise<void>;
}

export type SyncAction =
  | { kind: 'create'; uuid: string; name: string | null; fields: WritableNodeFields; notes: string[] }
  | { kind: 'update'; uuid: string; name: string | null; node: NodeRecord; fields: WritableNodeFields; changes: string[]; notes: string[] }
  | { kind: 'delete'; uuid: string; name: string | null; node: NodeRecord }
  | { kind: 'unchanged'; uuid: string; name: string | null; notes: string[] }
  | { kind: 'skip'; uuid: string; name: string | null; reason: string };

export interface PlanOptions {
  /** Delete synced nodes that are gone from Ironic (default true). */
  prune?: boolean;
}

export interface SyncPlan {
  ironicNodes: number;
  actions: SyncAction[];
}

/**
 * What the sync would do (pure): every Ironic node created, updated, left alone or skipped (with the
 * reason); every node the sync created earlier and Ironic no longer has, deleted. Nodes an operator
 * created (no sync mark) are updated when Ironic has their uuid, and never deleted.
 */
export function planSync(ironic: IronicNode[], solgate: NodeRecord[], opts: PlanOptions = {}): SyncPlan {
  const byUuid = new Map(solgate.map((n) => [n.uuid, n]));
  const ironicUuids = new Set(ironic.map((n) => n.uuid.toLowerCase()));
  const actions: SyncAction[] = [];
  const deleting = new Set<string>();
  if (opts.prune ?? true)
    for (const n of solgate)
      if (!ironicUuids.has(n.uuid) && isSyncManaged(n)) {
        actions.push({ kind: 'delete', uuid: n.uuid, name: n.name, node: n });
        deleting.add(n.uuid);
      }
  // names held by solgate nodes that Ironic does not have and that stay: an Ironic node cannot take them
  const heldOutside = new Map<string, string>();
  for (const n of solgate) if (n.name && !ironicUuids.has(n.uuid) && !deleting.has(n.uuid)) heldOutside.set(n.name, n.uuid);

  for (const i of ironic) {
    const uuid = i.uuid.toLowerCase();
    const existing = byUuid.get(uuid);
    const mapped = mapIronicNode(i, existing);
    const name = i.name ?? null;
    if (!mapped.ok) {
      actions.push({ kind: 'skip', uuid, name, reason: mapped.reason });
      continue;
    }
    const holder = mapped.fields.name ? heldOutside.get(mapped.fields.name) : undefined;
    if (holder) {
      actions.push({ kind: 'skip', uuid, name, reason: `name ${mapped.fields.name} is taken by solgate node ${holder}, which Ironic does not have` });
      continue;
    }
    if (!existing) actions.push({ kind: 'create', uuid, name, fields: mapped.fields, notes: mapped.notes });
    else {
      const before = writableView(existing);
      if (stableJson(before) === stableJson(mapped.fields)) actions.push({ kind: 'unchanged', uuid, name, notes: mapped.notes });
      else actions.push({ kind: 'update', uuid, name, node: existing, fields: mapped.fields, changes: changedFields(before, mapped.fields), notes: mapped.notes });
    }
  }
  return { ironicNodes: ironic.length, actions };
}

export interface SyncSummary {
  /** Ironic's base URL (no credentials). */
  source: string;
  ironic_version: string | null;
  ironic_nodes: number;
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  skipped: { uuid: string; name: string | null; reason: string }[];
  notes: { uuid: string; name: string | null; note: string }[];
  /** What changed per node (field names only, never values). */
  changes: { uuid: string; name: string | null; action: 'create' | 'update' | 'delete'; fields?: string[] }[];
  duration_ms: number;
  dry_run: boolean;
}

export interface SyncProgress {
  /** `list`: Ironic's pages arriving (done = nodes read so far); `apply`: writes (done of total). */
  phase: 'list' | 'apply';
  done: number;
  total: number;
}

export interface SyncOptions extends PlanOptions {
  dryRun?: boolean;
  /** Go on when Ironic masks every password (stored passwords are kept; new nodes get none). */
  allowMaskedPasswords?: boolean;
  /** Delete every synced node when Ironic lists none (refused by default: a wrong URL or scope looks just like that). */
  allowEmpty?: boolean;
  /** Nodes read from Ironic per page. */
  pageSize?: number;
  /** Writes in flight at once. */
  concurrency?: number;
  onProgress?: (p: SyncProgress) => void;
  /** Called before every write; throws to stop the pass (the conductor's lease check). */
  guard?: () => void;
}

/** The one wording for the masked-password failure (CLI and conductor). */
export const PASSWORDS_MASKED_MESSAGE =
  'Ironic returned every BMC password masked (******): its "show_password" policy hides them, so solgate could not log in to any console. ' +
  'Allow it for the account the sync uses in the policy file Ironic reads ([oslo_policy] policy_file in ironic.conf), ' +
  'e.g. "show_password": "role:solgate_sync" with that role given to the sync\'s user (docs/ironic.md), ' +
  'or pass --allow-masked-passwords to mirror the rest and keep the passwords solgate already has. Nothing was changed.';

/**
 * One sync pass: read every Ironic node (paged), refuse when every password is masked or when
 * Ironic lists nothing while synced nodes exist, plan, then write — deletions first (their names
 * become free), then updates and creations. A write refused because another node still holds its name
 * or instance_uuid is retried without them and then with them (so two nodes may swap names, and an
 * instance may move between nodes). Idempotent: a second pass finds everything unchanged.
 */
export class IronicSync {
  constructor(
    private readonly client: IronicClient,
    private readonly target: SyncTarget,
  ) {}

  async run(opts: SyncOptions = {}): Promise<SyncSummary> {
    const t0 = performance.now();
    let read = 0;
    const ironic = await this.client.listNodes({
      pageSize: opts.pageSize,
      onPage: (page) => {
        read += page.length;
        opts.onProgress?.({ phase: 'list', done: read, total: read });
      },
    });
    const withPassword = ironic.filter((n) => n.driver_info?.ipmi_password !== undefined && n.driver_info?.ipmi_password !== null);
    if (withPassword.length > 0 && withPassword.every((n) => n.driver_info!.ipmi_password === SECRET_MASK) && !opts.allowMaskedPasswords)
      throw new IronicSyncError('PASSWORDS_MASKED', PASSWORDS_MASKED_MESSAGE);

    const solgate = await this.target.listNodes();
    const plan = planSync(ironic, solgate, opts);
    const deletes = plan.actions.filter((a) => a.kind === 'delete');
    if (ironic.length === 0 && deletes.length > 0 && !opts.allowEmpty)
      throw new IronicSyncError(
        'UNSAFE',
        `Ironic listed no nodes, so the sync would delete all ${deletes.length} nodes it created. If Ironic really is empty, pass --allow-empty; otherwise check the URL and the credentials' scope. Nothing was changed.`,
      );

    const summary: SyncSummary = {
      source: this.client.baseUrl,
      ironic_version: this.client.version ?? null,
      ironic_nodes: ironic.length,
      created: 0,
      updated: 0,
      deleted: 0,
      unchanged: 0,
      skipped: [],
      notes: [],
      changes: [],
      duration_ms: 0,
      dry_run: !!opts.dryRun,
    };
    for (const a of plan.actions) {
      if (a.kind === 'skip') summary.skipped.push({ uuid: a.uuid, name: a.name, reason: a.reason });
      if (a.kind === 'unchanged') summary.unchanged++;
      if (a.kind === 'create' || a.kind === 'update' || a.kind === 'unchanged') for (const note of a.notes) summary.notes.push({ uuid: a.uuid, name: a.name, note });
    }
    const writes = plan.actions.filter((a): a is Extract<SyncAction, { kind: 'create' | 'update' | 'delete' }> => a.kind === 'create' || a.kind === 'update' || a.kind === 'delete');
    let done = 0;
    const total = writes.length;
    opts.onProgress?.({ phase: 'apply', done, total });
    const progressed = () => opts.onProgress?.({ phase: 'apply', done: ++done, total });
    const record = (a: (typeof writes)[number]) => {
      if (a.kind === 'create') summary.created++;
      else if (a.kind === 'update') summary.updated++;
      else summary.deleted++;
      summary.changes.push({ uuid: a.uuid, name: a.name, action: a.kind, ...(a.kind === 'update' ? { fields: a.changes } : {}) });
    };
    if (opts.dryRun) {
      for (const a of writes) record(a);
    } else {
      const skip = (a: { uuid: string; name: string | null }, e: unknown) => summary.skipped.push({ uuid: a.uuid, name: a.name, reason: errorMessage(e).replace(/\.$/, '') });
      // 1. deletions (their names become free)
      await this.pool(deletes as Extract<SyncAction, { kind: 'delete' }>[], opts, async (a) => {
        opts.guard?.();
        try {
          await this.target.delete(a.node);
          record(a);
        } catch (e) {
          if (!isSolgateError(e)) throw e;
          skip(a, e);
        }
        progressed();
      });
      // 2. creations and updates; a name or instance another node still holds (a rename, or an instance that moved
      //    between Ironic's own nodes) is retried after the others
      const nameClash: Extract<SyncAction, { kind: 'create' | 'update' }>[] = [];
      const upserts = writes.filter((a): a is Extract<SyncAction, { kind: 'create' | 'update' }> => a.kind !== 'delete');
      await this.pool(upserts, opts, async (a) => {
        opts.guard?.();
        try {
          if (a.kind === 'create') await this.target.create(a.fields);
          else await this.target.update(a.node, a.fields);
          record(a);
          progressed();
        } catch (e) {
          if (isUniqueClash(e)) nameClash.push(a);
          else if (isSolgateError(e)) {
            skip(a, e);
            progressed();
          } else throw e;
        }
      });
      // 3. names or instances that clashed: first without them, then with them once every other node has moved
      const unnamed: { a: (typeof nameClash)[number]; node: NodeRecord }[] = [];
      for (const a of nameClash) {
        opts.guard?.();
        try {
          const fields = { ...a.fields, name: null, ...('instance_uuid' in a.fields ? { instance_uuid: null } : {}) };
          const node = a.kind === 'create' ? await this.target.create(fields) : await this.target.update(await this.fresh(a.node), fields);
          unnamed.push({ a, node });
        } catch (e) {
          if (!isSolgateError(e)) throw e;
          skip(a, e);
          progressed();
        }
      }
      for (const { a, node } of unnamed) {
        opts.guard?.();
        try {
          await this.target.update(node, a.fields);
          record(a);
        } catch (e) {
          if (!isSolgateError(e)) throw e;
          skip(a, e);
        }
        progressed();
      }
    }
    summary.changes.sort((x, y) => x.uuid.localeCompare(y.uuid));
    summary.duration_ms = Math.round(performance.now() - t0);
    return summary;
  }

  private async fresh(node: NodeRecord): Promise<NodeRecord> {
    return (await this.target.get(node.uuid)) ?? node;
  }

  private async pool<T>(items: T[], opts: SyncOptions, fn: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < items.length) await fn(items[next++]);
    };
    await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 16, Math.max(1, items.length)) }, worker));
  }
}

/** A write refused because another node holds the same name or instance_uuid (both unique, as in Ironic). */
function isUniqueClash(e: unknown): boolean {
  return isSolgateError(e) && e.code === 'CONFLICT' && (/^A node with name /.test(e.message) || /^Instance \S+ is already associated/.test(e.message));
}

/** "12 nodes in Ironic: 2 created, 1 updated, 0 deleted, 9 unchanged, 0 skipped" (or "… nothing to change"). */
export function summaryLine(s: SyncSummary): string {
  const changed = s.created + s.updated + s.deleted;
  const counts = `${s.created} created, ${s.updated} updated, ${s.deleted} deleted, ${s.unchanged} unchanged, ${s.skipped.length} skipped`;
  const head = `${s.dry_run ? 'dry run: ' : ''}${s.ironic_nodes} node${s.ironic_nodes === 1 ? '' : 's'} in Ironic`;
  const tail = changed === 0 && s.skipped.length === 0 ? ' — nothing to change' : '';
  return `${head}: ${counts}${tail} (${(s.duration_ms / 1000).toFixed(1)} s)`;
}
