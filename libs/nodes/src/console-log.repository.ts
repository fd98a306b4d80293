import type { Redis } from 'ioredis';
import { isWrongType, Keys, registerLuaScripts, runScript } from '#libs/redis';

/**
 * A node's console history in Redis, so it survives takeover and can be read with no conductor
 * involved (`solgate console log`, `solgate console who`):
 *   - the console log: a Stream of output batches (o = absolute offset of the first byte, d = the
 *     bytes; the entry id carries Redis's time), trimmed to a byte budget by the owner's broker;
 *   - the audit trail: a capped Stream of attach/detach/lock/break/BMC session events;
 *   - who is attached: a JSON string plus the count in the console status hash (fenced by the claim).
 */
export interface ConsoleLogEntry {
  id: string;
  /** Redis time of the append, ms. */
  at: number;
  offset: number;
  data: Buffer;
}

export interface ConsoleAuditEntry {
  id: string;
  at: number;
  event: string;
  offset: number;
  client: string | null;
  name: string | null;
  via: string | null;
  detail: Record<string, unknown> | null;
}

export interface PublishedViewers {
  conductor: string;
  incarnation: string;
  updated_at: number;
  viewers: Array<{ id: string; name: string; address: string; via: string; attachedAt: number; writer: boolean; readOnly: boolean }>;
}

/**
 * What one console log entry of `dataBytes` costs in Redis, as the SOLGATE_CONSOLE_LOG_BYTES budget
 * counts it: the data, a quarter on top, and 64 bytes. Redis keeps a stream in listpacks of at most
 * 4 KiB (stream-node-max-bytes), each rounded up to an allocator size class, so its real overhead
 * per entry depends on the entry's size: 5–45 % of the data plus tens of bytes. Measured with Redis
 * 7.0 (`MEMORY USAGE … SAMPLES 0`, bench/console-log-memory.ts), a full log costs
 * 0.77–1.09 × the budget for entries of 256 B to 32 KiB (0.88 for 115200-baud output in 50 ms
 * batches), and less for smaller ones: 10,000 full 128 KiB logs take about 1.1–1.3 GiB of Redis.
 */
export function consoleLogEntryCost(dataBytes: number): number {
  return dataBytes + Math.ceil(dataBytes / 4) + 64;
}

export const CONSOLE_AUDIT_MAX_ENTRIES = 1000;

const idTime = (id: string) => Number(id.split('-')[0]);

function fieldsOf(raw: Buffer[]): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (let i = 0; i + 1 < raw.length; i += 2) m.set(raw[i]!.toString('latin1'), raw[i + 1]!);
  return m;
}

function toEntry([id, fields]: [Buffer, Buffer[]]): ConsoleLogEntry {
  const f = fieldsOf(fields);
  const sid = id.toString('latin1');
  return { id: sid, at: idTime(sid), offset: Number(f.get('o')?.toString('latin1') ?? 0), data: f.get('d') ?? Buffer.alloc(0) };
}

interface PendingAppend {
  key: string;
  offset: number;
  data: Buffer;
  trim: { minId: string } | { maxLen: number };
  resolve(id: string): void;
  reject(e: unknown): void;
}

/** One appendConsoleLogs call carries at most this many batches, or this many bytes (Redis runs a script to its end). */
const APPEND_CALL_MAX_ENTRIES = 512;
const APPEND_CALL_MAX_BYTES = 1024 * 1024;

export class ConsoleLogRepository {
  private appends: PendingAppend[] = [];

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {
    registerLuaScripts(redis);
  }

  /**
   * Append one batch; `trim` keeps entries from that id on (approximately: Redis trims whole
   * macro nodes) or, when undefined, only the newest entries. Returns the new entry's id.
   *
   * Appends made in the same event-loop turn (the brokers' batches of one 50 ms window) leave
   * together in one appendConsoleLogs script call, up to APPEND_CALL_MAX_ENTRIES / _BYTES each: a
   * thousand nodes' output costs the conductor one command per window, not a thousand. Each append
   * still succeeds or fails on its own.
   */
  append(uuid: string, offset: number, data: Buffer, trim: { minId: string } | { maxLen: number }): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.appends.push({ key: this.keys.consoleLog(uuid), offset, data, trim, resolve, reject });
      if (this.appends.length === 1) process.nextTick(() => this.sendAppends());
    });
  }

  private sendAppends(): void {
    const all = this.appends;
    this.appends = [];
    for (let from = 0; from < all.length; ) {
      let to = from;
      let bytes = 0;
      while (to < all.length && to - from < APPEND_CALL_MAX_ENTRIES && (to === from || bytes + all[to]!.data.length <= APPEND_CALL_MAX_BYTES)) bytes += all[to++]!.data.length;
      void this.appendCall(all.slice(from, to));
      from = to;
    }
  }

  private async appendCall(batch: PendingAppend[]): Promise<void> {
    const args: (string | Buffer)[] = [];
    for (const a of batch) {
      if ('minId' in a.trim) args.push('MINID', a.trim.minId);
      else args.push('MAXLEN', String(a.trim.maxLen));
      args.push(String(a.offset), a.data);
    }
    let replies: unknown[];
    try {
      replies = await runScript<unknown[]>(
        this.redis,
        'appendConsoleLogs',
        batch.map((a) => a.key),
        args,
      );
    } catch (e) {
      for (const a of batch) a.reject(e);
      return;
    }
    batch.forEach((a, i) => {
      const r = replies[i];
      if (typeof r === 'string') a.resolve(r);
      else a.reject(r instanceof Error ? r : new Error(`console log append: unexpected reply ${String(r)}`));
    });
  }

  /** The newest entries whose bytes (plus overhead) add up to at most about `maxBytes`, oldest first. */
  async tail(uuid: string, maxBytes: number): Promise<ConsoleLogEntry[]> {
    const out: ConsoleLogEntry[] = [];
    let total = 0;
    let end = '+';
    for (;;) {
      const page = (await this.redis.xrevrangeBuffer(this.keys.consoleLog(uuid), end, '-', 'COUNT', 512)) as unknown as Array<[Buffer, Buffer[]]>;
      if (page.length === 0) break;
      for (const raw of page) {
        const e = toEntry(raw);
        total += consoleLogEntryCost(e.data.length);
        if (total > maxBytes && out.length > 0) return out.reverse();
        out.push(e);
      }
      if (page.length < 512) break;
      end = `(${out[out.length - 1]!.id}`;
    }
    return out.reverse();
  }

  /** Entries appended at or after `sinceMs` (Redis time), oldest first; the next page starts after `afterId`. */
  async since(uuid: string, sinceMs: number, count = 10_000, afterId?: string): Promise<ConsoleLogEntry[]> {
    const start = afterId ? `(${afterId}` : String(Math.max(0, Math.floor(sinceMs)));
    const page = (await this.redis.xrangeBuffer(this.keys.consoleLog(uuid), start, '+', 'COUNT', count)) as unknown as Array<[Buffer, Buffer[]]>;
    return page.map(toEntry);
  }

  /** Wait (up to `blockMs`) for entries after `afterId` ('$' = only new ones). Use a dedicated connection. */
  async follow(client: Redis, uuid: string, afterId: string, blockMs: number): Promise<ConsoleLogEntry[]> {
    const res = (await client.xreadBuffer('BLOCK', blockMs, 'STREAMS', this.keys.consoleLog(uuid), afterId)) as unknown as Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null;
    return res?.[0]?.[1].map(toEntry) ?? [];
  }

  /** Redis's clock, ms (for --since: host clocks are not compared). */
  async now(): Promise<number> {
    const [s, us] = await this.redis.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  }

  async recordAudit(uuid: string, e: { event: string; offset: number; client?: string; name?: string; via?: string; detail?: Record<string, unknown> }): Promise<void> {
    const fields = ['e', e.event, 'o', String(e.offset)];
    if (e.client) fields.push('c', e.client);
    if (e.name) fields.push('n', e.name);
    if (e.via) fields.push('v', e.via);
    if (e.detail) fields.push('x', JSON.stringify(e.detail));
    await this.redis.xadd(this.keys.consoleAudit(uuid), 'MAXLEN', '~', String(CONSOLE_AUDIT_MAX_ENTRIES), '*', ...fields);
  }

  async audit(uuid: string, count = 100): Promise<ConsoleAuditEntry[]> {
    let page: Array<[string, string[]]>;
    try {
      page = (await this.redis.xrevrange(this.keys.consoleAudit(uuid), '+', '-', 'COUNT', count)) as Array<[string, string[]]>;
    } catch (e) {
      if (isWrongType(e)) return []; // not a stream: nothing readable (defensive read, as viewers)
      throw e;
    }
    return page.reverse().map(([id, raw]) => {
      const f = new Map<string, string>();
      for (let i = 0; i + 1 < raw.length; i += 2) f.set(raw[i]!, raw[i + 1]!);
      let detail: Record<string, unknown> | null;
      try {
        detail = f.has('x') ? (JSON.parse(f.get('x')!) as Record<string, unknown>) : null;
      } catch {
        detail = null;
      }
      return { id, at: idTime(id), event: f.get('e') ?? '', offset: Number(f.get('o') ?? 0), client: f.get('c') ?? null, name: f.get('n') ?? null, via: f.get('v') ?? null, detail };
    });
  }

  /** Publish who is attached (fenced: only while `incarnation` holds the node's claim). */
  async publishViewers(uuid: string, v: PublishedViewers): Promise<boolean> {
    const r = await runScript<number>(this.redis, 'publishConsoleViewers', [this.keys.consoleState(uuid), this.keys.claim(uuid), this.keys.consoleViewers(uuid)], [
      v.incarnation,
      String(v.viewers.length),
      JSON.stringify(v),
    ]);
    return r === 1;
  }

  /**
   * Who is attached, as the owner published it; null when nothing (readable) is published. Read
   * defensively (hardening finding 3): a key of another type, JSON of another shape or a viewer
   * entry with bad fields is skipped, never an exception for `solgate console who`.
   */
  async viewers(uuid: string): Promise<PublishedViewers | null> {
    let raw: string | null;
    try {
      raw = await this.redis.get(this.keys.consoleViewers(uuid));
    } catch (e) {
      if (isWrongType(e)) return null;
      throw e;
    }
    if (!raw) return null;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch {
      return null;
    }
    if (!isObject(v) || typeof v.conductor !== 'string' || typeof v.incarnation !== 'string' || !Array.isArray(v.viewers)) return null;
    const viewers = v.viewers.filter(
      (x): x is PublishedViewers['viewers'][number] =>
        isObject(x) &&
        ['id', 'name', 'address', 'via'].every((k) => typeof x[k] === 'string') &&
        Number.isFinite(x.attachedAt) && Math.abs(x.attachedAt as number) < 8.64e15 &&
        typeof x.writer === 'boolean' && typeof x.readOnly === 'boolean',
    );
    return { conductor: v.conductor, incarnation: v.incarnation, updated_at: Number(v.updated_at) || 0, viewers };
  }

  /** Forget a node's console history (node deleted). */
  async remove(uuid: string): Promise<void> {
    await this.redis.del(this.keys.consoleLog(uuid), this.keys.consoleAudit(uuid), this.keys.consoleViewers(uuid));
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
