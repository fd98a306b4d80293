import type { Redis } from 'ioredis';
import { isUuid, SolgateError } from '#libs/common';
import { Keys, registerLuaScripts, runScript } from '#libs/redis';
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
  ) {
    registerLuaScripts(redis);
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
    return (await this.redis.hget(this.keys.nodeNames(), ident)) ?? undefined;
  }

  async get(uuid: string): Promise<NodeRecord | undefined> {
    const h = await this.redis.hgetall(this.keys.node(uuid));
    return parseNodeHash(h);
  }

  /** Get by uuid or name, or throw NODE_NOT_FOUND with Ironic's message. */
  async getByIdent(ident: string, { allowName = true } = {}): Promise<NodeRecord> {
    const uuid = allowName ? await this.resolve(ident) : isUuid(ident) ? ident.toLowerCase() : undefined;
    const node = uuid ? await this.get(uuid) : undefined;
    if (!node) throw new SolgateError('NODE_NOT_FOUND', `Node ${ident} could not be found.`);
    return node;
  }

  /** Many nodes at once (one round trip per READ_BATCH nodes); missing ones are skipped. */
  async getMany(uuids: string[]): Promise<NodeRecord[]> {
    const out: NodeRecord[] = [];
    for (let i = 0; i < uuids.length; i += READ_BATCH) {
      const pipe = this.redis.pipeline();
      for (const u of uuids.slice(i, i + READ_BATCH)) pipe.hgetall(this.keys.node(u));
      for (const [err, h] of (await pipe.exec()) ?? []) {
        if (err) throw err;
        const n = parseNodeHash(h as Record<string, string>);
        if (n) out.push(n);
      }
    }
    return out;
  }

  /** Every node, in creation order (batched pipelines, never a round trip per node). */
  async all(): Promise<NodeRecord[]> {
    return this.getMany(await this.redis.zrange(this.keys.nodes(), '0', '-1'));
  }

  /**
   * Node uuids in creation order (or its reverse), paginated by marker (uuid) and limit: the page is
   * read by rank, so a page costs the same at any fleet size. An unknown marker is Ironic's 404.
   */
  async listUuids({ limit, marker, descending = false }: { limit?: number; marker?: string; descending?: boolean } = {}): Promise<string[]> {
    let start = 0;
    if (marker) {
      const rank = descending ? await this.redis.zrevrank(this.keys.nodes(), marker) : await this.redis.zrank(this.keys.nodes(), marker);
      if (rank === null) throw new SolgateError('NODE_NOT_FOUND', `Node ${marker} could not be found.`);
      start = rank + 1;
    }
    const stop = String(limit ? start + limit - 1 : -1);
    return descending ? this.redis.zrevrange(this.keys.nodes(), String(start), stop) : this.redis.zrange(this.keys.nodes(), String(start), stop);
  }

  async count(): Promise<number> {
    return this.redis.zcard(this.keys.nodes());
  }

  /** Changes to node records so far (see nodesVersion in keys.ts). */
  async version(): Promise<number> {
    return Number((await this.redis.get(this.keys.nodesVersion())) ?? 0);
  }

  /** uuids of the nodes changed (created, written, deleted) after nodes version `since`. */
  async changedSince(since: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.nodeChanges(), `(${since}`, '+inf');
  }

  /** uuids whose console the user wants enabled. */
  async consoleEnabledUuids(): Promise<string[]> {
    return this.redis.smembers(this.keys.consoleEnabled());
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
      if (err) throw err;
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

export function parseNodeHash(h: Record<string, string> | null | undefined): NodeRecord | undefined {
  if (!h || !h.spec) return undefined;
  // Records written before a field existed read as its default.
  const spec = { ...nodeFieldDefaults(), ...(JSON.parse(h.spec) as StoredSpec) };
  const rev = Number(h.rev ?? 1);
  return {
    ...spec,
    console_enabled: h.enabled === '1',
    console_generation: Number(h.generation ?? 0),
    updated_at: h.updated_at ? Number(h.updated_at) : null,
    rev,
    console_rev: h.crev ? Number(h.crev) : rev,
    allocated_port: h.port ? Number(h.port) : null,
  };
}

/** 409: two nodes never share a console port (DESIGN decision 11). */
function portTaken(port: number, holder: string): SolgateError {
  return new SolgateError('CONFLICT', `Console port ${port} (driver_info.ipmi_terminal_port) is already allocated to node ${holder}.`, { port, holder });
}
