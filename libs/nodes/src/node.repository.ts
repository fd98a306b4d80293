import type { Redis } from 'ioredis';
import { isUuid, SolgateError } from '#libs/common';
import { Keys, pipelineHgetall, registerLuaScripts, runScript } from '#libs/redis';
import type { NodeRecord } from './node.model.js';
import type { WritableNodeFields } from './node.validation.js';

/** What is stored as JSON in the node hash's `spec` field. */
type StoredSpec = WritableNodeFields & { provision_state: string; created_at: number };

/**
 * Node records in Redis (the system of record for intent). Hash fields: spec (JSON), rev, name,
 * enabled, generation, updated_at. Every multi-key change goes through a Lua script.
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
    const res = await runScript<string>(
      this.redis,
      'createNode',
      [this.keys.node(fields.uuid), this.keys.nodes(), this.keys.nodeNames()],
      [fields.uuid, fields.name ?? '', JSON.stringify(spec), nowMs],
    );
    if (res === 'ERR_UUID') throw new SolgateError('CONFLICT', `A node with UUID ${fields.uuid} already exists.`);
    if (res === 'ERR_NAME') throw new SolgateError('CONFLICT', `A node with name ${fields.name} already exists.`);
    return { ...spec, console_enabled: false, console_generation: 0, updated_at: null, rev: 1 };
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

  /** Many nodes at once (one round trip); missing ones are skipped. */
  async getMany(uuids: string[]): Promise<NodeRecord[]> {
    const hashes = await pipelineHgetall(this.redis, uuids.map((u) => this.keys.node(u)));
    return hashes.map(parseNodeHash).filter((n): n is NodeRecord => n !== undefined);
  }

  /** Node uuids in creation order, paginated by marker (uuid) and limit. */
  async listUuids({ limit, marker }: { limit?: number; marker?: string } = {}): Promise<string[]> {
    let start = 0;
    if (marker) {
      const rank = await this.redis.zrank(this.keys.nodes(), marker);
      if (rank === null) throw new SolgateError('INVALID_INPUT', `Marker ${marker} does not exist.`);
      start = rank + 1;
    }
    const stop = limit ? start + limit - 1 : -1;
    return this.redis.zrange(this.keys.nodes(), String(start), String(stop));
  }

  async count(): Promise<number> {
    return this.redis.zcard(this.keys.nodes());
  }

  /** Changes so far that matter to a reconciler (see nodesVersion in keys.ts). */
  async version(): Promise<number> {
    return Number((await this.redis.get(this.keys.nodesVersion())) ?? 0);
  }

  /** uuids whose console the user wants enabled. */
  async consoleEnabledUuids(): Promise<string[]> {
    return this.redis.smembers(this.keys.consoleEnabled());
  }

  /**
   * A change stamp per node ("<rev>.<generation>", null when the node is gone): one cheap round
   * trip that tells a reconciler which cached specs to re-read.
   */
  async stamps(uuids: string[]): Promise<(string | null)[]> {
    if (uuids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const u of uuids) pipe.hmget(this.keys.node(u), 'rev', 'generation');
    const res = (await pipe.exec()) ?? [];
    return res.map(([err, v]) => {
      if (err) throw err;
      const [rev, gen] = v as (string | null)[];
      return rev === null ? null : `${rev}.${gen ?? 0}`;
    });
  }

  static stampOf(node: NodeRecord): string {
    return `${node.rev}.${node.console_generation}`;
  }

  /** Compare-and-set update of the writable fields. */
  async update(node: NodeRecord, fields: WritableNodeFields, nowMs = Date.now()): Promise<NodeRecord> {
    const spec: StoredSpec = { ...fields, provision_state: node.provision_state, created_at: node.created_at };
    const res = await runScript<number | string>(
      this.redis,
      'updateNode',
      [this.keys.node(node.uuid), this.keys.nodeNames(), this.keys.nodesVersion()],
      [node.uuid, node.rev, JSON.stringify(spec), fields.name ?? '', nowMs, this.keys.events()],
    );
    if (res === 'ERR_GONE') throw new SolgateError('NODE_NOT_FOUND', `Node ${node.uuid} could not be found.`);
    if (res === 'ERR_REV') throw new SolgateError('CONFLICT', `Node ${node.uuid} was changed by another request; retry.`);
    if (res === 'ERR_NAME') throw new SolgateError('CONFLICT', `A node with name ${fields.name} already exists.`);
    return { ...node, ...spec, rev: Number(res), updated_at: nowMs };
  }

  /** Record the console intent; returns whether it changed and the console generation. */
  async setConsoleIntent(uuid: string, enabled: boolean, nowMs = Date.now()): Promise<{ changed: boolean; generation: number }> {
    const res = await runScript<[number, number] | string>(
      this.redis,
      'setConsoleIntent',
      [this.keys.node(uuid), this.keys.consoleEnabled(), this.keys.nodesVersion()],
      [uuid, enabled ? '1' : '0', nowMs, this.keys.events()],
    );
    if (res === 'ERR_GONE') throw new SolgateError('NODE_NOT_FOUND', `Node ${uuid} could not be found.`);
    const [changed, generation] = res as [number, number];
    return { changed: changed === 1, generation: Number(generation) };
  }

  async delete(uuid: string): Promise<boolean> {
    const res = await runScript<number>(
      this.redis,
      'deleteNode',
      [this.keys.node(uuid), this.keys.nodes(), this.keys.nodeNames(), this.keys.consoleEnabled(), this.keys.consoleState(uuid), this.keys.claim(uuid), this.keys.nodesVersion()],
      [uuid, this.keys.events()],
    );
    return res === 1;
  }
}

export function parseNodeHash(h: Record<string, string> | null | undefined): NodeRecord | undefined {
  if (!h || !h.spec) return undefined;
  const spec = JSON.parse(h.spec) as StoredSpec;
  return {
    ...spec,
    console_enabled: h.enabled === '1',
    console_generation: Number(h.generation ?? 0),
    updated_at: h.updated_at ? Number(h.updated_at) : null,
    rev: Number(h.rev ?? 1),
  };
}
