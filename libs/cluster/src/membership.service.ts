import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { errorMessage, monotonicMs, newIncarnation } from '#libs/common';
import type { Logger } from '#libs/logging';
import { ClusterView } from './cluster-view.js';
import type { LeaseFile } from './lease-file.js';
import { listSolgateConnections } from './client-list.js';
import type { ClusterSnapshot, MemberDetails } from './member.model.js';
import type { MembershipRepository } from './membership.repository.js';

export interface MembershipOptions {
  memberId: string;
  keyPrefix: string;
  details: MemberDetails;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  vnodes: number;
}

/**
 * Events:
 *  - 'joined' (incarnation): registered (first time, or again after a fence)
 *  - 'fenced' (reason): the lease lapsed; every console must stop now
 *  - 'view' (ClusterView): membership changed
 *  - 'drained' (boolean): an operator drained/undrained this member
 *  - 'heartbeat' (gapMs): a heartbeat succeeded, gapMs after the previous successful one (metrics)
 */
export class MembershipService extends EventEmitter {
  /** Fresh per process start and again after every fence. */
  incarnation = newIncarnation();
  private previousIncarnations: string[] = [];
  private fenced = true;
  private stopped = false;
  private leaving = false;
  private leaseDeadline = 0;
  private lastOkMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private fenceTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private clusterIncarnation: string | undefined;
  private redisRunId: string | undefined;
  private runIdChecked = false;
  private drainedFlag = false;
  private currentView: ClusterView;
  /** Last measured heartbeat round trip, ms. */
  lastHeartbeatLatencyMs = 0;
  /** Longest time between two successful heartbeats since start (a stalled event loop shows here). */
  maxHeartbeatGapMs = 0;
  heartbeatFailures = 0;

  /**
   * The local lease: a little shorter than the timeout the others use, so this conductor stops its
   * consoles before any survivor can take them over (the heartbeat is stamped by Redis after we sent
   * it, so our deadline always falls at least one interval before theirs).
   */
  readonly leaseMs: number;

  constructor(
    private readonly opts: MembershipOptions,
    /** Dedicated connection: no offline queue, command timeout, so a late heartbeat is never replayed. */
    private readonly hbRedis: Redis,
    private readonly repo: MembershipRepository,
    private readonly log: Logger,
    private readonly lease?: LeaseFile,
  ) {
    super();
    this.leaseMs = opts.heartbeatTimeoutMs - opts.heartbeatIntervalMs;
    this.currentView = ClusterView.empty(opts.vnodes);
    hbRedis.on('ready', () => (this.runIdChecked = false));
  }

  get memberId() {
    return this.opts.memberId;
  }

  get view(): ClusterView {
    return this.currentView;
  }

  get isDrained() {
    return this.drainedFlag;
  }

  /** May this conductor run consoles right now? (registered, lease not lapsed, not leaving) */
  leaseValid(): boolean {
    if (this.fenced || this.stopped || this.leaving) return false;
    if (monotonicMs() >= this.leaseDeadline) {
      this.fence('lease lapsed: no successful heartbeat for ' + Math.round(monotonicMs() - this.lastOkMs) + ' ms');
      return false;
    }
    return true;
  }

  /** False between a Redis (re)connect and the check of its run_id (no takeovers in between). */
  get identityChecked(): boolean {
    return this.runIdChecked;
  }

  get registered(): boolean {
    return !this.fenced && !this.stopped;
  }

  start(): void {
    this.stopped = false;
    this.lease?.revoke();
    void this.beat();
    const check = Math.max(20, Math.min(250, this.opts.heartbeatIntervalMs / 4));
    this.fenceTimer = setInterval(() => this.leaseValid(), check);
  }

  /** Stop heartbeating (does not remove the membership: see leave()). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.fenceTimer) clearInterval(this.fenceTimer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.timer = this.fenceTimer = this.expiryTimer = undefined;
    this.lease?.revoke();
  }

  /** Graceful leave, step 1: out of the ring (claims still held until the consoles are stopped). */
  async announceLeaving(): Promise<void> {
    this.leaving = true;
    this.lease?.revoke();
    await this.repo.setState(this.opts.memberId, this.incarnation, 'leaving').catch((e) => this.log.warn({ err: errorMessage(e) }, 'could not announce leaving'));
  }

  /** Graceful leave, last step: remove the membership and tell the others. */
  async leave(): Promise<void> {
    this.stop();
    try {
      await this.repo.remove(this.opts.memberId, this.incarnation, 'left');
    } catch (e) {
      this.log.warn({ err: errorMessage(e) }, 'could not remove membership; the others will time it out');
    }
  }

  async refreshView(): Promise<ClusterView> {
    const snap = await this.repo.snapshot(this.opts.heartbeatTimeoutMs);
    const view = new ClusterView(snap, this.opts.vnodes, this.currentView);
    const changed = view.ringKey !== this.currentView.ringKey;
    this.currentView = view;
    this.scheduleExpiryCheck(snap);
    if (changed) {
      this.log.debug({ ring: view.ringKey }, 'ring changed');
      this.emit('view', view);
    }
    return view;
  }

  /**
   * A silent member is dead the moment its last heartbeat is `timeout` old (Redis's clock). Look
   * again right then rather than at the next periodic pass, so a silent failure costs the timeout
   * and not the timeout plus up to a reconcile interval.
   */
  private scheduleExpiryCheck(snap: ClusterSnapshot): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    if (this.stopped) return;
    const expiries = snap.members.filter((m) => m.alive && m.id !== this.opts.memberId).map((m) => m.lastHeartbeatMs + this.opts.heartbeatTimeoutMs - snap.nowMs);
    if (expiries.length === 0) return;
    const inMs = Math.max(0, Math.min(...expiries)) + 20;
    this.expiryTimer = setTimeout(() => void this.refreshView().catch(() => undefined), inMs);
    this.expiryTimer.unref();
  }

  private fence(reason: string): void {
    if (this.fenced) return;
    this.fenced = true;
    this.lease?.revoke();
    this.previousIncarnations.push(this.incarnation);
    this.incarnation = newIncarnation();
    this.log.error({ member: this.opts.memberId, reason }, 'self-fenced: stopping every console until membership is renewed');
    this.emit('fenced', reason);
  }

  private schedule(ms: number) {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.beat(), Math.max(0, ms));
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    const t0 = monotonicMs();
    try {
      if (!this.runIdChecked) await this.checkRedisIdentity();
      const res = await this.repo.heartbeat(this.opts.memberId, this.incarnation, this.opts.details, this.opts.heartbeatTimeoutMs, newIncarnation());
      if (this.stopped) return;
      if (res.status === 'ERR_DUPLICATE') {
        await this.resolveDuplicate();
        this.schedule(Math.min(200, this.opts.heartbeatIntervalMs));
        return;
      }
      this.lastHeartbeatLatencyMs = monotonicMs() - t0;
      this.heartbeatFailures = 0;
      // Fence check first: after a pause the deadline may have passed even though Redis answered now.
      if (!this.fenced && t0 >= this.leaseDeadline) this.fence('lease lapsed before this heartbeat was sent');
      if (this.clusterIncarnation && res.clusterIncarnation !== this.clusterIncarnation) {
        this.log.warn({ before: this.clusterIncarnation, now: res.clusterIncarnation }, 'a new, empty Redis dataset: holding takeovers for one heartbeat timeout');
        await this.repo.holdTakeovers(this.opts.heartbeatTimeoutMs);
      }
      this.clusterIncarnation = res.clusterIncarnation;
      if (this.leaving) return;
      if (res.drained !== this.drainedFlag) {
        this.drainedFlag = res.drained;
        this.emit('drained', res.drained);
      }
      if (this.fenced) {
        if (!res.joined) {
          // Registered under an incarnation we no longer use; the next beat registers the new one.
          this.schedule(0);
          return;
        }
        this.fenced = false;
        this.lastOkMs = t0;
        this.leaseDeadline = t0 + this.leaseMs;
        this.lease?.grant(this.leaseDeadline);
        await this.refreshView().catch(() => undefined);
        this.log.info({ member: this.opts.memberId, incarnation: this.incarnation }, 'joined the cluster');
        this.emit('joined', this.incarnation);
      } else {
        this.maxHeartbeatGapMs = Math.max(this.maxHeartbeatGapMs, t0 - this.lastOkMs);
        this.emit('heartbeat', t0 - this.lastOkMs);
        this.lastOkMs = t0;
        this.leaseDeadline = t0 + this.leaseMs;
        this.lease?.grant(this.leaseDeadline);
      }
      this.schedule(this.opts.heartbeatIntervalMs - (monotonicMs() - t0));
    } catch (e) {
      this.heartbeatFailures++;
      if (this.heartbeatFailures === 1 || this.heartbeatFailures % 20 === 0)
        this.log.warn({ err: errorMessage(e), failures: this.heartbeatFailures }, 'heartbeat failed');
      this.leaseValid();
      this.schedule(Math.min(200, this.opts.heartbeatIntervalMs));
    }
  }

  /**
   * Our member id is registered under another incarnation that still looks alive. If it is one we
   * fenced ourselves, or its heartbeat connection is gone from Redis (a crashed predecessor of this
   * process), remove it; otherwise two processes share one id — refuse to run.
   */
  private async resolveDuplicate(): Promise<void> {
    const holder = await this.repo.incarnationOf(this.opts.memberId);
    if (!holder) return;
    let dead = this.previousIncarnations.includes(holder);
    if (!dead) {
      const conns = await listSolgateConnections(this.hbRedis, this.opts.keyPrefix);
      dead = !conns.some((c) => c.memberId === this.opts.memberId && c.incarnation === holder);
    }
    if (dead) {
      this.log.warn({ member: this.opts.memberId, stale: holder }, 'removing a dead previous incarnation of this member');
      await this.repo.remove(this.opts.memberId, holder, 'dead');
    } else {
      this.log.error({ member: this.opts.memberId, other: holder }, 'another live conductor uses this SOLGATE_CONDUCTOR_ID; not joining');
    }
  }

  /** After every (re)connect: a changed run_id means a restarted or failed-over Redis. */
  private async checkRedisIdentity(): Promise<void> {
    const info = (await this.hbRedis.info('server')) as string;
    const runId = /run_id:(\w+)/.exec(info)?.[1];
    if (runId && this.redisRunId && runId !== this.redisRunId) {
      this.log.warn({ before: this.redisRunId, now: runId }, 'Redis restarted or failed over: holding takeovers for one heartbeat timeout');
      await this.repo.holdTakeovers(this.opts.heartbeatTimeoutMs);
    }
    this.redisRunId = runId;
    this.runIdChecked = true;
  }
}
