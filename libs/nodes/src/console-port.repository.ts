import type { Redis } from 'ioredis';
import { SolgateError } from '#libs/common';
import { Keys, registerLuaScripts, runScript } from '#libs/redis';
import { fixedConsolePort, type NodeRecord } from './node.model.js';
import { NODE_CHANGES_KEPT } from './node.repository.js';

/** Why a node has no console port. */
export type ConsolePortProblem = 'CONFLICT' | 'EXHAUSTED' | 'GONE';

/** A node could not get a console port (a typed reason, for the reconciler's restart policy). */
export class ConsolePortError extends SolgateError {
  constructor(
    readonly reason: ConsolePortProblem,
    message: string,
    readonly port?: number,
  ) {
    super(reason === 'GONE' ? 'NODE_NOT_FOUND' : 'CONFLICT', message);
    this.name = 'ConsolePortError';
  }
}

export const isConsolePortError = (e: unknown): e is ConsolePortError => e instanceof ConsolePortError;

/**
 * Sticky console ports, decided in Redis for the whole cluster (allocateConsolePort-6.lua): the
 * same answer whichever conductor asks, a node keeps its port for as long as it exists, and two
 * nodes never share one. Fixed ports (ipmi_terminal_port) are reserved when the node is written
 * (createNode/updateNode), released ports when it is deleted (deleteNode).
 */
export class ConsolePortRepository {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {
    registerLuaScripts(redis);
  }

  /** The node's port (allocating one on first use); throws ConsolePortError. */
  async allocate(node: Pick<NodeRecord, 'uuid' | 'driver_info'>, range: { start: number; stop: number }): Promise<number> {
    const k = this.keys;
    const fixed = fixedConsolePort(node);
    const [status, port, holder] = await runScript<[string, number, string?]>(
      this.redis,
      'allocateConsolePort',
      [k.node(node.uuid), k.consolePorts(), k.consolePortPool(), k.consolePortsFree(), k.nodesVersion(), k.nodeChanges()],
      [node.uuid, range.start, range.stop, fixed ?? '', NODE_CHANGES_KEPT],
    );
    if (status === 'OK') return Number(port);
    if (status === 'CONFLICT') throw new ConsolePortError('CONFLICT', `console port ${port} (ipmi_terminal_port) is allocated to node ${holder}`, Number(port));
    if (status === 'EXHAUSTED') throw new ConsolePortError('EXHAUSTED', `every console port in ${range.start}:${range.stop} is allocated to a node`);
    throw new ConsolePortError('GONE', `node ${node.uuid} no longer exists`);
  }

  /** Which node holds each port (tests, doctor). */
  async holders(): Promise<Map<number, string>> {
    const h = await this.redis.hgetall(this.keys.consolePorts());
    return new Map(Object.entries(h).map(([p, u]) => [Number(p), u]));
  }
}
