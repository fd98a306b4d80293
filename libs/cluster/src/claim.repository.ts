import type { Redis } from 'ioredis';
import { isWrongType, Keys, recordProblems as defaultProblems, registerLuaScripts, runScript, type RecordProblems } from '#libs/redis';

export type ClaimStatus = 'HELD' | 'TAKEN' | 'BUSY' | 'HOLD' | 'NOT_MEMBER';

/** What reassertClaim-5.lua found: see its header. */
export type ReassertStatus = 'HELD' | 'REASSERTED' | 'LOST' | 'NOT_MEMBER';

export interface ClaimResult {
  status: ClaimStatus;
  epoch: number;
  /** The holder before this call ('' if the claim was free). */
  previous: string;
}

/** Claims checked per Lua call: a few ms of Redis time at most. */
const HELD_EPOCHS_BATCH = 1000;

export interface Claim {
  member: string;
  incarnation: string;
  epoch: number;
  sinceMs: number;
}

/**
 * Per-node claims: the right to run the node's console, changed only by Lua compare-and-set with
 * a cluster-wide increasing epoch (acquireClaim-5.lua). A claim is given up together with the
 * final observed-state write (writeConsoleStatus-2.lua, libs/nodes).
 *
 * Redis can go back in time (a Sentinel failover onto a replica that had not received the newest
 * writes), so the repository remembers the highest epoch it has seen and never lets the counter
 * hand out one at or below it, and a running console whose claim reads older is re-asserted
 * (reassertClaim-5.lua) rather than stopped. docs/chaos.md, "Redis going back in time".
 */
export class ClaimRepository {
  /** The highest claim epoch this process has seen (acquired, re-asserted or read). */
  private epochFloor = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly problems: RecordProblems = defaultProblems,
  ) {
    registerLuaScripts(redis);
  }

  async acquire(uuid: string, member: string, incarnation: string, timeoutMs: number): Promise<ClaimResult> {
    const k = this.keys;
    const [status, epoch, previous] = await runScript<[string, number, string]>(
      this.redis,
      'acquireClaim',
      [k.claim(uuid), k.members(), k.memberIncarnations(), k.claimEpoch(), k.takeoverHold()],
      [member, incarnation, timeoutMs, this.epochFloor],
    );
    this.saw(Number(epoch));
    return { status: status as ClaimStatus, epoch: Number(epoch), previous: previous ?? '' };
  }

  /** Write back the claim of a console running under `epoch` if Redis lost it (see reassertClaim-5.lua). */
  async reassert(uuid: string, member: string, incarnation: string, epoch: number, timeoutMs: number): Promise<ReassertStatus> {
    const k = this.keys;
    const [status] = await runScript<[string, number]>(
      this.redis,
      'reassertClaim',
      [k.claim(uuid), k.members(), k.memberIncarnations(), k.claimEpoch(), k.node(uuid)],
      [member, incarnation, epoch, timeoutMs],
    );
    this.saw(epoch);
    return status as ReassertStatus;
  }

  private saw(epoch: number): void {
    if (Number.isFinite(epoch) && epoch > this.epochFloor) this.epochFloor = epoch;
  }

  async get(uuid: string): Promise<Claim | undefined> {
    try {
      const c = parseClaim(await this.redis.hgetall(this.keys.claim(uuid)));
      if (c) this.saw(c.epoch);
      return c;
    } catch (e) {
      return this.unreadable(uuid, e);
    }
  }

  async getMany(uuids: string[]): Promise<(Claim | undefined)[]> {
    if (uuids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const u of uuids) pipe.hgetall(this.keys.claim(u));
    const res = (await pipe.exec()) ?? [];
    const out = res.map(([err, h], i) => (err ? this.unreadable(uuids[i], err) : parseClaim(h as Record<string, string>)));
    for (const c of out) if (c) this.saw(c.epoch);
    return out;
  }

  /**
   * For each uuid, the claim's epoch if `member`/`incarnation` holds it, else 0: one Lua call per
   * 1,000 nodes (readClaimEpochs-0.lua) instead of one HGETALL per node. A key of another Redis
   * type is reported and reads as 0, as in getMany.
   */
  async heldEpochs(uuids: string[], member: string, incarnation: string): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < uuids.length; i += HELD_EPOCHS_BATCH) {
      const batch = uuids.slice(i, i + HELD_EPOCHS_BATCH);
      const epochs = await runScript<number[]>(this.redis, 'readClaimEpochs', [], [member, incarnation, ...batch.map((u) => this.keys.claim(u))]);
      epochs.forEach((e, j) => {
        if (e === -1) this.problems.report({ key: this.keys.claim(batch[j]!), uuid: batch[j]!, problem: 'the key holds another Redis type than a hash' });
        out.push(Math.max(0, Number(e)));
        this.saw(Number(e));
      });
    }
    return out;
  }

  /** A claim key of another Redis type: reported and read as no claim (nobody may run on it). */
  private unreadable(uuid: string, err: unknown): undefined {
    if (!isWrongType(err)) throw err;
    this.problems.report({ key: this.keys.claim(uuid), uuid, problem: 'the key holds another Redis type than a hash' });
    return undefined;
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
  const n = (v: string | undefined) => (Number.isFinite(Number(v ?? 0)) ? Number(v ?? 0) : 0);
  return { member: h.member, incarnation: h.incarnation ?? '', epoch: n(h.epoch), sinceMs: n(h.since) };
}
