import type { Redis } from 'ioredis';
import { Keys, pipelineHgetall, registerLuaScripts, runScript } from '#libs/redis';

export type ClaimStatus = 'HELD' | 'TAKEN' | 'BUSY' | 'HOLD' | 'NOT_MEMBER';

export interface ClaimResult {
  status: ClaimStatus;
  epoch: number;
  /** The holder before this call ('' if the claim was free). */
  previous: string;
}

export interface Claim {
  member: string;
  incarnation: string;
  epoch: number;
  sinceMs: number;
}

/**
 * Per-node claims: the right to run the node's console, changed only by Lua compare-and-set with
 * a cluster-wide increasing epoch (acquireClaim-5.lua, releaseClaim-1.lua).
 */
export class ClaimRepository {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {
    registerLuaScripts(redis);
  }

  async acquire(uuid: string, member: string, incarnation: string, timeoutMs: number): Promise<ClaimResult> {
    const k = this.keys;
    const [status, epoch, previous] = await runScript<[string, number, string]>(
      this.redis,
      'acquireClaim',
      [k.claim(uuid), k.members(), k.memberIncarnations(), k.claimEpoch(), k.takeoverHold()],
      [member, incarnation, timeoutMs],
    );
    return { status: status as ClaimStatus, epoch: Number(epoch), previous: previous ?? '' };
  }

  async release(uuid: string, member: string, incarnation: string, epoch: number): Promise<boolean> {
    const res = await runScript<number>(this.redis, 'releaseClaim', [this.keys.claim(uuid)], [member, incarnation, epoch, this.keys.events(), uuid]);
    return res === 1;
  }

  async get(uuid: string): Promise<Claim | undefined> {
    return parseClaim(await this.redis.hgetall(this.keys.claim(uuid)));
  }

  async getMany(uuids: string[]): Promise<(Claim | undefined)[]> {
    return (await pipelineHgetall(this.redis, uuids.map((u) => this.keys.claim(u)))).map(parseClaim);
  }

  /** Test and repair tooling (CLI doctor): every claim key's uuid. */
  async scanClaimedUuids(): Promise<string[]> {
    const out: string[] = [];
    const pattern = this.keys.claimPattern();
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      for (const key of batch) out.push(this.keys.uuidOfClaimKey(key));
    } while (cursor !== '0');
    return out;
  }
}

function parseClaim(h: Record<string, string> | null | undefined): Claim | undefined {
  if (!h || !h.member) return undefined;
  return { member: h.member, incarnation: h.incarnation ?? '', epoch: Number(h.epoch ?? 0), sinceMs: Number(h.since ?? 0) };
}
