import { rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '#libs/common';
import type { Logger } from '#libs/logging';
import { consoleLogEntryCost, type ConsoleLogEntry, type ConsoleLogRepository } from '#libs/nodes';
import { assertLogDirectory, openOwnAppendFile } from '../trusted-path.js';
import type { ViewerInfo } from './broker-api.js';
import type { AuditEvent, AuditSink, OutputSink, ViewerPublisher } from './ports.js';

/** How long output waits to be batched into one console log entry / file write. */
export const LOG_BATCH_MS = 50;
/** A batch this large is written at once. */
const LOG_BATCH_MAX_BYTES = 32 * 1024;
/** Output kept while Redis is slow or away; beyond it the oldest pending bytes are dropped (and marked). */
const LOG_PENDING_MAX_BYTES = 1024 * 1024;

/**
 * One timer for every batcher of the process: the batches that are due leave in the same tick, so
 * the conductor's auto-pipelined Redis connection sends all nodes' XADDs of a 50 ms window in one
 * write (and Redis reads them in one go), instead of one write per node, each at its own moment;
 * likewise one timer callback instead of one per node. A batch waits at most LOG_BATCH_MS.
 */
class BatchClock {
  private readonly due = new Set<Batcher>();
  private timer: NodeJS.Timeout | undefined;

  schedule(b: Batcher): void {
    this.due.add(b);
    this.timer ??= setTimeout(() => this.tick(), LOG_BATCH_MS);
  }

  cancel(b: Batcher): void {
    this.due.delete(b);
    if (this.due.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private tick(): void {
    this.timer = undefined;
    const due = [...this.due];
    this.due.clear();
    for (const b of due) void b.flush(); // flush never rejects
  }
}

const batchClock = new BatchClock();

/**
 * Batches output for one writer: collects chunks for up to LOG_BATCH_MS (or until LOG_BATCH_MAX_BYTES),
 * then hands one contiguous (offset, bytes) run to `flushFn`, one at a time, in order.
 */
class Batcher {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private offset = 0;
  private scheduled = false;
  private running: Promise<void> = Promise.resolve();
  private dropped = 0;

  constructor(private readonly flushFn: (offset: number, data: Buffer) => Promise<void>) {}

  write(offset: number, data: Buffer): void {
    if (this.bytes === 0) this.offset = offset;
    else if (offset !== this.offset + this.bytes) {
      void this.flush(); // not contiguous (should not happen): start a new run (flush never rejects)
      this.offset = offset;
    }
    this.chunks.push(data);
    this.bytes += data.length;
    if (this.bytes > LOG_PENDING_MAX_BYTES) {
      // the sink is far behind: keep the newest bytes
      const all = Buffer.concat(this.chunks);
      const keep = all.subarray(all.length - LOG_BATCH_MAX_BYTES);
      this.dropped += all.length - keep.length;
      this.offset += all.length - keep.length;
      this.chunks = [keep];
      this.bytes = keep.length;
    }
    if (this.bytes >= LOG_BATCH_MAX_BYTES) void this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      batchClock.schedule(this);
    }
  }

  get droppedBytes(): number {
    return this.dropped;
  }

  flush(): Promise<void> {
    if (this.scheduled) {
      this.scheduled = false;
      batchClock.cancel(this);
    }
    if (this.bytes === 0) return this.running;
    const data = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const offset = this.offset;
    this.chunks = [];
    this.bytes = 0;
    this.running = this.running.then(() => this.flushFn(offset, data)).catch(() => undefined);
    return this.running;
  }
}

/**
 * The console log in Redis: a Stream per node, one entry per batch, trimmed to `capBytes` of Redis
 * memory (each entry counted by consoleLogEntryCost) by MINID on the same XADD. The broker that owns
 * the node is the only writer; it knows every entry's size (its predecessor's from the tail it read
 * at start).
 */
export class RedisLogSink implements OutputSink {
  private readonly batcher: Batcher;
  /** Entries believed to be in the stream, oldest first. */
  private readonly entries: Array<{ id: string; bytes: number }>;
  private total = 0;
  private closed = false;
  private warned = false;

  constructor(
    private readonly uuid: string,
    private readonly repo: ConsoleLogRepository,
    private readonly capBytes: number,
    existing: ConsoleLogEntry[],
    private readonly log: Logger,
  ) {
    this.entries = existing.map((e) => ({ id: e.id, bytes: consoleLogEntryCost(e.data.length) }));
    this.total = this.entries.reduce((n, e) => n + e.bytes, 0);
    this.batcher = new Batcher((offset, data) => this.append(offset, data));
  }

  write(offset: number, data: Buffer): void {
    if (!this.closed) this.batcher.write(offset, data);
  }

  private async append(offset: number, data: Buffer): Promise<void> {
    const bytes = consoleLogEntryCost(data.length);
    let total = this.total + bytes;
    let drop = 0;
    while (drop < this.entries.length && total > this.capBytes) total -= this.entries[drop++]!.bytes;
    const keepFrom = this.entries[drop];
    try {
      const id = await this.repo.append(this.uuid, offset, data, keepFrom ? { minId: keepFrom.id } : { maxLen: 1 });
      this.entries.splice(0, drop);
      this.entries.push({ id, bytes });
      this.total = total;
      this.warned = false;
    } catch (e) {
      if (!this.warned) this.log.warn({ node: this.uuid, err: errorMessage(e) }, 'console log: Redis append failed; output of this batch is only in the history and files');
      this.warned = true;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.batcher.flush();
  }
}

/**
 * Full console logs as files, as conserver keeps them: `<dir>/<uuid>.log`, rotated when it passes
 * `maxBytes` (`.1` is the newest old one, up to `.<count>`). Written in the same batches as the
 * Redis log, through one open handle per node.
 */
export class FileLogSink implements OutputSink {
  private readonly batcher: Batcher;
  private handle: FileHandle | undefined;
  private size = -1;
  private closed = false;
  private warned = false;
  readonly path: string;

  constructor(
    private readonly dir: string,
    private readonly uuid: string,
    private readonly maxBytes: number,
    private readonly count: number,
    private readonly log: Logger,
  ) {
    this.path = join(dir, `${uuid}.log`);
    this.batcher = new Batcher((_o, data) => this.append(data));
  }

  write(offset: number, data: Buffer): void {
    if (!this.closed) this.batcher.write(offset, data);
  }

  private async append(data: Buffer): Promise<void> {
    try {
      if (!this.handle) {
        // prepared at start (prepareLogDirectory); checked again, and no link is followed in it
        assertLogDirectory(this.dir);
        this.handle = await openOwnAppendFile(this.path);
        this.size = (await this.handle.stat()).size;
      }
      if (this.size > 0 && this.size + data.length > this.maxBytes) await this.rotate();
      await this.handle!.write(data);
      this.size += data.length;
      this.warned = false;
    } catch (e) {
      if (!this.warned) this.log.warn({ node: this.uuid, path: this.path, err: errorMessage(e) }, 'console log file: write failed');
      this.warned = true;
      await this.handle?.close().catch(() => undefined);
      this.handle = undefined;
    }
  }

  private async rotate(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
    for (let i = this.count - 1; i >= 1; i--) await rename(`${this.path}.${i}`, `${this.path}.${i + 1}`).catch(() => undefined);
    await rename(this.path, `${this.path}.1`);
    assertLogDirectory(this.dir);
    this.handle = await openOwnAppendFile(this.path);
    this.size = 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.batcher.flush();
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
  }
}

/** Audit events to the node's capped audit stream in Redis (fire and forget; the log line is written too). */
export class RedisAuditSink implements AuditSink {
  constructor(
    private readonly repo: ConsoleLogRepository,
    private readonly log: Logger,
  ) {}

  record(e: AuditEvent): void {
    void this.repo
      .recordAudit(e.node, { event: e.event, offset: e.offset, client: e.viewer?.address, name: e.viewer?.name, via: e.viewer?.via, detail: e.detail })
      .catch((err) => this.log.debug({ node: e.node, err: errorMessage(err) }, 'console audit: Redis append failed'));
  }
}

/**
 * Who is attached, to Redis: coalesced (one write in flight per node, the latest list wins),
 * fenced by the node's claim.
 */
export class RedisViewerPublisher implements ViewerPublisher {
  private readonly pending = new Map<string, ViewerInfo[]>();
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly repo: ConsoleLogRepository,
    private readonly identity: () => { conductor: string; incarnation: string },
    private readonly log: Logger,
  ) {}

  publish(uuid: string, viewers: ViewerInfo[]): void {
    this.pending.set(uuid, viewers);
    if (!this.inFlight.has(uuid)) void this.drain(uuid);
  }

  private async drain(uuid: string): Promise<void> {
    this.inFlight.add(uuid);
    try {
      while (this.pending.has(uuid)) {
        const viewers = this.pending.get(uuid)!;
        this.pending.delete(uuid);
        const { conductor, incarnation } = this.identity();
        await this.repo.publishViewers(uuid, { conductor, incarnation, updated_at: Date.now(), viewers }).catch((e) => {
          this.log.debug({ node: uuid, err: errorMessage(e) }, 'console viewers: Redis publish failed');
        });
      }
    } finally {
      this.inFlight.delete(uuid);
    }
  }
}
