import { errorMessage, isSolgateError } from '#libs/common';
import { checkTerminalPort, validateNodeFields, type NodeRecord, type WritableNodeFields } from '#libs/nodes';
import type { CliContext } from './context.js';
import type { InputRow } from './node-input.js';
import type { Progress } from './progress.js';

export interface Rejection {
  row: number;
  name: string | null;
  reason: string;
}

export interface ImportResult {
  total: number;
  created: NodeRecord[];
  rejected: Rejection[];
  durationMs: number;
  dryRun: boolean;
}

export interface ImportOptions {
  /** Used for rows that carry no ipmi_password (from --password-file / --password-prompt). */
  password?: string;
  dryRun?: boolean;
  progress?: Progress;
  /** Node creations in flight at once. */
  concurrency?: number;
}

const nameOf = (body: Record<string, unknown> | undefined) => (typeof body?.name === 'string' ? body.name : null);

/**
 * Enrol many nodes: validate the whole input first (libs/nodes' rules; duplicate names and uuids
 * within the input and against Redis), then write every valid row with the createNode Lua script,
 * which creates one node atomically or not at all (a name taken meanwhile is reported, not stored).
 * A rejected row is never stored; the others are.
 */
export async function importNodes(ctx: CliContext, rows: InputRow[], opts: ImportOptions = {}): Promise<ImportResult> {
  const t0 = performance.now();
  const progress = opts.progress;
  const rejected: Rejection[] = [];
  const reject = (row: number, name: string | null, reason: string) => {
    rejected.push({ row, name, reason });
    progress?.increment();
  };

  // 1. every row on its own
  const valid: { row: number; fields: WritableNodeFields }[] = [];
  const byName = new Map<string, number>();
  const byUuid = new Map<string, number>();
  for (const r of rows) {
    if (r.error || !r.body) {
      reject(r.row, nameOf(r.body), r.error ?? 'empty');
      continue;
    }
    let body = r.body;
    if (opts.password !== undefined) {
      const info = (body.driver_info ?? {}) as Record<string, unknown>;
      if (typeof info === 'object' && info !== null && !Array.isArray(info) && info.ipmi_password === undefined)
        body = { ...body, driver_info: { ...info, ipmi_password: opts.password } };
    }
    let fields: WritableNodeFields;
    try {
      fields = validateNodeFields(body);
      checkTerminalPort(fields.driver_info.ipmi_terminal_port, ctx.terminalPorts);
    } catch (e) {
      reject(r.row, nameOf(body), errorMessage(e));
      continue;
    }
    // 2. duplicates within the input: the first row wins
    if (fields.name !== null && byName.has(fields.name)) {
      reject(r.row, fields.name, `duplicate name ${fields.name} (row ${byName.get(fields.name)} has it)`);
      continue;
    }
    if (byUuid.has(fields.uuid)) {
      reject(r.row, fields.name, `duplicate uuid ${fields.uuid} (row ${byUuid.get(fields.uuid)} has it)`);
      continue;
    }
    if (fields.name !== null) byName.set(fields.name, r.row);
    byUuid.set(fields.uuid, r.row);
    valid.push({ row: r.row, fields });
  }

  // 3. against Redis (pipelined lookups)
  const existing = await Promise.all(
    valid.map(async (v) => ({
      uuid: await ctx.nodes.resolve(v.fields.uuid),
      name: v.fields.name !== null ? await ctx.nodes.resolve(v.fields.name) : undefined,
    })),
  );
  const toWrite: typeof valid = [];
  valid.forEach((v, i) => {
    if (existing[i].uuid) reject(v.row, v.fields.name, `a node with UUID ${v.fields.uuid} already exists`);
    else if (existing[i].name) reject(v.row, v.fields.name, `a node with name ${v.fields.name} already exists (${existing[i].name})`);
    else toWrite.push(v);
  });

  // 4. write, each node atomically
  const createdRows: { row: number; node: NodeRecord }[] = [];
  if (opts.dryRun) {
    progress?.increment(toWrite.length);
  } else {
    let next = 0;
    const worker = async () => {
      while (next < toWrite.length) {
        const v = toWrite[next++];
        try {
          createdRows.push({ row: v.row, node: await ctx.nodes.create(v.fields, 'enroll') });
          progress?.increment();
        } catch (e) {
          if (!isSolgateError(e)) throw e; // Redis gone: the command fails; what was written stays written, each node whole
          reject(v.row, v.fields.name, e.message.replace(/\.$/, ''));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 64, Math.max(1, toWrite.length)) }, worker));
  }
  rejected.sort((a, b) => a.row - b.row);
  const created = createdRows.sort((a, b) => a.row - b.row).map((c) => c.node);
  return { total: rows.length, created, rejected, durationMs: Math.round(performance.now() - t0), dryRun: !!opts.dryRun };
}
