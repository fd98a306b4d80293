import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { errorMessage, sleep, systemClock } from '#libs/common';
import {
  ClaimRepository,
  ClusterSettingsMismatchError,
  ClusterSettingsRepository,
  connectionName,
  FailureDetector,
  LeaseFile,
  MembershipRepository,
  MembershipService,
  settingsDifferences,
  type ClusterSettings,
} from '#libs/cluster';
import type { SolgateConfig } from '#libs/config';
import {
  claimsPort,
  ConsoleControl,
  ConsoleReconciler,
  IpmitoolSocatConsole,
  membershipPort,
  NativeIpmiSocatConsole,
  PidDirectory,
  ProcessLauncher,
  portsPort,
  readListeningSockets,
  SocatConsoleProcesses,
  SpecCache,
  statusesPort,
  type BrokerContext,
  type ConsoleBrokerHandle,
  type ConsoleBrokerRegistry,
  type ConsoleDriver,
} from '#libs/console';
import { startPeriodicIronicSync, type PeriodicIronicSync } from '#libs/ironic-sync';
import type { Logger } from '#libs/logging';
import { ConsoleLogRepository, ConsolePortRepository, ConsoleStatusRepository, NodeRepository, type ConsoleInterface } from '#libs/nodes';
import { closeRedisClient, createRedisClient, Keys, redactRedisUrl } from '#libs/redis';
import { ConsoleEvents } from './console-events.js';

export const SOLGATE_VERSION = '0.1.0';

/**
 * Everything one conductor owns, built in one place and released in one place (close() runs its
 * steps in order, each step's error caught and reported). Nest only wires the HTTP layer around it.
 * The runtime owns its timers too (the periodic reconcile pass and the listener check).
 */
export class ConductorRuntime {
  readonly keys: Keys;
  /** General commands (API, repositories); queues while Redis reconnects, bounded by a timeout; auto-pipelined. */
  readonly redis: Redis;
  /** Heartbeats and failure detection: never queues (a late heartbeat must not be replayed). */
  readonly hbRedis: Redis;
  /** Pub/sub nudges. */
  readonly subRedis: Redis;
  readonly nodes: NodeRepository;
  readonly statuses: ConsoleStatusRepository;
  readonly claims: ClaimRepository;
  readonly consolePorts: ConsolePortRepository;
  /** Membership on the heartbeat connection (heartbeats, removals). */
  readonly membershipRepo: MembershipRepository;
  /** Membership reads for the API (on the command connection). */
  readonly membershipReads: MembershipRepository;
  readonly settings: ClusterSettingsRepository;
  readonly membership: MembershipService;
  readonly failureDetector: FailureDetector;
  readonly pidDir: PidDirectory;
  readonly reconciler: ConsoleReconciler;
  /** native-ipmi-socat: per-node console brokers with their native SOL sessions and the IPMI transport. */
  readonly nativeConsoles: NativeIpmiSocatConsole;
  /** ipmitool-socat: per-node console brokers, each with one ipmitool child. */
  readonly ipmitoolConsoles: IpmitoolSocatConsole;
  /** Starts the ipmitool-socat brokers' ipmitool children. */
  private readonly brokerLauncher = new ProcessLauncher();
  /** Console logs, audit trail and viewers in Redis. */
  readonly consoleLog: ConsoleLogRepository;
  /** Finds a node's console broker on this conductor (web console, `solgate console attach`). */
  readonly consoleBrokers: ConsoleBrokerRegistry;
  /** Intent and observed state as the API reports them (fresh liveness for single-node answers). */
  readonly consoles: ConsoleControl;
  readonly consoleEvents = new ConsoleEvents();
  private readonly timers: NodeJS.Timeout[] = [];
  private ironicSync: PeriodicIronicSync | undefined;
  private closed = false;
  private started = false;

  constructor(
    readonly config: Readonly<SolgateConfig>,
    readonly log: Logger,
  ) {
    this.keys = new Keys(config.keyPrefix);
    const name = (role: string) => connectionName(config.keyPrefix, config.conductorId, 'boot', role);
    const connectTimeoutMs = config.redisConnectTimeoutMs;
    this.redis = createRedisClient(config.redisUrl, { name: name('cmd'), commandTimeoutMs: 5000, connectTimeoutMs, autoPipelining: true });
    this.hbRedis = createRedisClient(config.redisUrl, {
      name: name('hb'),
      offlineQueue: false,
      commandTimeoutMs: Math.max(200, config.heartbeatIntervalMs),
      connectTimeoutMs: Math.min(connectTimeoutMs, config.heartbeatTimeoutMs),
    });
    this.subRedis = createRedisClient(config.redisUrl, { name: name('sub'), connectTimeoutMs });
    for (const [role, c] of [['cmd', this.redis], ['hb', this.hbRedis], ['sub', this.subRedis]] as const) {
      let down = false;
      c.on('error', (e) => {
        if (!down) log.warn({ redis: redactRedisUrl(config.redisUrl), role, err: errorMessage(e) }, 'Redis connection error');
        down = true;
      });
      c.on('ready', () => {
        if (down) log.info({ role }, 'Redis connection ready again');
        down = false;
      });
    }

    this.nodes = new NodeRepository(this.redis, this.keys);
    this.statuses = new ConsoleStatusRepository(this.redis, this.keys);
    this.claims = new ClaimRepository(this.redis, this.keys);
    this.consolePorts = new ConsolePortRepository(this.redis, this.keys);
    this.membershipRepo = new MembershipRepository(this.hbRedis, this.keys);
    this.membershipReads = new MembershipRepository(this.redis, this.keys);
    this.settings = new ClusterSettingsRepository(this.redis, this.keys);
    this.pidDir = new PidDirectory(config.terminalPidDir);
    this.membership = new MembershipService(
      {
        memberId: config.conductorId,
        details: { apiUrl: config.apiUrl, consoleAddress: config.socatAddress, group: config.conductorGroup, hostname: hostname(), pid: process.pid, version: SOLGATE_VERSION },
        heartbeatIntervalMs: config.heartbeatIntervalMs,
        heartbeatTimeoutMs: config.heartbeatTimeoutMs,
        vnodes: config.ringVnodes,
      },
      this.membershipRepo,
      log,
      new LeaseFile(this.pidDir.leaseFile),
    );
    this.hbRedis.on('ready', () => this.membership.onReconnect());
    this.failureDetector = new FailureDetector(this.membership, this.membershipRepo, config.failureDetectorIntervalMs, log);
    this.consoleLog = new ConsoleLogRepository(this.redis, this.keys);
    const brokerContext: BrokerContext = {
      pidDir: this.pidDir,
      log,
      leaseValid: () => this.membership.leaseValid(),
      consoleLog: this.consoleLog,
      identity: () => ({ conductor: config.conductorId, incarnation: this.membership.incarnation }),
      settings: {
        escapeChar: config.escapeChar,
        historyBytes: config.consoleHistoryBytes,
        replayBytes: config.consoleReplayBytes,
        capture: config.consoleCapture,
        lingerMs: config.consoleLingerMs,
        maxViewers: config.consoleMaxViewers,
        idleTimeoutMs: config.terminalTimeoutS * 1000,
        logBytes: config.consoleLogBytes,
        logDir: config.consoleLogDir,
        logFileBytes: config.consoleLogFileBytes,
        logFileCount: config.consoleLogFileCount,
      },
    };
    this.nativeConsoles = new NativeIpmiSocatConsole(brokerContext);
    this.ipmitoolConsoles = new IpmitoolSocatConsole(brokerContext, { launcher: this.brokerLauncher, closeTimeoutMs: Math.max(1000, config.killTimeoutMs * 3) });
    const brokered = [this.nativeConsoles, this.ipmitoolConsoles];
    this.consoleBrokers = {
      get: (uuid: string) => brokered.map((d) => d.get(uuid)).find((b) => b !== undefined),
      list: (): ConsoleBrokerHandle[] => brokered.flatMap((d) => d.list()),
    };
    const drivers = new Map<ConsoleInterface, ConsoleDriver>([
      ['ipmitool-socat', this.ipmitoolConsoles],
      ['native-ipmi-socat', this.nativeConsoles],
    ]);
    this.reconciler = new ConsoleReconciler(
      { socatAddress: config.socatAddress, portRange: config.portRange, killTimeoutMs: config.killTimeoutMs, startConcurrency: config.startConcurrency },
      {
        specs: new SpecCache(this.nodes),
        processes: new SocatConsoleProcesses(
          { socatAddress: config.socatAddress, terminalTimeoutS: config.terminalTimeoutS, subprocessTimeoutMs: config.subprocessTimeoutMs },
          this.pidDir,
          drivers,
        ),
        ports: portsPort(this.consolePorts, config.portRange),
        claims: claimsPort(this.claims, this.membership, config.heartbeatTimeoutMs),
        statuses: statusesPort(this.statuses, this.membership),
        membership: membershipPort(this.membership),
        listening: readListeningSockets,
        drivers: new Set(drivers.keys()),
        clock: systemClock,
        log,
      },
    );
    for (const d of drivers.values()) d.onSessionError = (uuid, message) => this.reconciler.sessionError(uuid, message);
    this.consoles = new ConsoleControl(this.nodes, this.statuses, () => this.membership.view, (member, incarnation) =>
      this.membershipReads.isLiveNow(member, incarnation, config.heartbeatTimeoutMs),
    );
  }

  /** The settings every conductor of this cluster must share (see cluster-settings.ts). */
  get clusterSettings(): ClusterSettings {
    return { ringVnodes: this.config.ringVnodes, heartbeatTimeoutMs: this.config.heartbeatTimeoutMs, portRange: this.config.portRange };
  }

  /**
   * Reap leftovers, check the cluster settings (refuses to start with different ones: throws
   * ClusterSettingsMismatchError), join the cluster, listen for nudges. Consoles start on the first
   * pass after joining.
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.pidDir.init();
    const reaped = await this.pidDir.reapLeftovers(this.log);
    if (reaped.length) this.log.warn({ count: reaped.length }, 'reaped consoles left by an earlier run');
    await this.publishSettings(true);
    if (this.closed) return;

    this.membership.on('joined', (incarnation: string) => {
      this.renameConnections(incarnation);
      void this.reconciler.reconcileAll();
    });
    this.membership.on('fenced', () => void this.reconciler.fenceAll());
    this.membership.on('view', () => void this.reconciler.reconcileAll());
    this.membership.on('drained', (drained: boolean) => {
      this.log.warn({ drained }, drained ? 'drained by an operator: handing every console over' : 'undrained: back in the ring');
      void this.reconciler.reconcileAll();
    });
    this.membership.on('newDataset', () => void this.publishSettings(false));

    this.subRedis.on('message', (_channel: string, message: string) => this.onEvent(message));
    await this.subRedis.subscribe(this.keys.events()).catch((e) => this.log.warn({ err: errorMessage(e) }, 'subscribe failed; relying on periodic passes until Redis is back'));
    this.subRedis.on('ready', () => void this.subRedis.subscribe(this.keys.events()).catch(() => undefined));

    this.membership.start();
    this.failureDetector.start();
    this.timers.push(
      setInterval(() => void this.reconciler.reconcileAll(), this.config.reconcileIntervalMs),
      setInterval(() => void this.reconciler.checkListeners(), this.config.subprocessCheckingIntervalMs),
    );
    this.ironicSync = startPeriodicIronicSync(this.config, { redis: this.redis, keys: this.keys, nodes: this.nodes, statuses: this.statuses, view: () => this.membership.view, log: this.log });
  }

  /**
   * Publish this conductor's cluster settings, or check them against the published ones. At start a
   * mismatch is fatal; while Redis is unreachable it retries (the API answers, /readyz says not ready).
   */
  private async publishSettings(atStart: boolean): Promise<void> {
    const ours = this.clusterSettings;
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        const r = await this.settings.publish(this.config.conductorId, ours);
        if (r.status === 'MISMATCH') throw new ClusterSettingsMismatchError(settingsDifferences(ours, r.settings), r.writtenBy);
        if (r.status !== 'SAME') this.log.info({ settings: ours, status: r.status }, r.status === 'REPLACED' ? 'cluster settings replaced (no conductor ran with the previous ones)' : 'cluster settings published');
        return;
      } catch (e) {
        if (e instanceof ClusterSettingsMismatchError) {
          this.log.fatal({ differences: e.differences, publishedBy: e.writtenBy }, e.message);
          if (atStart) throw e;
          return;
        }
        if (attempt === 0) this.log.warn({ err: errorMessage(e) }, 'cannot check the cluster settings in Redis yet; retrying');
        await sleep(500);
      }
    }
  }

  private onEvent(message: string): void {
    if (message.startsWith('node:')) {
      const uuid = message.slice(5);
      this.reconciler.nudge(uuid);
      this.consoleEvents.notify(uuid);
    } else if (message.startsWith('console:')) {
      this.consoleEvents.notify(message.slice(8));
    } else if (message.startsWith('member:')) {
      // membership changed: a fresh view, then a pass if the ring moved (the 'view' event)
      this.log.debug({ event: message }, 'membership event');
      void this.membership.refreshView().catch(() => undefined);
    }
  }

  private renameConnections(incarnation: string): void {
    for (const [role, c] of [['cmd', this.redis], ['hb', this.hbRedis]] as const) {
      const name = connectionName(this.config.keyPrefix, this.config.conductorId, incarnation, role);
      c.options.connectionName = name;
      void c.client('SETNAME', name).catch(() => undefined);
    }
    this.subRedis.options.connectionName = connectionName(this.config.keyPrefix, this.config.conductorId, incarnation, 'sub');
  }

  /**
   * Graceful leave (DESIGN decision 6): out of the ring → every console marked stopping, stopped, its
   * final state written and its claim released (each release nudges the new owner) → remove
   * membership and publish → close connections.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const step = async (what: string, fn: () => unknown) => {
      const t0 = performance.now();
      try {
        await fn();
      } catch (e) {
        this.log.warn({ step: what, err: errorMessage(e) }, 'shutdown step failed');
      }
      this.log.debug({ step: what, ms: Math.round(performance.now() - t0) }, 'shutdown step done');
    };
    for (const t of this.timers.splice(0)) clearInterval(t);
    this.failureDetector.stop();
    this.consoleEvents.close();
    await step('stop the Ironic sync', () => this.ironicSync?.close());
    if (this.started) {
      this.reconciler.beginShutdown();
      await step('announce leaving', () => this.membership.announceLeaving());
      await step('stop consoles', () => this.reconciler.shutdown());
      await step('close console brokers', () => Promise.all([this.nativeConsoles.close(), this.ipmitoolConsoles.close()]));
      await step('leave membership', () => this.membership.leave());
    } else {
      this.membership.stop();
      await step('close console brokers', () => Promise.all([this.nativeConsoles.close(), this.ipmitoolConsoles.close()]));
    }
    this.brokerLauncher.close();
    await step('close Redis', () => Promise.all([closeRedisClient(this.subRedis), closeRedisClient(this.hbRedis), closeRedisClient(this.redis)]));
  }
}
