import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { errorMessage } from '#libs/common';
import {
  ClaimRepository,
  connectionName,
  FailureDetector,
  LeaseFile,
  MembershipRepository,
  MembershipService,
} from '#libs/cluster';
import type { SolgateConfig } from '#libs/config';
import { ConsoleSupervisor, IpmitoolSocatConsole, NativeIpmiSocatConsole, PidDirectory, type ConsoleDriver } from '#libs/console';
import type { Logger } from '#libs/logging';
import { ConsoleStatusRepository, NodeRepository, type ConsoleInterface } from '#libs/nodes';
import { closeRedisClient, createRedisClient, Keys, redactRedisUrl } from '#libs/redis';

export const SOLGATE_VERSION = '0.1.0';

/**
 * Everything one conductor owns, built in one place and released in one place (close() runs its
 * steps in order, each step's error caught and reported). Nest only wires the HTTP layer around it.
 */
export class ConductorRuntime {
  readonly keys: Keys;
  /** General commands (API, repositories); queues while Redis reconnects, bounded by a timeout. */
  readonly redis: Redis;
  /** Heartbeats and failure detection: never queues (a late heartbeat must not be replayed). */
  readonly hbRedis: Redis;
  /** Pub/sub nudges. */
  readonly subRedis: Redis;
  readonly nodes: NodeRepository;
  readonly statuses: ConsoleStatusRepository;
  readonly claims: ClaimRepository;
  readonly membershipRepo: MembershipRepository;
  readonly membership: MembershipService;
  readonly failureDetector: FailureDetector;
  readonly pidDir: PidDirectory;
  readonly supervisor: ConsoleSupervisor;
  /** native-ipmi-socat: per-node SOL bridges and the IPMI transport, held in this process. */
  readonly nativeConsoles: NativeIpmiSocatConsole;
  private closed = false;
  private started = false;

  constructor(
    readonly config: Readonly<SolgateConfig>,
    readonly log: Logger,
  ) {
    this.keys = new Keys(config.keyPrefix);
    const name = (role: string) => connectionName(config.keyPrefix, config.conductorId, 'boot', role);
    const connectTimeoutMs = config.redisConnectTimeoutMs;
    this.redis = createRedisClient(config.redisUrl, { name: name('cmd'), commandTimeoutMs: 5000, connectTimeoutMs });
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
    this.membershipRepo = new MembershipRepository(this.hbRedis, this.keys);
    this.pidDir = new PidDirectory(config.terminalPidDir);
    this.membership = new MembershipService(
      {
        memberId: config.conductorId,
        keyPrefix: config.keyPrefix,
        details: {
          apiUrl: config.apiUrl,
          consoleAddress: config.socatAddress,
          group: config.conductorGroup,
          hostname: hostname(),
          pid: process.pid,
          version: SOLGATE_VERSION,
        },
        heartbeatIntervalMs: config.heartbeatIntervalMs,
        heartbeatTimeoutMs: config.heartbeatTimeoutMs,
        vnodes: config.ringVnodes,
      },
      this.hbRedis,
      this.membershipRepo,
      log,
      new LeaseFile(this.pidDir.leaseFile),
    );
    this.failureDetector = new FailureDetector(this.hbRedis, config.keyPrefix, this.membership, this.membershipRepo, config.failureDetectorIntervalMs, log);
    this.nativeConsoles = new NativeIpmiSocatConsole(this.pidDir, log, { leaseValid: () => this.membership.leaseValid() });
    const drivers = new Map<ConsoleInterface, ConsoleDriver>([
      ['ipmitool-socat', new IpmitoolSocatConsole(this.pidDir, log)],
      ['native-ipmi-socat', this.nativeConsoles],
    ]);
    this.supervisor = new ConsoleSupervisor(
      {
        socatAddress: config.socatAddress,
        portRange: config.portRange,
        terminalTimeoutS: config.terminalTimeoutS,
        consoleTls: config.consoleTls,
        subprocessTimeoutMs: config.subprocessTimeoutMs,
        killTimeoutMs: config.killTimeoutMs,
        startConcurrency: config.startConcurrency,
        heartbeatTimeoutMs: config.heartbeatTimeoutMs,
      },
      this.nodes,
      this.statuses,
      this.claims,
      this.membership,
      this.pidDir,
      drivers,
      log,
    );
  }

  /** Reap leftovers, join the cluster, listen for nudges. Consoles start on the first pass after joining. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.pidDir.init();
    const reaped = await this.pidDir.reapLeftovers(this.log);
    if (reaped.length) this.log.warn({ count: reaped.length }, 'reaped consoles left by an earlier run');

    this.membership.on('joined', (incarnation: string) => {
      this.renameConnections(incarnation);
      void this.supervisor.reconcileAll();
    });
    this.membership.on('fenced', (reason: string) => void this.supervisor.fenceAll(`self-fenced: ${reason}`));
    this.membership.on('view', () => void this.supervisor.reconcileAll());
    this.membership.on('drained', (drained: boolean) => {
      this.log.warn({ member: this.config.conductorId, drained }, drained ? 'drained by an operator: handing every console over' : 'undrained: back in the ring');
      void this.supervisor.reconcileAll();
    });

    this.subRedis.on('message', (_channel: string, message: string) => this.onEvent(message));
    await this.subRedis.subscribe(this.keys.events()).catch((e) => this.log.warn({ err: errorMessage(e) }, 'subscribe failed; relying on periodic passes until Redis is back'));
    this.subRedis.on('ready', () => void this.subRedis.subscribe(this.keys.events()).catch(() => undefined));

    this.membership.start();
    this.failureDetector.start();
  }

  private onEvent(message: string): void {
    if (message.startsWith('node:')) {
      this.supervisor.nudge(message.slice(5));
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

  /** Periodic full pass (scheduled by Nest's SchedulerRegistry). */
  reconcile(): Promise<void> {
    return this.supervisor.reconcileAll();
  }

  /**
   * Graceful leave (DESIGN decision 6): out of the ring → stop own consoles → release their claims
   * (each release nudges the new owner) → remove membership and publish → close connections.
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
    this.failureDetector.stop();
    if (this.started) {
      this.supervisor.beginShutdown();
      await step('announce leaving', () => this.membership.announceLeaving());
      await step('stop consoles', () => this.supervisor.shutdown());
      await step('close native SOL sessions', () => this.nativeConsoles.close());
      await step('leave membership', () => this.membership.leave());
    } else {
      this.membership.stop();
      await step('close native SOL sessions', () => this.nativeConsoles.close());
    }
    await step('close Redis', () => Promise.all([closeRedisClient(this.subRedis), closeRedisClient(this.hbRedis), closeRedisClient(this.redis)]));
  }
}
