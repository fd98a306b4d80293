import { EventEmitter } from 'node:events';
import { errorMessage, newIncarnation, systemClock, type Clock, type ClockTimer } from '#libs/common';
import type { Logger } from '#libs/logging';
import { ClusterView } from './cluster-view.js';
import type { ClusterSnapshot, MemberDetails, MemberView } from './member.model.js';
import type { MembershipRepository } from './membership.repository.js';
import { heartbeating, leaseValid, MembershipState, nextMembershipState, type MembershipEvent } from './membership.state.js';

export interface MembershipOptions {
  memberId: string;
  details: MemberDetails;
  heartbeatIntervalMs: number;
  /** The cluster's (see cluster-settings.ts). */
  heartbeatTimeoutMs: number;
  /** The cluster's ring vnodes (see cluster-settings.ts). */
  vnodes: number;
}

/** What the service needs from Redis (MembershipRepository on the heartbeat connection). */
export type MembershipStore = Pick<
  MembershipRepository,
  'heartbeat' | 'remove' | 'setState' | 'holdTakeovers' | 'snapshot' | 'incarnationOf' | 'clientId' | 'redisRunId' | 'connections'
>;

/** The per-connection lease check's file (lease-file.ts). */
export interface LeaseGrant {
  grant(deadlineMonotonicMs: number): void;
  revoke(): void;
}

/**
 * This conductor's membership: heartbeats on Redis's clock, the local lease, self-fencing, the
 * cluster view. Its life cycle is the state machine of membership.state.ts; `transition()` is the
 * one place that changes the state, logs it and emits it. Fencing happens only on the lease timer
 * and in a heartbeat that comes back too late; `leaseValid()` is a pure query.
 *
 * Events:
 *  - 'joined' (incarnation): registered (first time, or again after a fence)
 *  - 'fenced' (reason): the lease lapsed; every console must stop now
 *  - 'view' (ClusterView): the rings changed
 *  - 'drained' (boolean): an operator drained/undrained this member
 *  - 'newDataset': Redis came back empty (restarted without persistence): cluster-wide data must be published again
 *  - 'heartbeat' (gapMs): a heartbeat succeeded, gapMs after the previous successful one (metrics)
 */
export class MembershipService extends EventEmitter {
  /** Fresh per process start and again after every fence. */
  incarnation = newIncarnation();
  private state = MembershipState.Idle;
  private readonly previousIncarnations: string[] = [];
  /** Other members' incarnations this conductor's failure detector proved dead (`id/incarnation`), the newest 1,000. */
  private readonly departed = new Set<string>();
  private leaseDeadline = 0;
  private lastOkMs = 0;
  private beatTimer: ClockTimer | undefined;
  private leaseTimer: ClockTimer | undefined;
  private expiryTimer: ClockTimer | undefined;
  private clusterIncarnation: string | undefined;
  private redisRunId: string | undefined;
  /** False between a Redis (re)connect and the check of its run_id (no takeovers in between). */
  private redisChecked = false;
  private hbClientId: string | undefined;
  private drained = false;
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
    /** On a dedicated connection: no offline queue, command timeout, so a late heartbeat is never replayed. */
    private readonly repo: MembershipStore,
    private readonly log: Logger,
    private readonly lease?: LeaseGrant,
    private readonly clock: Clock = systemClock,
  ) {
    super();
    this.leaseMs = opts.heartbeatTimeoutMs - opts.heartbeatIntervalMs;
    this.currentView = ClusterView.empty(opts.vnodes);
  }

  get memberId() {
    return this.opts.memberId;
  }

  get membershipState(): MembershipState {
    return this.state;
  }

  get view(): ClusterView {
    return this.currentView;
  }

  get isDrained() {
    return this.drained;
  }

  /** May this conductor run consoles right now? (a member whose lease has not lapsed) */
  leaseValid(): boolean {
    return leaseValid(this.state, this.clock.monotonicMs(), this.leaseDeadline);
  }

  /** False between a Redis (re)connect and the check of its run_id (no takeovers in between). */
  get identityChecked(): boolean {
    return this.redisChecked;
  }

  /** Registered and heartbeating (lease valid or about to be checked by its timer). */
  get registered(): boolean {
    return this.state === MembershipState.Member;
  }

  start(): void {
    this.lease?.revoke();
    this.transition({ type: 'start' });
    void this.beat();
  }

  /** The heartbeat connection (re)connected: check Redis's identity and our client id again. */
  onReconnect(): void {
    this.redisChecked = false;
    this.hbClientId = undefined;
  }

  /** Stop heartbeating (does not remove the membership: see leave()). */
  stop(): void {
    this.transition({ type: 'stop' });
  }

  /** Graceful leave, step 1: out of the ring (claims still held until the consoles are stopped). */
  async announceLeaving(): Promise<void> {
    this.transition({ type: 'leave' });
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
    const snap = this.withoutDeparted(await this.repo.snapshot(this.opts.heartbeatTimeoutMs));
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
   * This conductor's failure detector proved the incarnation dead (its Redis connection gone and its
   * API refusing): it is gone for good, and only a Redis that went back in time (a failover onto a
   * copy taken before the removal) can list it as registered again.
   */
  noteCrashed(id: string, incarnation: string): void {
    this.departed.add(`${id}/${incarnation}`);
    while (this.departed.size > 1000) this.departed.delete(this.departed.values().next().value!);
  }

  /**
   * A ghost (an incarnation this conductor proved dead, listed again by an older copy of Redis) is
   * left out of the view, so the ring does not hand its former nodes back to a dead process, and it
   * is removed from Redis again. Only our own proof counts: a member that merely reads `dead`,
   * absent or under an older incarnation may be a live one seen through an older copy.
   */
  private withoutDeparted(snap: ClusterSnapshot): ClusterSnapshot {
    const key = (m: MemberView) => `${m.id}/${m.incarnation}`;
    const ghosts = snap.members.filter((m) => m.state !== 'dead' && this.departed.has(key(m)));
    if (ghosts.length === 0) return snap;
    for (const g of ghosts) {
      this.log.warn({ ghost: g.id, incarnation: g.incarnation }, 'a conductor found dead is listed again (Redis went back in time): removing it again');
      void this.repo.remove(g.id, g.incarnation, 'dead').catch(() => undefined);
    }
    return { ...snap, members: snap.members.filter((m) => !ghosts.includes(m)) };
  }

  /** The one place the state changes: apply the table, then log and emit what the change means. */
  private transition(event: MembershipEvent): void {
    const from = this.state;
    const to = nextMembershipState(from, event);
    if (to === from) return;
    this.state = to;
    switch (to) {
      case MembershipState.Member:
        this.log.info({ incarnation: this.incarnation, from }, 'joined the cluster');
        this.emit('joined', this.incarnation);
        break;
      case MembershipState.Fenced: {
        const reason = event.type === 'leaseExpired' ? event.reason : event.type;
        this.lease?.revoke();
        this.previousIncarnations.push(this.incarnation);
        this.incarnation = newIncarnation();
        this.clock.clearTimeout(this.leaseTimer);
        this.log.error({ reason }, 'self-fenced: stopping every console until membership is renewed');
        this.emit('fenced', reason);
        break;
      }
      case MembershipState.Leaving:
        this.lease?.revoke();
        this.clearTimers();
        this.log.info({ from }, 'leaving the cluster');
        break;
      case MembershipState.Stopped:
        this.lease?.revoke();
        this.clearTimers();
        break;
      case MembershipState.Idle:
      case MembershipState.Joining:
        this.log.debug({ from, to }, 'membership state');
    }
  }

  private clearTimers(): void {
    for (const t of [this.beatTimer, this.leaseTimer, this.expiryTimer]) this.clock.clearTimeout(t);
    this.beatTimer = this.leaseTimer = this.expiryTimer = undefined;
  }

  /** A successful heartbeat sent at `t0`: the lease runs until t0 + leaseMs (watched by the lease timer while a member). */
  private renewLease(t0: number): void {
    if (this.lastOkMs && this.state === MembershipState.Member) {
      this.maxHeartbeatGapMs = Math.max(this.maxHeartbeatGapMs, t0 - this.lastOkMs);
      this.emit('heartbeat', t0 - this.lastOkMs);
    }
    this.lastOkMs = t0;
    this.leaseDeadline = t0 + this.leaseMs;
    this.lease?.grant(this.leaseDeadline);
  }

  private armLeaseTimer(): void {
    this.clock.clearTimeout(this.leaseTimer);
    this.leaseTimer = this.clock.setTimeout(() => {
      this.leaseTimer = undefined;
      if (this.state !== MembershipState.Member) return;
      const now = this.clock.monotonicMs();
      if (now >= this.leaseDeadline) this.transition({ type: 'leaseExpired', reason: `lease lapsed: no successful heartbeat for ${Math.round(now - this.lastOkMs)} ms` });
      else this.armLeaseTimer();
    }, this.leaseDeadline - this.clock.monotonicMs());
  }

  /**
   * A silent member is dead the moment its last heartbeat is `timeout` old (Redis's clock). Look
   * again right then rather than at the next periodic pass, so a silent failure costs the timeout
   * and not the timeout plus up to a reconcile interval.
   */
  private scheduleExpiryCheck(snap: ClusterSnapshot): void {
    this.clock.clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    if (!heartbeating(this.state)) return;
    const expiries = snap.members.filter((m) => m.alive && m.id !== this.opts.memberId).map((m) => m.lastHeartbeatMs + this.opts.heartbeatTimeoutMs - snap.nowMs);
    if (expiries.length === 0) return;
    this.expiryTimer = this.clock.setTimeout(() => void this.refreshView().catch(() => undefined), Math.max(0, Math.min(...expiries)) + 20);
  }

  private scheduleBeat(ms: number) {
    if (!heartbeating(this.state)) return;
    this.clock.clearTimeout(this.beatTimer);
    this.beatTimer = this.clock.setTimeout(() => void this.beat(), Math.max(0, ms));
  }

  /** One heartbeat; schedules the next. Never throws. */
  async beat(): Promise<void> {
    if (!heartbeating(this.state)) return;
    const t0 = this.clock.monotonicMs();
    const incarnation = this.incarnation;
    const retryMs = Math.min(200, this.opts.heartbeatIntervalMs);
    try {
      if (!this.redisChecked) await this.checkRedisIdentity();
      this.hbClientId ??= await this.repo.clientId();
      const res = await this.repo.heartbeat(this.opts.memberId, incarnation, this.opts.details, this.opts.heartbeatTimeoutMs, newIncarnation(), this.hbClientId);
      if (!heartbeating(this.state)) return;
      if (res.status === 'ERR_DUPLICATE') {
        await this.resolveDuplicate();
        return this.scheduleBeat(retryMs);
      }
      this.lastHeartbeatLatencyMs = this.clock.monotonicMs() - t0;
      this.heartbeatFailures = 0;
      // After a pause the deadline may have passed even though Redis answered now: fence first.
      if (this.state === MembershipState.Member && t0 >= this.leaseDeadline) this.transition({ type: 'leaseExpired', reason: 'lease lapsed before this heartbeat was sent' });
      await this.noticeNewDataset(res.clusterIncarnation);
      if (res.drained !== this.drained) {
        this.drained = res.drained;
        this.emit('drained', res.drained);
      }
      if (incarnation !== this.incarnation) return this.scheduleBeat(0); // fenced meanwhile: register the new incarnation
      this.renewLease(t0);
      if (this.state !== MembershipState.Member) {
        await this.refreshView().catch(() => undefined);
        this.transition({ type: 'registered' });
      }
      if (this.state === MembershipState.Member) this.armLeaseTimer();
      this.scheduleBeat(this.opts.heartbeatIntervalMs - (this.clock.monotonicMs() - t0));
    } catch (e) {
      this.heartbeatFailures++;
      if (this.heartbeatFailures === 1 || this.heartbeatFailures % 20 === 0) this.log.warn({ err: errorMessage(e), failures: this.heartbeatFailures }, 'heartbeat failed');
      this.scheduleBeat(retryMs);
    }
  }

  private async noticeNewDataset(clusterIncarnation: string): Promise<void> {
    const before = this.clusterIncarnation;
    this.clusterIncarnation = clusterIncarnation;
    if (!before || before === clusterIncarnation) return;
    this.log.warn({ before, now: clusterIncarnation }, 'a new, empty Redis dataset: holding takeovers for one heartbeat timeout');
    await this.repo.holdTakeovers(this.opts.heartbeatTimeoutMs);
    this.emit('newDataset');
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
    if (!dead) dead = !(await this.repo.connections()).some((c) => c.memberId === this.opts.memberId && c.incarnation === holder);
    if (dead) {
      this.log.warn({ stale: holder }, 'removing a dead previous incarnation of this member');
      await this.repo.remove(this.opts.memberId, holder, 'dead');
    } else {
      this.log.error({ other: holder }, 'another live conductor uses this SOLGATE_CONDUCTOR_ID; not joining');
    }
  }

  /** After every (re)connect: a changed run_id means a restarted or failed-over Redis. */
  private async checkRedisIdentity(): Promise<void> {
    const runId = await this.repo.redisRunId();
    if (runId && this.redisRunId && runId !== this.redisRunId) {
      // not a second hold for an instance the cluster already held for and is writing to (a conductor
      // that reached it late must not hold consoles handed to it now: chaos seed 4163771008)
      const held = await this.repo.holdTakeovers(this.opts.heartbeatTimeoutMs, { runId, memberId: this.opts.memberId, freshWithinMs: this.opts.heartbeatIntervalMs });
      this.log.warn(
        { before: this.redisRunId, now: runId },
        held ? 'Redis restarted or failed over: holding takeovers for one heartbeat timeout' : 'Redis restarted or failed over (the cluster already held takeovers for this instance)',
      );
    }
    this.redisRunId = runId;
    this.redisChecked = true;
  }
}
