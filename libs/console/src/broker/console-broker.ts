import { EventEmitter } from 'node:events';
import { backoffDelayMs, errorMessage, type BackoffPolicy } from '#libs/common';
import type { Logger } from '#libs/logging';
import type {
  AttachOptions,
  BmcSessionState,
  CaptureMode,
  ConsoleBrokerHandle,
  ConsoleBrokerStatus,
  ConsoleViewer,
  LockChange,
  SendBreakResult,
  ViewerCloseReason,
  ViewerEvents,
  ViewerInfo,
} from './broker-api.js';
import { HistoryBuffer } from './history-buffer.js';
import { stopNotice, type ConsoleStopReason } from './notices.js';
import { SolLinkOpenError, type AuditEvent, type AuditSink, type BrokerMetrics, type OutputSink, type SolLink, type SolLinkOpener, type ViewerPublisher } from './ports.js';
import { WriteLock, type LockMove } from './write-lock.js';

export interface ConsoleBrokerOptions {
  uuid: string;
  capture: CaptureMode;
  /** on-demand: how long the BMC session outlives the last viewer. */
  lingerMs: number;
  historyBytes: number;
  replayBytes: number;
  maxViewers: number;
  /** Reconnect policy after a BMC session drops (or fails to open while it is wanted). */
  backoff: BackoffPolicy;
  /** The conductor's lease: no BMC session starts, and no keystroke is sent, without it. */
  leaseValid: () => boolean;
  open: SolLinkOpener;
  log: Logger;
  /** History a predecessor captured (from the console log in Redis): replayed to late joiners. */
  initialHistory?: { offset: number; data: Buffer };
  output?: OutputSink[];
  audit?: AuditSink;
  viewers?: ViewerPublisher;
  metrics?: BrokerMetrics;
  /** A session failed or dropped: the message becomes the node's last_error. */
  onSessionError?: (message: string) => void;
  /** Wall clock (tests). */
  now?: () => number;
}

/** Keystrokes kept while the BMC session is being set up (beyond this they are dropped). */
const MAX_EARLY_INPUT_BYTES = 64 * 1024;

export const SOL_BANNER_LINE = '[SOL Session operational.  Use ~? for help]';

/**
 * One node's console broker: at most one SOL session to the BMC (a SolLink), fanned out to every
 * viewer, with a write lock, a history ring buffer for late joiners, capture modes, reconnect with
 * backoff, and every byte of output passed to the console log sinks. Owned by the node's console
 * driver on the conductor that holds the node's claim; closed (with a reason every viewer is told)
 * when the console stops here.
 */
export class ConsoleBroker implements ConsoleBrokerHandle {
  readonly uuid: string;
  private readonly history: HistoryBuffer;
  private readonly lock = new WriteLock();
  private readonly viewers = new Map<string, Viewer>();
  private nextViewer = 1;
  private state: BmcSessionState = 'idle';
  private link: SolLink | undefined;
  private opening: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private healthyTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private lostAt: number | null = null;
  private early: Buffer[] = [];
  private earlyBytes = 0;
  private closed = false;
  /** Closing without a word to the BMC (fenced). */
  private abandoning = false;
  private capture: CaptureMode;
  private readonly counters = { bytesOut: 0, bytesIn: 0, drops: 0 };
  private readonly now: () => number;

  constructor(private readonly o: ConsoleBrokerOptions) {
    this.uuid = o.uuid;
    this.capture = o.capture;
    this.now = o.now ?? Date.now;
    const init = o.initialHistory;
    this.history = new HistoryBuffer(o.historyBytes, init ? init.offset : 0);
    if (init && init.data.length) {
      // only the part that fits; offsets stay those of the predecessor
      const data = init.data.subarray(Math.max(0, init.data.length - o.historyBytes));
      this.history = new HistoryBuffer(o.historyBytes, init.offset + init.data.length - data.length);
      this.history.append(data);
    }
  }

  get sessionState(): BmcSessionState {
    return this.state;
  }

  get captureMode(): CaptureMode {
    return this.capture;
  }

  /** Start: with `always` capture the BMC session opens now. */
  start(): void {
    this.ensureSession();
  }

  /** New parameters (driver_info changed, console restarted here): capture mode and how sessions open. */
  reconfigure(capture: CaptureMode): void {
    this.capture = capture;
    this.ensureSession();
    this.maybeLinger();
  }

  status(): ConsoleBrokerStatus {
    return {
      uuid: this.uuid,
      session: this.state,
      capture: this.capture,
      viewers: this.viewers.size,
      bytesOut: this.counters.bytesOut,
      bytesIn: this.counters.bytesIn,
      offset: this.history.endOffset,
      drops: this.counters.drops,
    };
  }

  replay(bytes = this.o.replayBytes): Buffer {
    return Buffer.from(this.history.tail(bytes).data);
  }

  who(): ViewerInfo[] {
    return this.lock.ids().map((id) => this.viewers.get(id)!.info);
  }

  attach(opts: AttachOptions): ConsoleViewer {
    const id = `v${this.nextViewer++}`;
    const v = new Viewer(this, {
      id,
      name: opts.name ?? opts.address,
      address: opts.address,
      via: opts.via,
      attachedAt: this.now(),
      writer: false,
      readOnly: !!opts.readOnly,
    });
    if (this.closed) {
      v.enqueue('close', 'handover');
      v.start(Buffer.alloc(0));
      return v;
    }
    if (this.viewers.size >= this.o.maxViewers) {
      v.enqueue('notice', `[solgate: too many viewers on this console (${this.o.maxViewers}); try again later]`);
      v.enqueue('close', 'full');
      v.start(Buffer.alloc(0));
      return v;
    }
    if (!this.o.leaseValid()) {
      v.enqueue('notice', STALE_NOTICE);
      v.enqueue('close', 'stale');
      v.start(Buffer.alloc(0));
      return v;
    }
    this.viewers.set(id, v);
    if (this.o.metrics) this.o.metrics.viewers++;
    const move = this.lock.attach({ id, readOnly: v.info.readOnly }, !!opts.forceWrite);
    // Replay first (exactly up to the live offset), then notices, then live output.
    const replay = this.history.tail(opts.replayBytes ?? this.o.replayBytes).data;
    v.waitingFirstSession = this.state !== 'up';
    if (this.state === 'up') v.enqueue('notice', SOL_BANNER_LINE);
    else v.enqueue('session', this.state === 'idle' ? 'connecting' : this.state);
    this.audit('attach', v, { replay: replay.length });
    this.applyMove(move, v);
    if (!v.info.writer) {
      const holder = this.holderInfo();
      v.enqueue('notice', holder ? `[solgate: read-only: ${holder.name} holds the write lock]` : '[solgate: read-only]');
    }
    v.start(Buffer.from(replay));
    if (this.lingerTimer) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
    }
    this.ensureSession();
    this.publishViewers();
    return v;
  }

  // ------------------------------------------------------------------ viewer operations

  /** @internal */
  viewerWrite(v: Viewer, data: Buffer): boolean {
    if (!this.viewers.has(v.info.id) || this.lock.writer !== v.info.id || data.length === 0) return false;
    if (!this.o.leaseValid()) {
      // a conductor paused past its lease must not type into a console it may no longer own
      v.close('stale', STALE_NOTICE);
      return false;
    }
    this.counters.bytesIn += data.length;
    if (this.o.metrics) this.o.metrics.bytesIn += data.length;
    if (this.link && this.state === 'up') {
      this.link.write(data);
    } else if (this.earlyBytes + data.length <= MAX_EARLY_INPUT_BYTES) {
      this.early.push(data);
      this.earlyBytes += data.length;
    }
    return true;
  }

  /** @internal */
  viewerTake(v: Viewer, force: boolean): boolean {
    const r = this.lock.take(v.info.id, force);
    if (!r.ok) return false;
    this.applyMove(r.move, v);
    return true;
  }

  /** @internal */
  viewerRelease(v: Viewer): void {
    this.applyMove(this.lock.release(v.info.id), v);
  }

  /** @internal */
  viewerBreak(v: Viewer): SendBreakResult {
    if (this.lock.writer !== v.info.id) return 'not-writer';
    if (!this.link || this.state !== 'up') return 'no-session';
    const r = this.link.sendBreak();
    if (r === 'sent') this.audit('break', v);
    return r;
  }

  /** @internal The viewer is gone (detach, hang-up, closed by us). */
  viewerGone(v: Viewer, reason: ViewerCloseReason): void {
    if (!this.viewers.delete(v.info.id)) return;
    if (this.o.metrics) this.o.metrics.viewers--;
    const move = this.lock.detach(v.info.id);
    this.audit('detach', v, { reason });
    if (this.closed) return; // closing: the lock goes nowhere, nobody is told about it
    this.applyMove(move, v);
    if (!this.closed) {
      this.publishViewers();
      this.maybeLinger();
    }
  }

  /** @internal */
  holderInfo(): ViewerInfo | null {
    const w = this.lock.writer;
    return w ? (this.viewers.get(w)?.info ?? null) : null;
  }

  private applyMove(move: LockMove | null, by: Viewer | null): void {
    if (!move) return;
    const info = (id: string | null) => (id ? (this.viewers.get(id)?.info ?? null) : null);
    for (const v of this.viewers.values()) v.info.writer = v.info.id === move.writer;
    const writer = info(move.writer);
    const previous = move.previous ? (info(move.previous) ?? (by && by.info.id === move.previous ? by.info : null)) : null;
    const change: LockChange = { writer: writer ? { ...writer } : null, previous: previous ? { ...previous } : null, forced: move.forced, cause: move.cause };
    this.audit('lock', by, { from: previous?.address ?? null, to: writer?.address ?? null, forced: move.forced, cause: move.cause });
    for (const v of this.viewers.values()) {
      v.enqueue('lock', change);
      if (move.cause === 'attach' && v.info.id === move.writer && !move.forced) continue; // the attach notice says it
      if (v.info.id === move.writer) v.enqueue('notice', '[solgate: you hold the write lock]');
      else if (v.info.id === move.previous)
        v.enqueue('notice', move.forced ? `[solgate: write lock taken by ${writer?.name ?? 'another viewer'} (forced); read-only now]` : `[solgate: write lock ${writer ? `passed to ${writer.name}` : 'released'}; read-only now]`);
    }
    this.publishViewers();
  }

  // ------------------------------------------------------------------ the BMC session

  private wantsSession(): boolean {
    return !this.closed && (this.capture === 'always' || this.viewers.size > 0 || this.lingerTimer !== undefined);
  }

  private ensureSession(): void {
    if (!this.wantsSession() || this.state === 'up' || this.state === 'connecting' || this.retryTimer) return;
    this.opening = this.openSession();
  }

  private async openSession(): Promise<void> {
    this.setState('connecting');
    let link: SolLink;
    try {
      if (!this.o.leaseValid()) throw new SolLinkOpenError(STALE_NOTICE, 'the conductor’s lease is not valid', true);
      link = await this.o.open();
    } catch (e) {
      this.openFailed(e);
      return;
    }
    if (!this.wantsSession()) {
      this.setState('idle');
      await link.close({ abandon: this.mustAbandon });
      return;
    }
    this.link = link;
    if (this.o.metrics) {
      this.o.metrics.sessionsOpen++;
      this.o.metrics.sessionsOpened++;
    }
    link.on('data', (d) => this.onOutput(d));
    link.once('end', (end) => this.onLinkEnd(link, end.error));
    this.o.log.info({ node: this.uuid, capture: this.capture, viewers: this.viewers.size }, 'BMC session open');
    this.audit('session-open', null);
    if (this.lostAt !== null) {
      const seconds = ((this.now() - this.lostAt) / 1000).toFixed(1);
      this.mark(`[solgate: BMC session re-established after ${seconds} s; output in between was not captured]`);
      this.lostAt = null;
    }
    // a session that stays up for a while resets the backoff
    this.healthyTimer = setTimeout(() => (this.failures = 0), this.o.backoff.minUptimeMs);
    this.healthyTimer.unref();
    this.setState('up');
    for (const v of this.viewers.values()) {
      if (v.waitingFirstSession) v.enqueue('notice', SOL_BANNER_LINE);
      v.waitingFirstSession = false;
    }
    const early = this.early;
    this.early = [];
    this.earlyBytes = 0;
    for (const chunk of early) link.write(chunk);
  }

  private openFailed(e: unknown): void {
    const err = e instanceof SolLinkOpenError ? e : new SolLinkOpenError(`Error: ${errorMessage(e)}\r\n`, `SOL session failed: ${errorMessage(e)}`);
    this.failures++;
    this.o.log.warn({ node: this.uuid, err: err.message, failures: this.failures }, 'BMC session failed to open');
    if (!err.stale) this.o.onSessionError?.(err.message);
    // Viewers that never saw this session come up are told why and let go (as with ipmitool);
    // those who saw it drop stay and see it come back.
    this.setState('idle');
    for (const v of [...this.viewers.values()]) if (v.waitingFirstSession) v.close(err.stale ? 'stale' : 'session-failed', err.clientLine.replace(/[\r\n]+$/, ''));
    this.early = [];
    this.earlyBytes = 0;
    if (err.stale) return; // a stale listener retries nothing: the conductor is about to fence
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (!this.wantsSession() || this.retryTimer) return;
    const delay = backoffDelayMs(this.o.backoff, this.failures);
    this.setState('retrying');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.wantsSession()) this.ensureSession();
      else this.setState('idle');
    }, delay);
  }

  private onLinkEnd(link: SolLink, error: string | null): void {
    if (this.link !== link) return;
    this.link = undefined;
    if (this.healthyTimer) clearTimeout(this.healthyTimer);
    if (this.o.metrics) this.o.metrics.sessionsOpen--;
    if (error === null) {
      if (this.state === 'up') this.setState('idle');
      return;
    }
    // dropped: the BMC ended SOL, stopped answering, ipmitool exited
    this.counters.drops++;
    if (this.o.metrics) this.o.metrics.sessionDrops++;
    this.failures++;
    this.o.log.warn({ node: this.uuid, err: error }, 'BMC session lost');
    this.audit('session-drop', null, { error });
    this.o.onSessionError?.(`SOL session closed by BMC: ${error}`);
    if (this.lostAt === null) this.lostAt = this.now();
    this.setState('idle');
    if (this.wantsSession()) {
      this.mark(LOST_NOTICE);
      this.scheduleRetry();
    }
  }

  /** on-demand with nobody attached: keep the session SOLGATE_CONSOLE_LINGER, then close it. */
  private maybeLinger(): void {
    if (this.closed || this.capture === 'always' || this.viewers.size > 0 || this.lingerTimer) return;
    if (this.state === 'retrying') {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.setState('idle');
      return;
    }
    if (this.state !== 'up') return; // connecting: openSession() closes what it gets when nobody wants it
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined;
      // a conductor paused through the linger resumes here before it fences (mustAbandon says why)
      if (this.viewers.size === 0 && this.capture !== 'always') void this.closeSession('linger');
    }, this.o.lingerMs);
  }

  /**
   * No word to the BMC when a session ends: once stopped by a fence, or past the lease. The node may
   * have a new owner by then, whose SOL session a polite close (Deactivate Payload, which a BMC
   * honours from any session) would end; a conductor paused through a linger resumes into exactly
   * that, before it notices the lapse (chaos soak, seed 4242).
   */
  private get mustAbandon(): boolean {
    return this.abandoning || !this.o.leaseValid();
  }

  private async closeSession(why: string, abandon = this.mustAbandon): Promise<void> {
    await this.opening;
    const link = this.link;
    this.link = undefined;
    if (this.healthyTimer) clearTimeout(this.healthyTimer);
    if (!link) return;
    if (this.o.metrics) this.o.metrics.sessionsOpen--;
    if (this.state === 'up') this.setState('idle');
    this.o.log.info({ node: this.uuid, why }, 'BMC session closed');
    this.audit('session-close', null, { why });
    await link.close({ abandon });
  }

  private setState(s: BmcSessionState): void {
    if (this.state === s) return;
    this.state = s;
    for (const v of this.viewers.values()) v.enqueue('session', s);
  }

  // ------------------------------------------------------------------ output

  private onOutput(data: Buffer): void {
    if (data.length === 0) return;
    this.counters.bytesOut += data.length;
    if (this.o.metrics) this.o.metrics.bytesOut += data.length;
    this.append(data);
  }

  /** A marker line in the history (and for everyone watching): on its own line. */
  private mark(line: string): void {
    const last = this.history.length ? this.history.since(this.history.endOffset - 1)[0] : 0x0a;
    const sep = last === 0x0a || last === 0x0d ? '' : '\r\n';
    this.append(Buffer.from(`${sep}${line}\r\n`));
  }

  private append(data: Buffer): void {
    const offset = this.history.endOffset;
    this.history.append(data);
    for (const s of this.o.output ?? []) s.write(offset, data);
    for (const v of this.viewers.values()) v.enqueue('data', data);
  }

  private audit(event: AuditEvent['event'], v: Viewer | null, detail?: AuditEvent['detail']): void {
    const e: AuditEvent = { event, node: this.uuid, at: this.now(), offset: this.history.endOffset, detail };
    if (v) e.viewer = { id: v.info.id, name: v.info.name, address: v.info.address, via: v.info.via };
    this.o.log.info({ audit: event, node: this.uuid, client: v?.info.address, via: v?.info.via, offset: e.offset, ...detail }, 'console audit');
    try {
      this.o.audit?.record(e);
    } catch {
      /* audit is best effort; the log line above is the record of last resort */
    }
  }

  private publishViewers(): void {
    if (this.closed) return;
    try {
      this.o.viewers?.publish(this.uuid, this.who());
    } catch {
      /* best effort */
    }
  }

  /**
   * Stop: every viewer is told why on its own line and closed, the BMC session ends, pending
   * output reaches the sinks. Idempotent.
   */
  async close(reason: ConsoleStopReason | undefined): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of [this.retryTimer, this.lingerTimer, this.healthyTimer]) if (t) clearTimeout(t);
    this.retryTimer = this.lingerTimer = undefined;
    const notice = stopNotice(reason);
    for (const v of [...this.viewers.values()]) v.close(reason ?? 'shutdown', notice);
    // fenced (or the lease lapsed): no word to the BMC any more (found by the chaos soak: a fenced
    // conductor's late deactivate ended the SOL session its successor had just opened)
    // A conductor leaving on purpose (SIGTERM) revokes its lease first, yet still holds the claims until
    // its consoles are down: it says goodbye, or the BMC keeps a SOL session nobody owns.
    this.abandoning = reason === 'fenced' || (reason !== 'shutdown' && !this.o.leaseValid());
    await this.closeSession(`console stopped${reason ? ` (${reason})` : ''}`, this.abandoning);
    this.setState('closed');
    try {
      this.o.viewers?.publish(this.uuid, []);
    } catch {
      /* best effort */
    }
    await Promise.all((this.o.output ?? []).map((s) => s.close().catch(() => undefined)));
  }
}

export const STALE_NOTICE = '[solgate: this console listener is stale (its conductor lost its lease); ask the API for the current console URL]';
export const LOST_NOTICE = '[solgate: BMC session lost, retrying]';

type Pending = { [K in keyof ViewerEvents]: [K, ...ViewerEvents[K]] }[keyof ViewerEvents];

/** The handle attach() returns. Events are queued until the next tick, then delivered in order. */
class Viewer extends EventEmitter<ViewerEvents> implements ConsoleViewer {
  waitingFirstSession = true;
  private queue: Pending[] | null = [];
  private gone = false;

  constructor(
    private readonly broker: ConsoleBroker,
    readonly info: ViewerInfo,
  ) {
    super();
  }

  get closed(): boolean {
    return this.gone;
  }

  /** @internal Replay, then what was queued, from the next tick on. */
  start(replay: Buffer): void {
    const first = this.queue!;
    this.queue = null;
    const pending: Pending[] = [];
    if (replay.length) pending.push(['data', replay]);
    pending.push(...first);
    this.queue = pending;
    process.nextTick(() => {
      const q = this.queue ?? [];
      this.queue = null;
      for (const p of q) this.deliver(p);
    });
  }

  /** @internal */
  enqueue<K extends keyof ViewerEvents>(event: K, ...args: ViewerEvents[K]): void {
    if (this.gone && event !== 'close') return;
    const p = [event, ...args] as unknown as Pending;
    if (this.queue) this.queue.push(p);
    else this.deliver(p);
  }

  private deliver(p: Pending): void {
    const [event, ...args] = p;
    (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
  }

  write(data: Buffer | string): boolean {
    if (this.gone) return false;
    return this.broker.viewerWrite(this, typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  takeWrite(force = false): boolean {
    return !this.gone && this.broker.viewerTake(this, force);
  }

  releaseWrite(): void {
    if (!this.gone) this.broker.viewerRelease(this);
  }

  sendBreak(): SendBreakResult {
    if (this.gone) return 'not-writer';
    return this.broker.viewerBreak(this);
  }

  who(): ViewerInfo[] {
    return this.broker.who().map((i) => ({ ...i }));
  }

  detach(): void {
    this.close('detached');
  }

  /** @internal Close with an optional last notice. */
  close(reason: ViewerCloseReason, notice?: string): void {
    if (this.gone) return;
    if (notice) this.enqueue('notice', notice);
    this.gone = true;
    this.broker.viewerGone(this, reason);
    this.enqueue('close', reason);
  }
}
