import { join } from 'node:path';
import { DEFAULT_BACKOFF, errorMessage, invalidInput, packageRoot, type BackoffPolicy } from '#libs/common';
import type { Logger } from '#libs/logging';
import type { ConsoleInterface, ConsoleLogEntry, ConsoleLogRepository, NodeRecord } from '#libs/nodes';
import type { SocatPeer } from '../argv.js';
import type { ConsoleDriver, ConsoleStopReason } from '../console-driver.js';
import type { PidDirectory } from '../pid-dir.js';
import type { CaptureMode, ConsoleBrokerHandle, ConsoleBrokerRegistry } from './broker-api.js';
import { ConsoleBroker } from './console-broker.js';
import { BrokerMetrics, type OutputSink, type SolLinkOpener } from './ports.js';
import { FileLogSink, RedisAuditSink, RedisLogSink, RedisViewerPublisher } from './sinks.js';
import { TcpFront } from './tcp-front.js';

/** The broker settings from the conductor's configuration (SOLGATE_CONSOLE_*, SOLGATE_ESCAPE_CHAR). */
export interface BrokerSettings {
  escapeChar: string | null;
  historyBytes: number;
  replayBytes: number;
  capture: CaptureMode;
  lingerMs: number;
  maxViewers: number;
  /** SOLGATE_TERMINAL_TIMEOUT for TCP viewers; 0 = never. */
  idleTimeoutMs: number;
  /** Redis console log cap; 0 = none. */
  logBytes: number;
  /** '' = no log files. */
  logDir: string;
  logFileBytes: number;
  logFileCount: number;
  backoff?: BackoffPolicy;
}

export const DEFAULT_BROKER_SETTINGS: BrokerSettings = {
  escapeChar: '~',
  historyBytes: 65536,
  replayBytes: 4096,
  capture: 'on-demand',
  lingerMs: 10_000,
  maxViewers: 128,
  idleTimeoutMs: 0,
  logBytes: 131072,
  logDir: '',
  logFileBytes: 10 * 1024 * 1024,
  logFileCount: 5,
};

/** What the drivers share with the conductor: its lease, identity, Redis repository, settings. */
export interface BrokerContext {
  pidDir: PidDirectory;
  log: Logger;
  leaseValid: () => boolean;
  settings: BrokerSettings;
  /** Console logs, audit and viewers in Redis; absent: history lives in memory only. */
  consoleLog?: ConsoleLogRepository;
  /** The conductor's identity (for the fenced viewer publication). */
  identity?: () => { conductor: string; incarnation: string };
}

/** sockaddr_un.sun_path holds 108 bytes including the terminating NUL. */
const MAX_UNIX_SOCKET_PATH_BYTES = 107;
/** How long a console start waits for its predecessor's history from Redis. */
const HISTORY_READ_TIMEOUT_MS = 1000;

/** The relay socat runs per client (perl-base: in every Debian, starts in a few ms). */
export function consoleRelayScript(): string {
  return join(packageRoot(), 'libs', 'console', 'assets', 'console-relay.pl');
}

/** Per-node capture mode: driver_info.solgate_console_capture, else the conductor's default. */
export function captureModeOf(node: NodeRecord, fallback: CaptureMode): CaptureMode {
  const v = node.driver_info.solgate_console_capture;
  if (v === undefined || v === null || v === '') return fallback;
  if (v === 'on-demand' || v === 'always') return v;
  throw invalidInput(`Invalid solgate_console_capture ${JSON.stringify(v)}: on-demand or always.`);
}

interface Served {
  node: NodeRecord;
  broker: ConsoleBroker;
  front: TcpFront;
}

/**
 * What both socat console interfaces share now that one broker per node holds the BMC session:
 * prepare() creates (or keeps) the node's broker and its TCP front and returns the relay socat runs
 * per client; cleanup() tells the viewers why and closes the broker; the registry finds a node's
 * broker for in-process viewers (web console, CLI attach). Subclasses say how the BMC session opens.
 */
export abstract class BrokeredConsoleDriver implements ConsoleDriver, ConsoleBrokerRegistry {
  abstract readonly name: ConsoleInterface;
  onSessionError?: (uuid: string, message: string) => void;
  readonly metrics = new BrokerMetrics();
  protected readonly served = new Map<string, Served>();
  protected closed = false;
  /** Reason used when cleanup() is not given one (the conductor says it is shutting down or fenced). */
  private readonly publisher: RedisViewerPublisher | undefined;
  private readonly audit: RedisAuditSink | undefined;

  constructor(protected readonly ctx: BrokerContext) {
    if (ctx.consoleLog && ctx.identity) this.publisher = new RedisViewerPublisher(ctx.consoleLog, ctx.identity, ctx.log);
    if (ctx.consoleLog) this.audit = new RedisAuditSink(ctx.consoleLog, ctx.log);
  }

  /** Validate the node for this interface (INVALID_INPUT naming the bad field). */
  protected abstract validate(node: NodeRecord): void;
  /** Files or state the BMC session needs (ipmitool: the argv and password files). */
  protected async beforeServe(_node: NodeRecord): Promise<void> {}
  /** How the node's BMC session opens; `current` returns the node's latest record. */
  protected abstract opener(uuid: string, current: () => NodeRecord): SolLinkOpener;
  /** After the broker closed: anything the interface must still clean up. */
  protected async afterClose(_node: NodeRecord): Promise<void> {}

  get(uuid: string): ConsoleBrokerHandle | undefined {
    return this.served.get(uuid)?.broker;
  }

  list(): ConsoleBrokerHandle[] {
    return [...this.served.values()].map((s) => s.broker);
  }

  /** Number of nodes with a broker (tests, metrics). */
  get brokerCount(): number {
    return this.served.size;
  }

  async prepare(node: NodeRecord): Promise<SocatPeer> {
    if (this.closed) throw new Error(`the ${this.name} console driver is closed`);
    this.validate(node);
    const capture = captureModeOf(node, this.ctx.settings.capture);
    const path = this.ctx.pidDir.socketPath(node.uuid);
    if (Buffer.byteLength(path) > MAX_UNIX_SOCKET_PATH_BYTES)
      throw invalidInput(`the console socket path ${path} is longer than ${MAX_UNIX_SOCKET_PATH_BYTES} bytes: use a shorter SOLGATE_TERMINAL_PID_DIR`);
    await this.beforeServe(node);
    const peer: SocatPeer = { relay: ['perl', consoleRelayScript(), this.ctx.pidDir.leaseFile, path], maxClients: this.ctx.settings.maxViewers + 8 };
    const existing = this.served.get(node.uuid);
    if (existing && (await existing.front.intact())) {
      // socat restarted (same node): keep the broker, its viewers and its session; take the new parameters
      existing.node = node;
      existing.broker.reconfigure(capture);
      return peer;
    }
    if (existing) await this.stopServing(existing, 'restart');
    const s = this.settings();
    const tail = await this.readHistory(node.uuid);
    const last = tail[tail.length - 1];
    const history = tail.length ? { offset: tail[0]!.offset, data: Buffer.concat(tail.map((e) => e.data)) } : undefined;
    if (history && last && history.offset + history.data.length !== last.offset + last.data.length) {
      // entries with a hole between them (an earlier batch was lost): keep the contiguous newest run
      let from = tail.length - 1;
      while (from > 0 && tail[from - 1]!.offset + tail[from - 1]!.data.length === tail[from]!.offset) from--;
      history.offset = tail[from]!.offset;
      history.data = Buffer.concat(tail.slice(from).map((e) => e.data));
    }
    const output: OutputSink[] = [];
    if (this.ctx.consoleLog && s.logBytes > 0) output.push(new RedisLogSink(node.uuid, this.ctx.consoleLog, s.logBytes, tail, this.ctx.log));
    if (s.logDir) output.push(new FileLogSink(s.logDir, node.uuid, s.logFileBytes, s.logFileCount, this.ctx.log));
    const served: Served = { node, broker: undefined as unknown as ConsoleBroker, front: undefined as unknown as TcpFront };
    const broker = new ConsoleBroker({
      uuid: node.uuid,
      capture,
      lingerMs: s.lingerMs,
      historyBytes: s.historyBytes,
      replayBytes: s.replayBytes,
      maxViewers: s.maxViewers,
      backoff: s.backoff ?? { ...DEFAULT_BACKOFF, initialDelayMs: 500 },
      leaseValid: this.ctx.leaseValid,
      open: this.opener(node.uuid, () => served.node),
      log: this.ctx.log,
      initialHistory: history,
      output,
      audit: this.audit,
      viewers: this.publisher,
      metrics: this.metrics,
      onSessionError: (message) => this.onSessionError?.(node.uuid, message),
    });
    const front = new TcpFront({ uuid: node.uuid, socketPath: path, broker, escapeChar: s.escapeChar, idleTimeoutMs: s.idleTimeoutMs, log: this.ctx.log });
    served.broker = broker;
    served.front = front;
    this.served.set(node.uuid, served);
    try {
      await front.listen();
    } catch (e) {
      if (this.served.get(node.uuid) === served) this.served.delete(node.uuid);
      await broker.close('failed');
      await front.close();
      throw new Error(`cannot listen on ${path}: ${errorMessage(e)}`);
    }
    broker.start();
    return peer;
  }

  /** After socat is gone: tell the viewers why, end the BMC session, remove the node's files. */
  async cleanup(node: NodeRecord, opts: { sessionWasActive: boolean; reason?: ConsoleStopReason }): Promise<void> {
    const served = this.served.get(node.uuid);
    try {
      if (served) await this.stopServing(served, opts.reason);
    } catch (e) {
      this.ctx.log.warn({ node: node.uuid, err: errorMessage(e) }, 'closing the console broker failed');
    } finally {
      await this.ctx.pidDir.removeNodeFiles(node.uuid);
      if (opts.reason === 'deleted') await this.ctx.consoleLog?.remove(node.uuid).catch(() => undefined);
      await this.afterClose(node).catch((e) => this.ctx.log.warn({ node: node.uuid, err: errorMessage(e) }, 'console cleanup failed'));
    }
  }

  private async stopServing(served: Served, reason: ConsoleStopReason | undefined): Promise<void> {
    if (this.served.get(served.node.uuid) === served) this.served.delete(served.node.uuid);
    await served.broker.close(reason);
    await served.front.close();
  }

  /** Conductor shutdown: every broker closed (viewers told), every session ended. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const all = [...this.served.values()];
    await Promise.all(all.map((s) => this.stopServing(s, 'shutdown').catch((e) => this.ctx.log.warn({ node: s.node.uuid, err: errorMessage(e) }, 'closing the console broker failed'))));
  }

  protected settings(): BrokerSettings {
    return this.ctx.settings;
  }

  private async readHistory(uuid: string): Promise<ConsoleLogEntry[]> {
    const repo = this.ctx.consoleLog;
    if (!repo || this.ctx.settings.logBytes === 0) return [];
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        repo.tail(uuid, this.ctx.settings.logBytes),
        new Promise<ConsoleLogEntry[]>((_r, reject) => (timer = setTimeout(() => reject(new Error('timed out')), HISTORY_READ_TIMEOUT_MS))),
      ]);
    } catch (e) {
      this.ctx.log.warn({ node: uuid, err: errorMessage(e) }, 'console log: could not read the predecessor’s history; starting with none');
      return [];
    } finally {
      clearTimeout(timer);
    }
  }
}
