import type { Redis } from 'ioredis';
import { isWrongType, Keys, recordProblems as defaultProblems, registerLuaScripts, runScript, type RecordProblems } from '#libs/redis';
import { CONSOLE_STATES, STOPPED_STATUS, type ConsoleState, type ConsoleStatus } from './console-state.model.js';

/** Who writes: the claim a status write is fenced by. */
export interface ClaimFence {
  member: string;
  incarnation: string;
  epoch: number;
}

/**
 * Observed console state per node. Reads are free for everyone; writes are fenced by the node's
 * claim (see writeConsoleStatus-2.lua), so only the current owner can change what the API reports.
 */
export class ConsoleStatusRepository {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly problems: RecordProblems = defaultProblems,
  ) {
    registerLuaScripts(redis);
  }

  async get(uuid: string): Promise<ConsoleStatus> {
    try {
      return parseStatus(await this.redis.hgetall(this.keys.consoleState(uuid)));
    } catch (e) {
      return this.unreadable(uuid, e);
    }
  }

  async getMany(uuids: string[]): Promise<ConsoleStatus[]> {
    if (uuids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const u of uuids) pipe.hgetall(this.keys.consoleState(u));
    const res = (await pipe.exec()) ?? [];
    return res.map(([err, h], i) => (err ? this.unreadable(uuids[i], err) : parseStatus(h as Record<string, string>)));
  }

  /** A status key of another Redis type: reported, and read as "stopped" with the reason. */
  private unreadable(uuid: string, err: unknown): ConsoleStatus {
    if (!isWrongType(err)) throw err;
    const key = this.keys.consoleState(uuid);
    this.problems.report({ key, uuid, problem: 'the key holds another Redis type than a hash' });
    return { ...STOPPED_STATUS, last_error: `The stored console state of this node is unreadable (${key} is not a hash).` };
  }

  /**
   * Write (part of) the status; false when the fence no longer holds. `releaseClaim`: give the
   * claim up in the same step (the console stopped for good; its next owner is nudged).
   */
  async write(uuid: string, fence: ClaimFence, patch: Partial<ConsoleStatus>, { releaseClaim = false } = {}): Promise<boolean> {
    const args: string[] = [];
    const full: Partial<ConsoleStatus> = { ...patch, conductor: fence.member, incarnation: fence.incarnation, epoch: fence.epoch };
    for (const [k, v] of Object.entries(full)) args.push(k, v === null || v === undefined ? '' : String(v));
    const res = await runScript<number>(this.redis, 'writeConsoleStatus', [this.keys.consoleState(uuid), this.keys.claim(uuid)], [
      fence.member,
      fence.incarnation,
      fence.epoch,
      releaseClaim ? '1' : '0',
      this.keys.events(),
      uuid,
      ...args,
    ]);
    return res === 1;
  }
}

// Not a number (a damaged record) reads as the default: one bad field must not become NaN downstream.
const num = (v: string | undefined, d: number) => (v === undefined || v === '' || !Number.isFinite(Number(v)) ? d : Number(v));
const numOrNull = (v: string | undefined) => (v === undefined || v === '' || !Number.isFinite(Number(v)) ? null : Number(v));
const strOrNull = (v: string | undefined) => (v === undefined || v === '' ? null : v);

export function parseStatus(h: Record<string, string> | null | undefined): ConsoleStatus {
  if (!h || Object.keys(h).length === 0) return { ...STOPPED_STATUS };
  const state = (CONSOLE_STATES as readonly string[]).includes(h.state) ? (h.state as ConsoleState) : 'stopped';
  return {
    state,
    conductor: strOrNull(h.conductor),
    incarnation: strOrNull(h.incarnation),
    epoch: num(h.epoch, 0),
    url: strOrNull(h.url),
    port: numOrNull(h.port),
    pid: numOrNull(h.pid),
    generation: num(h.generation, 0),
    rev: num(h.rev, 0),
    last_error: strOrNull(h.last_error),
    restarts: num(h.restarts, 0),
    started_at: numOrNull(h.started_at),
    updated_at: numOrNull(h.updated_at),
    // counted by the broker of the incarnation that reports the state (a predecessor's count is stale)
    viewers: h.viewers !== undefined && h.viewers_by === h.incarnation ? num(h.viewers, 0) : null,
  };
}
