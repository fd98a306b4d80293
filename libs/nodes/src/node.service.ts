import jsonpatch from 'fast-json-patch';
import { invalidInput, SolgateError } from '#libs/common';
import { WRITABLE_FIELDS, type NodeRecord } from './node.model.js';
import type { NodeRepository } from './node.repository.js';
import { assertManagedFields, checkTerminalPort, validateNodeFields, validateTraits, type TerminalPortPolicy, type WritableNodeFields } from './node.validation.js';

export interface PatchOperation {
  op: string;
  path: string;
  value?: unknown;
}

/** Fields Ironic reports but no client may write. */
const READ_ONLY = new Set([
  'console_enabled',
  'created_at',
  'updated_at',
  'provision_state',
  'provision_updated_at',
  'target_provision_state',
  'target_power_state',
  'conductor',
  'links',
  'driver_internal_info',
  'last_error',
  'power_state',
  'reservation',
  'fault',
  'allocation_uuid',
  'inspection_started_at',
  'inspection_finished_at',
  'clean_step',
  'deploy_step',
  'raid_config',
  'target_raid_config',
]);
const PATCHABLE = WRITABLE_FIELDS.filter((f) => f !== 'uuid');

/**
 * Node writes shared by the API and the CLI: validation on the edge, then the repository.
 * (One copy of the rules: the CLI never re-implements them.)
 */
export class NodeService {
  constructor(
    private readonly repo: NodeRepository,
    /** Fixed console ports a node may ask for (unchecked when absent: tools that bind nothing). */
    private readonly terminalPorts?: TerminalPortPolicy,
  ) {}

  async create(body: unknown, { provisionState = 'enroll' }: { provisionState?: string } = {}): Promise<NodeRecord> {
    const fields = validateNodeFields(body);
    if (this.terminalPorts) checkTerminalPort(fields.driver_info.ipmi_terminal_port, this.terminalPorts);
    return this.repo.create(fields, provisionState);
  }

  /** Apply an Ironic JSON Patch (add / replace / remove) to the writable fields, validate, compare-and-set. */
  async patch(node: NodeRecord, ops: unknown): Promise<NodeRecord> {
    if (node.record_error) throw new SolgateError('CONFLICT', `Node ${node.uuid} cannot be updated: ${node.record_error}`);
    const patched = applyNodePatch(node, ops);
    // only a port being set is checked: a node stored before the check can still be edited
    const port = patched.driver_info.ipmi_terminal_port;
    if (this.terminalPorts && String(port ?? '') !== String(node.driver_info.ipmi_terminal_port ?? '')) checkTerminalPort(port, this.terminalPorts);
    return this.repo.update(node, patched);
  }

  /** Ironic's PUT /v1/nodes/{node}/maintenance (reason optional) and DELETE (clears the reason too). */
  async setMaintenance(node: NodeRecord, maintenance: boolean, reason: string | null = null): Promise<NodeRecord> {
    const fields = writableView(node);
    return this.repo.update(node, validateNodeFields({ ...fields, maintenance, maintenance_reason: maintenance ? reason : null }));
  }

  /** Ironic's traits endpoints: replace the whole set, add one, remove one or all. */
  async setTraits(node: NodeRecord, traits: unknown): Promise<NodeRecord> {
    const fields = writableView(node);
    return this.repo.update(node, { ...fields, traits: validateTraits(traits) });
  }
}

export function writableView(node: NodeRecord): WritableNodeFields {
  const out: Record<string, unknown> = {};
  for (const f of WRITABLE_FIELDS) out[f] = structuredClone(node[f]);
  return out as WritableNodeFields;
}

export function applyNodePatch(node: NodeRecord, ops: unknown): WritableNodeFields {
  if (!Array.isArray(ops) || ops.length === 0) throw invalidInput('Invalid patch: expected a non-empty JSON Patch list.');
  for (const op of ops as PatchOperation[]) {
    if (typeof op !== 'object' || op === null || typeof op.path !== 'string' || typeof op.op !== 'string')
      throw invalidInput('Invalid patch: every operation needs "op" and "path".');
    if (!['add', 'replace', 'remove'].includes(op.op)) throw invalidInput(`Invalid patch operation ${JSON.stringify(op.op)}: add, replace or remove.`);
    if ((op.op === 'add' || op.op === 'replace') && !('value' in op)) throw invalidInput(`Invalid patch: "${op.op}" needs a value.`);
    const top = op.path.split('/')[1] ?? '';
    if (op.path === '/uuid') throw invalidInput("'/uuid' is an internal attribute and can not be updated");
    if (READ_ONLY.has(top)) throw invalidInput(`'/${top}' is an internal attribute and can not be updated`);
    assertManagedFields([top]);
    if (!(WRITABLE_FIELDS as readonly string[]).includes(top))
      throw invalidInput(`Cannot patch ${op.path}. Only the following can be updated: ${PATCHABLE.join(', ')}`);
  }
  const doc = writableView(node) as unknown as Record<string, unknown>;
  // Ironic lets `add` create missing parents (e.g. /extra/foo); JSON Patch needs them present.
  for (const k of ['driver_info', 'extra', 'properties', 'instance_info']) if (doc[k] === null || doc[k] === undefined) doc[k] = {};
  let result: Record<string, unknown>;
  try {
    result = jsonpatch.applyPatch(doc, ops as jsonpatch.Operation[], true, false, true).newDocument;
  } catch (e) {
    throw invalidInput(`Invalid patch: ${(e as Error).message.split('\n')[0]}`);
  }
  if (result.uuid !== node.uuid) throw invalidInput("'/uuid' is an internal attribute and can not be updated");
  // A removed optional field means "back to the default" (validation fills in every default).
  for (const k of PATCHABLE) if (!(k in result)) result[k] = null;
  return validateNodeFields(result);
}
