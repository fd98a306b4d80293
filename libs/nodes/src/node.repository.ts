import type { Redis } from 'ioredis';
import { isUuid, SolgateError } from '#libs/common';
import { isNodeUuid, isWrongType, Keys, recordProblems as defaultProblems, registerLuaScripts, runScript, type RecordProblems } from '#libs/redis';
import { CONSOLE_SPEC_FIELDS, fixedConsolePort, nodeFieldDefaults, type NodeRecord } from './node.model.js';
import type { WritableNodeFields } from './node.validation.js';

/** What is stored as JSON in the node hash's `spec` field. */
type StoredSpec = WritableNodeFields & { provision_state: string; created_at: number };

/** Nodes read per pipeline when a whole fleet is read (10,000 nodes are 10 round trips). */
const READ_BATCH = 1000;

/** Entries the node-changes log keeps; a reader further behind than this re-reads every node. */
export const NODE_CHANGES_KEPT = 100_000;

/**
 * Node records in Redis (the system of record for intent). Hash fields: spec (JSON), rev, crev
 * (console spec revision), name, instance, enabled, generation, updated_at, port (its sticky console
 * port). Every multi-key change goes through a Lua script, which also keeps the name, instance_uuid
 * and console port indexes unique.
 */
export class NodeRepository {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    /** Where unreadable records are reported (metrics, logs, doctor). */
    readonly problems: RecordProblems = defaultProblems,
  ) {
    registerLuaScripts(redis);
  }

  /**
   * One node hash as read (or the error its read got), defensively: a record that is not a node —
   * bad JSON, a wrong shape, a key of another Redis type — is reported and comes back as a stub
   * (see unreadableNode) when `stub` is set, otherwise as undefined. Never throws for bad data.
   */
  private readNodeSafely(uuid: string, h: Record<string, string> | null | undefined, err: unknown, stub: boolean): NodeRecord | undefined {
    let read: NodeRead;
    if (err) {
      if (!isWrongType(err)) throw err;
      read = { problem: 'the key holds another Redis type than a hash' };
    } else read = readNodeHash(h, uuid);
    if (read === undefined) return undefined;
    if ('node' in read) return read.node;
    this.problems.report({ key: this.keys.node(uuid), uuid, problem: read.problem });
    return stub ? unreadableNode(uuid, err ? undefined : (h ?? undefined), read.problem) : undefined;
  }

  /** Read an index key, turning WRONGTYPE into a clear 503 (the whole index is damaged, not one node). */
  private async index<T>(key: string, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (e) {
      if (!isWrongType(e)) throw e;
      this.problems.report({ key, uuid: null, problem: 'an index key holds another Redis type than expected' });
      throw new SolgateError('UNAVAILABLE', `The node index ${key} in Redis holds the wrong type of value; run \`solgate doctor\`.`);
    }
  }

  /** Keep the members of a node index that are node uuids; report the others. */
  private nodeMembers(key: string, members: string[]): string[] {
    const ok = members.filter(isNodeUuid);
    if (ok.length !== members.length)
      for (const m of members) if (!isNodeUuid(m)) this.problems.report({ key, uuid: null, problem: `member ${JSON.stringify(m.slice(0, 80))} is not a node uuid` });
    return ok;
  }

  async create(fields: WritableNodeFields, provisionState: string, nowMs = Date.now()): Promise<NodeRecord> {
    const spec: StoredSpec = { ...fields, provision_state: provisionState, created_at: nowMs };
    const port = fixedConsolePort(fields);
    const res = await runScript<string | [string, string]>(
      this.redis,
      'createNode',
      [
        this.keys.node(fields.uuid),
        this.keys.nodes(),
        this.keys.nodeNames(),
        this.keys.nodeInstances(),
        this.keys.nodesVersion(),
        this.keys.nodeChanges(),
        this.keys.consolePorts(),
      ],
      [fields.uuid, fields.name ?? '', JSON.stringify(spec), nowMs, fields.instance_uuid ?? '', NODE_CHANGES_KEPT, port ?? ''],
    );
    if (res === 'ERR_UUID') throw new SolgateError('CONFLICT', `A node with UUID ${fields.uuid} already exists.`);
    if (res === 'ERR_NAME') throw new SolgateError('CONFLICT', `A node with name ${fields.name} already exists.`);
    if (res === 'ERR_INSTANCE') throw await this.instanceTaken(fields.instance_uuid!, fields.uuid);
    if (Array.isArray(res)) throw portTaken(port!, res[1]);
    return { ...spec, console_enabled: false, console_generation: 0, updated_at: null, rev: 1, console_rev: 1, allocated_port: port ?? null };
  }

  /** Ironic's InstanceAssociated (409), naming the node that holds the instance. */
  private async instanceTaken(instanceUuid: string, uuid: string): Promise<SolgateError> {
    const holder = (await this.redis.hget(this.keys.nodeInstances(), instanceUuid)) ?? 'another node';
    return new SolgateError(
      'CONFLICT',
      `Instance ${instanceUuid} is already associated with a node, it cannot be associated with this other node ${uuid}`,
      { holder },
    );
  }

  /** The node an instance is deployed on (one HGET: Nova looks nodes up by instance_uuid on every call). */
  async uuidForInstance(instanceUuid: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.nodeInstances(), instanceUuid.toLowerCase())) ?? undefined;
  }

  /** Resolve a uuid or a name to a uuid; undefined when unknown. */
  async resolve(ident: string): Promise<string | undefined> {
    if (isUuid(ident)) {
      const uuid = ident.toLowerCase();
      return (await this.redis.exists(this.keys.node(uuid))) ? uuid : undefined;
    }
    const uuid = await this.index(this.keys.nodeNames(), () => this.redis.hget(this.keys.nodeNames(), ident));
    if (uuid === null) return undefined;
    return this.nodeMembers(this.keys.nodeNames(), [uuid])[0];
  }

  /**
   * One node. An unreadable record comes back as a stub with `record_error` set (console disabled,
   * no driver_info), so it can be shown and deleted, never run.
   */
  async get(uuid: string): Promise<NodeRecord | undefined> {
    try {
      return this.readNodeSafely(uuid, await this.redis.hgetall(this.keys.node(uuid)), undefined, true);
    } catch (e) {
      return this.readNodeSafely(uuid, undefined, e, true);
    }
  }

  /** Get by uuid or name, or throw NODE_NOT_FOUND with Ironic's message. */
  async getByIdent(ident: string, { allowName = true } = {}): Promise<NodeRecord> {
    const uuid = allowName ? await this.resolve(ident) : isUuid(ident) ? ident.toLowerCase() : undefined;
    const node = uuid ? await this.get(uuid) : undefined;
    if (!node) throw new SolgateError('NODE_NOT_FOUND', `Node ${ident} could not be found.`);
    return node;
  }

  /**
   * Many nodes at once (one round trip per READ_BATCH nodes); missing ones are skipped, and so are
   * unreadable ones (reported) unless `includeUnreadable` asks for their stubs (an operator naming a
   * node to delete).
   */
  async getMany(uuids: string[], { includeUnreadable = false }: { includeUnreadable?: boolean } = {}): Promise<NodeRecord[]> {
    const out: NodeRecord[] = [];
    for (let i = 0; i < uuids.length; i += READ_BATCH) {
      const batch = uuids.slice(i, i + READ_BATCH);
      const pipe = this.redis.pipeline();
      for (const u of batch) pipe.hgetall(this.keys.node(u));
      ((await pipe.exec()) ?? []).forEach(([err, h], j) => {
        const n = this.readNodeSafely(batch[j]!, h as Record<string, string>, err, includeUnreadable);
        if (n) out.push(n);
      });
    }
    return out;
  }

  /** Every node, in creation order (batched pipelines, never a round trip per node). */
  async all(): Promise<NodeRecord[]> {
    return this.getMany(await this.listUuids());
  }

  /**
   * Node uuids in creation order (or its reverse), paginated by marker (uuid) and limit: the page is
   * read by rank, so a page costs the same at any fleet size. An unknown marker is Ironic's 404.
   * Index members that are not node uuids are reported and skipped (a page is filled from further
   * members instead).
   */
  async listUuids({ limit, marker, descending = false }: { limit?: number; marker?: string; descending?: boolean } = {}): Promise<string[]> {
    const key = this.keys.nodes();
    let start = 0;
    if (marker) {
      const rank = await this.index(key, () => (descending ? this.redis.zrevrank(key, marker) : this.redis.zrank(key, marker)));
      if (rank === null) throw new SolgateError('NODE_NOT_FOUND', `Node ${marker} could not be found.`);
      start = rank + 1;
    }
    const range = (from: number, to: number) =>
      this.index(key, () => (descending ? this.redis.zrevrange(key, String(from), String(to)) : this.redis.zrange(key, String(from), String(to))));
    if (!limit) return this.nodeMembers(key, await range(start, -1));
    const out: string[] = [];
    for (;;) {
      const want = limit - out.length;
      const batch = await range(start, start + want - 1);
      out.push(...this.nodeMembers(key, batch));
      if (out.length >= limit || batch.length < want) return out;
      start += batch.length;
    }
  }

  async count(): Promise<number> {
    return this.index(this.keys.nodes(), () => this.redis.zcard(this.keys.nodes()));
  }

  /** Changes so far that matter to a reconciler (see nodesVersion in keys.ts); -1 when unreadable (forces a full read). */
  async version(): Promise<number> {
    const key = this.keys.nodesVersion();
    try {
      const v = Number((await this.redis.get(key)) ?? 0);
      if (Number.isSafeInteger(v)) return v;
      this.problems.report({ key, uuid: null, problem: 'the nodes version is not an integer' });
    } catch (e) {
      if (!isWrongType(e)) throw e;
      this.problems.report({ key, uuid: null, problem: 'the key holds another Redis type than a string' });
    }
    return -1;
  }

  /** uuids of the nodes changed (created, written, deleted) after nodes version `since`. */
  async changedSince(since: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.nodeChanges(), `(${since}`, '+inf');
  }

  /** uuids whose console the user wants enabled (members that are not node uuids are reported and skipped). */
  async consoleEnabledUuids(): Promise<string[]> {
    const key = this.keys.consoleEnabled();
    return this.nodeMembers(key, await this.index(key, () => this.redis.smembers(key)));
  }

  /**
   * A console change stamp per node ("<console rev>.<generation>", null when the node is gone): one
   * cheap round trip that tells a reconciler which cached specs to re-read.
   */
  async stamps(uuids: string[]): Promise<(string | null)[]> {
    if (uuids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const u of uuids) pipe.hmget(this.keys.node(u), 'rev', 'crev', 'generation');
    const res = (await pipe.exec()) ?? [];
    return res.map(([err, v]) => {
      if (err) {
        // unreadable: treated as gone here; whoever reads the node reports it
        if (isWrongType(err)) return null;
        throw err;
      }
      const [rev, crev, gen] = v as (string | null)[];
      return rev === null ? null : `${crev ?? rev}.${gen ?? 0}`;
    });
  }

  /** Changes when the console must be rebuilt: its spec (CONSOLE_SPEC_FIELDS) or a disable→enable. */
  static stampOf(node: NodeRecord): string {
    return `${node.console_rev}.${node.console_generation}`;
  }

  /** Compare-and-set update of the writable fields. */
  async update(node: NodeRecord, fields: WritableNodeFields, nowMs = Date.now()): Promise<NodeRecord> {
    const spec: StoredSpec = { ...fields, provision_state: node.provision_state, created_at: node.created_at };
    const consoleChanged = CONSOLE_SPEC_FIELDS.some((f) => JSON.stringify(node[f]) !== JSON.stringify(fields[f]));
    const port = fixedConsolePort(fields);
    const oldPort = fixedConsolePort(node);
    const res = await runScript<number | string | [string, string]>(
      this.redis,
      'updateNode',
      [
        this.keys.node(node.uuid),
        this.keys.nodeNames(),
        this.keys.nodesVersion(),
        this.keys.nodeInstances(),
        this.keys.nodeChanges(),
        this.keys.consolePorts(),
        this.keys.consolePortsFree(),
      ],
      [
        node.uuid,
        node.rev,
        JSON.stringify(spec),
        fields.name ?? '',
        nowMs,
        this.keys.events(),
        fields.instance_uuid ?? '',
        consoleChanged ? '1' : '0',
        NODE_CHANGES_KEPT,
        port ?? '',
        oldPort ?? '',
      ],
    );
    if (res === 'ERR_GONE') throw new SolgateError('NODE_NOT_FOUND', `Node ${node.uuid} could not be found.`);
    if (res === 'ERR_REV') throw new SolgateError('CONFLICT', `Node ${node.uuid} was changed by another request; retry.`);
    if (res === 'ERR_NAME') throw new SolgateError('CONFLICT', `A node with name ${fields.name} already exists.`);
    if (res === 'ERR_INSTANCE') throw await this.instanceTaken(fields.instance_uuid!, node.uuid);
    if (Array.isArray(res)) throw portTaken(port!, res[1]);
    const allocated = port ?? (oldPort !== undefined && node.allocated_port === oldPort ? null : node.allocated_port);
    return { ...node, ...spec, rev: Number(res), console_rev: node.console_rev + (consoleChanged ? 1 : 0), updated_at: nowMs, allocated_port: allocated };
  }

  /** Record the console intent; returns whether it changed and the console generation. */
  async setConsoleIntent(uuid: string, enabled: boolean, nowMs = Date.now()): Promise<{ changed: boolean; generation: number }> {
    const res = await runScript<[number, number] | string>(
      this.redis,
      'setConsoleIntent',
      [this.keys.node(uuid), this.keys.consoleEnabled(), this.keys.nodesVersion(), this.keys.nodeChanges()],
      [uuid, enabled ? '1' : '0', nowMs, this.keys.events(), NODE_CHANGES_KEPT],
    );
    if (res === 'ERR_GONE') throw new SolgateError('NODE_NOT_FOUND', `Node ${uuid} could not be found.`);
    if (res === 'ERR_TYPE') throw new SolgateError('CONFLICT', `The stored record of node ${uuid} is unreadable; delete it and enrol the node again.`);
    const [changed, generation] = res as [number, number];
    return { changed: changed === 1, generation: Number(generation) };
  }

  async delete(uuid: string): Promise<boolean> {
    const res = await runScript<number>(
      this.redis,
      'deleteNode',
      [
        this.keys.node(uuid),
        this.keys.nodes(),
        this.keys.nodeNames(),
        this.keys.consoleEnabled(),
        this.keys.consoleState(uuid),
        this.keys.claim(uuid),
        this.keys.nodesVersion(),
        this.keys.nodeInstances(),
        this.keys.nodeChanges(),
        this.keys.consolePorts(),
        this.keys.consolePortsFree(),
      ],
      [uuid, this.keys.events(), NODE_CHANGES_KEPT],
    );
    return res === 1;
  }
}

/** A node hash as read: the node, what is wrong with it, or undefined when there is no record. */
export type NodeRead = { node: NodeRecord } | { problem: string } | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const intField = (v: string | undefined, fallback: number): number | undefined => {
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
};

/**
 * Parse a node hash without trusting it: every field the code relies on is checked. `uuid` is the
 * uuid its key names (the spec must agree). Problems never quote the record: it holds a password.
 */
export function readNodeHash(h: Record<string, string> | null | undefined, uuid?: string): NodeRead {
  if (!h || Object.keys(h).length === 0) return undefined;
  if (typeof h.spec !== 'string' || h.spec === '') return { problem: 'the hash has no spec field' };
  let spec: unknown;
  try {
    spec = JSON.parse(h.spec);
  } catch {
    // not JSON.parse's message: it quotes part of the text, which may be a password
    return { problem: `spec is not valid JSON (${h.spec.length} bytes)` };
  }
  if (!isObject(spec)) return { problem: 'spec is not a JSON object' };
  if (typeof spec.uuid !== 'string' || !isNodeUuid(spec.uuid)) return { problem: 'spec has no valid uuid' };
  if (uuid !== undefined && spec.uuid !== uuid) return { problem: `spec belongs to another node (${spec.uuid})` };
  for (const k of ['driver', 'console_interface'] as const) if (typeof spec[k] !== 'string') return { problem: `spec.${k} is not a string` };
  for (const k of ['driver_info', 'extra', 'properties'] as const)
    if (spec[k] !== undefined && spec[k] !== null && !isObject(spec[k])) return { problem: `spec.${k} is not an object` };
  for (const k of ['name', 'description', 'conductor_group'] as const)
    if (spec[k] !== undefined && spec[k] !== null && typeof spec[k] !== 'string') return { problem: `spec.${k} is not a string` };
  for (const k of ['instance_uuid', 'maintenance_reason', 'resource_class', 'owner', 'lessee', 'shard'] as const)
    if (spec[k] !== undefined && spec[k] !== null && typeof spec[k] !== 'string') return { problem: `spec.${k} is not a string` };
  if (spec.instance_info !== undefined && spec.instance_info !== null && !isObject(spec.instance_info)) return { problem: 'spec.instance_info is not an object' };
  if (spec.maintenance !== undefined && typeof spec.maintenance !== 'boolean') return { problem: 'spec.maintenance is not a boolean' };
  if (spec.traits !== undefined && !(Array.isArray(spec.traits) && spec.traits.every((x) => typeof x === 'string'))) return { problem: 'spec.traits is not a list of strings' };
  if (spec.provision_state !== undefined && typeof spec.provision_state !== 'string') return { problem: 'spec.provision_state is not a string' };
  if (spec.created_at !== undefined && !Number.isFinite(spec.created_at)) return { problem: 'spec.created_at is not a number' };
  const generation = intField(h.generation, 0);
  const rev = intField(h.rev, 1);
  const updatedAt = intField(h.updated_at, -1);
  const consoleRev = intField(h.crev, rev ?? 1);
  const port = intField(h.port, 0);
  if (generation === undefined || rev === undefined || updatedAt === undefined || consoleRev === undefined || port === undefined || port > 65535)
    return { problem: 'rev, crev, generation, port or updated_at is not a number' };
  const stored = spec as unknown as StoredSpec;
  // Records written before a field existed read as its default.
  const node: NodeRecord = {
    ...nodeFieldDefaults(),
    ...stored,
    instance_info: stored.instance_info ?? {},
    traits: stored.traits ?? [],
    name: stored.name ?? null,
    description: stored.description ?? null,
    conductor_group: stored.conductor_group ?? '',
    driver_info: stored.driver_info ?? {},
    extra: stored.extra ?? {},
    properties: stored.properties ?? {},
    provision_state: stored.provision_state ?? 'enroll',
    created_at: stored.created_at ?? 0,
    console_enabled: h.enabled === '1',
    console_generation: generation,
    updated_at: updatedAt < 0 ? null : updatedAt,
    rev,
    console_rev: consoleRev,
    allocated_port: port === 0 ? null : port,
  };
  delete node.record_error;
  return { node };
}

/** A node hash as a NodeRecord, or undefined when it is missing or unreadable. */
export function parseNodeHash(h: Record<string, string> | null | undefined, uuid?: string): NodeRecord | undefined {
  const r = readNodeHash(h, uuid);
  return r && 'node' in r ? r.node : undefined;
}

/**
 * What stands for an unreadable record where one node is asked for by name or uuid: enough to show
 * it (with `record_error` as its last_error) and to delete it; its console is disabled, and its
 * driver_info empty, so nothing ever runs from it.
 */
export function unreadableNode(uuid: string, h: Record<string, string> | undefined, problem: string): NodeRecord {
  const rev = Number(h?.rev);
  return {
    uuid,
    name: typeof h?.name === 'string' && h.name !== '' ? h.name : null,
    driver: 'ipmi',
    console_interface: 'no-console',
    driver_info: {},
    conductor_group: '',
    description: null,
    extra: {},
    properties: {},
    console_enabled: false,
    console_generation: 0,
    provision_state: 'enroll',
    created_at: 0,
    updated_at: null,
    ...nodeFieldDefaults(),
    rev: Number.isSafeInteger(rev) ? rev : 0,
    console_rev: 0,
    allocated_port: null,
    record_error: `The stored record of this node is unreadable (${problem}): nothing runs from it; delete it and enrol the node again (solgate doctor lists such records).`,
  };
}

/** 409: two nodes never share a console port (DESIGN decision 11). */
function portTaken(port: number, holder: string): SolgateError {
  return new SolgateError('CONFLICT', `Console port ${port} (driver_info.ipmi_terminal_port) is already allocated to node ${holder}.`, { port, holder });
}
