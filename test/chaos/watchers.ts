import { ConsoleClient } from '../support/console-client.js';
import type { SimSolActivation } from '../support/fleet-sim.js';
import { HEALTHY, type Checker } from './checker.js';
import type { Rng } from './rng.js';
import type { ChaosTopology } from './topology.js';

const BANNER = 'SOL Session operational';
const STALE = 'this console listener is stale';
/** How long a typed token may take to come back as the node's echo. */
const ECHO_WAIT_MS = 5000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Session {
  uuid: string;
  bmcIndex: number;
  url: string;
  conductor: string;
  client: ConsoleClient;
  /** The BMC's record of this session's SOL activation (the one active right after the banner). */
  activation?: SimSolActivation;
  closedAt?: number;
}

export interface ProbeOutcome {
  fault: string;
  node: string;
  /**
   * no-listener: the stale conductor had stopped it; refused: the listener said it is stale; silent:
   * nothing answered; answered: it showed history but the BMC saw nothing of it; SESSION-OPENED: the BMC
   * saw a session or the probe's keystrokes (a violation).
   */
  result: 'no-listener' | 'refused' | 'silent' | 'answered' | 'no-owner-session' | 'SESSION-OPENED';
}

export interface WatcherStats {
  opened: number;
  cleanCloses: number;
  broken: number;
  echoChecks: number;
  echoFailures: number;
  failedOpens: number;
  takenOverFromDeadOwner: number;
  /** Sessions of a healthy owner taken over at the BMC by the same owner's new session (its broker re-opening it). */
  reopenedByOwner: number;
  /** Time from a session breaking until the same console works again, with the fault kind it broke under. */
  reconnects: { kind: string; ms: number }[];
}

/** The last `[solgate: …]` line a client was sent, as a suffix for a report line. */
const lastNotice = (received: string) => {
  const m = received.match(/\[solgate: [^\]\r\n]*\]/g);
  return m ? ` (last notice: ${m[m.length - 1]})` : '';
};

const hostConductor = (url: string) => {
  const m = /^tcp:\/\/127\.0\.0\.(\d+):\d+$/.exec(url);
  return m ? `c${m[1]}` : '?';
};

/**
 * Console users during a chaos run, as Nova's serial proxy would be: each watcher picks a node, asks
 * the API for its console URL, connects, waits for a working SOL session and keeps typing into it
 * (checking the node echoes every token), reconnects through the API when the session breaks, and
 * moves on to another node after a while. Through the simulator's SOL history each watcher also
 * checks that its session was never taken over by another session while it was still connected to
 * a healthy owner: that would be two conductors with a SOL session for one node.
 *
 * `probeStale` plays an unlucky client that still has an old URL: it connects to the listener of a
 * paused or partitioned conductor while the node's new owner holds a session, and checks (at the
 * BMC) that no SOL session came of it.
 */
export class WatcherPool {
  readonly stats: WatcherStats = { opened: 0, cleanCloses: 0, broken: 0, echoChecks: 0, echoFailures: 0, failedOpens: 0, takenOverFromDeadOwner: 0, reopenedByOwner: 0, reconnects: [] };
  readonly probes: ProbeOutcome[] = [];
  private readonly busy = new Set<string>();
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly live = new Set<ConsoleClient>();
  private tokenSeq = 0;

  constructor(
    private readonly topo: ChaosTopology,
    private readonly checker: Checker,
    private readonly rng: Rng,
    private readonly opts: { count: number; holdMs: [number, number]; log: (line: string) => void },
  ) {}

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.opts.count }, (_, i) => this.run(i));
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const c of this.live) void c.close();
    await Promise.all(this.loops);
  }

  private get nodes() {
    return this.topo.cluster.nodes;
  }

  private async run(i: number): Promise<void> {
    while (this.running) {
      const free = this.nodes.filter((n) => !this.busy.has(n.uuid));
      const node = this.rng.pick(free);
      this.busy.add(node.uuid);
      try {
        await this.watch(i, node.uuid, node.bmcIndex!, this.rng.int(this.opts.holdMs[0], this.opts.holdMs[1]));
      } catch (e) {
        this.opts.log(`watcher ${i}: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        this.busy.delete(node.uuid);
      }
      await sleep(this.rng.int(100, 800));
    }
  }

  /** Ask the API for the console URL, connect, and wait for a working SOL session (or give up at the deadline). */
  private async open(uuid: string, bmcIndex: number, deadline: number): Promise<Session | undefined> {
    while (Date.now() < deadline && this.running) {
      const api = this.checker.apiConductor();
      const r = api ? await api.api('GET', `/v1/nodes/${uuid}/states/console`).catch(() => undefined) : undefined;
      const url: string | undefined = r?.body?.console_enabled ? r.body.console_info?.url : undefined;
      if (!url) {
        await sleep(200);
        continue;
      }
      let client: ConsoleClient;
      try {
        client = await ConsoleClient.connect(url, 2000);
      } catch {
        await sleep(200);
        continue;
      }
      this.live.add(client);
      const ok = await waitUntil(() => client.received.includes(BANNER) || client.closed || client.received.includes(STALE), Math.min(10_000, Math.max(500, deadline - Date.now())));
      // The banner may be history the broker replays (from its buffer or the console log in Redis) while
      // it is still opening its BMC session: the session is working once a token comes back from the
      // node, and the BMC's activation at that moment is the one this client holds.
      const token = `open${++this.tokenSeq}y`;
      const working =
        ok &&
        client.received.includes(BANNER) &&
        !client.closed &&
        (client.write(token), await waitUntil(() => client.received.includes(token) || client.closed, Math.min(10_000, Math.max(1000, deadline - Date.now())))) &&
        !client.closed;
      if (working) {
        const s: Session = { uuid, bmcIndex, url, conductor: hostConductor(url), client };
        client.socket.once('close', () => (s.closedAt = Date.now()));
        const detail = await this.topo.cluster.fleet!.detail(bmcIndex).catch(() => undefined);
        s.activation = detail?.solHistory.filter((h) => h.deactivatedAt === null).pop();
        this.stats.opened++;
        return s;
      }
      await client.close();
      this.live.delete(client);
      await sleep(300);
    }
    return undefined;
  }

  private async watch(i: number, uuid: string, bmcIndex: number, holdMs: number): Promise<void> {
    const until = Date.now() + holdMs;
    let brokeAt: number | undefined;
    let brokeUnder = 'none';
    while (this.running && Date.now() < until) {
      const s = await this.open(uuid, bmcIndex, Date.now() + 30_000);
      if (!this.running) {
        if (s) await this.close(s);
        return;
      }
      if (!s) {
        this.stats.failedOpens++;
        if (!this.checker.nearUnplannedFence(Date.now() - 30_000) && !this.checker.nearUnplannedFence(Date.now()))
          this.checker.violation('console-unusable', `no working SOL session on ${this.name(uuid)} within 30 s (watcher ${i})`, { node: uuid });
        return;
      }
      if (brokeAt !== undefined) this.stats.reconnects.push({ kind: brokeUnder, ms: Date.now() - brokeAt });
      const how = await this.hold(i, s, until);
      if (!this.running) {
        // the pool is stopping and closed this client itself: not a session the cluster dropped
        await this.close(s);
        return;
      }
      if (how === 'done') {
        await this.close(s);
        this.stats.cleanCloses++;
        return;
      }
      // broken: by a fault (the owner died, stopped, moved) or by something that must not happen
      // labelled by when it broke, not by when this loop noticed (up to one echo interval later, by
      // which time the fault may have settled); a missing echo broke somewhere in the last wait
      brokeAt = s.closedAt ?? Date.now();
      brokeUnder = this.checker.faultDuring(how === 'no-echo' ? brokeAt - ECHO_WAIT_MS : brokeAt, brokeAt)?.kind ?? 'none';
      this.stats.broken++;
      await this.close(s);
      await this.checkTakeover(s, brokeAt);
      if (brokeUnder === 'none') this.checker.drops.push({ t: brokeAt, node: uuid, detail: `SOL session of ${this.name(uuid)} on ${s.conductor} ended (${how}) at ${new Date(brokeAt).toISOString()} with no fault going on${lastNotice(s.client.received)}` });
    }
  }

  /** Type a token every ~2 s and wait for the node's echo, until `until` or the session breaks. */
  private async hold(i: number, s: Session, until: number): Promise<'done' | 'closed' | 'no-echo'> {
    while (this.running && Date.now() < until) {
      if (s.client.closed) return 'closed';
      const token = `w${i}t${++this.tokenSeq}x`;
      const from = s.client.received.length;
      s.client.write(token);
      this.stats.echoChecks++;
      const echoed = await waitUntil(() => s.client.received.indexOf(token, from) >= 0 || s.client.closed, ECHO_WAIT_MS);
      if (s.client.closed) return 'closed';
      if (!echoed) {
        this.stats.echoFailures++;
        return 'no-echo';
      }
      await sleep(Math.min(2000, Math.max(0, until - Date.now())));
    }
    return this.running && s.client.closed ? 'closed' : 'done';
  }

  private async close(s: Session): Promise<void> {
    await s.client.close();
    this.live.delete(s.client);
  }

  /**
   * The session ended while its client was still connected: if the BMC says another session took
   * the console over at that moment and the session's conductor was healthy then, two conductors
   * had a SOL session for one node.
   */
  private async checkTakeover(s: Session, closedAt: number): Promise<void> {
    if (!s.activation) return;
    const a = s.activation;
    const detail = await this.topo.cluster.fleet!.detail(s.bmcIndex).catch(() => undefined);
    const rec = detail?.solHistory.find((h) => h.activatedAt === a.activatedAt && h.remote === a.remote && h.bmcSessionId === a.bmcSessionId);
    if (!rec || rec.endReason !== 'taken-over' || rec.deactivatedAt === null || rec.deactivatedAt > closedAt) return;
    const h = this.checker.health.at(s.conductor, rec.deactivatedAt);
    // Whose session took it over is judged at the end of the run, from the conductors' logs (every
    // session a conductor opens at a BMC is logged): the owner itself re-opening its own session
    // (its broker after a stall) is one session; another conductor is two.
    if (HEALTHY.includes(h))
      this.checker.takeovers.push({
        node: s.uuid,
        name: this.name(s.uuid),
        conductor: s.conductor,
        health: h,
        at: rec.deactivatedAt,
        by: rec.takenOverBy ? `a session from ${rec.takenOverBy.remote} opened at ${new Date(rec.takenOverBy.sessionOpenedAt).toISOString()}` : undefined,
      });
    else this.stats.takenOverFromDeadOwner++;
  }

  private name(uuid: string): string {
    return this.nodes.find((n) => n.uuid === uuid)?.name ?? uuid;
  }

  /** Connect to `victim`'s stale listeners for some of the given nodes while their new owner holds a session. */
  async probeStale(fault: string, victim: string, uuids: string[], max: number): Promise<void> {
    const n = Number(victim.slice(1));
    let done = 0;
    for (const uuid of uuids) {
      if (done >= max || !this.running) break;
      if (this.busy.has(uuid)) continue;
      const node = this.nodes.find((x) => x.uuid === uuid)!;
      const port = this.checker.view.get(uuid)?.port;
      if (port === undefined) continue;
      this.busy.add(uuid);
      done++;
      try {
        this.probes.push({ fault, node: node.name, result: await this.probe(node.uuid, node.bmcIndex!, `tcp://127.0.0.${n}:${port}`, victim) });
      } finally {
        this.busy.delete(uuid);
      }
    }
  }

  private async probe(uuid: string, bmcIndex: number, staleUrl: string, victim: string): Promise<ProbeOutcome['result']> {
    const owner = await this.open(uuid, bmcIndex, Date.now() + 10_000);
    if (!owner || owner.conductor === victim) {
      if (owner) await this.close(owner);
      return 'no-owner-session';
    }
    const fleet = this.topo.cluster.fleet!;
    const before = await fleet.detail(bmcIndex);
    let result: ProbeOutcome['result'];
    let stale: ConsoleClient | undefined;
    const token = `probe${++this.tokenSeq}z`;
    try {
      stale = await ConsoleClient.connect(staleUrl, 2000);
    } catch {
      stale = undefined;
    }
    if (!stale) result = 'no-listener';
    else {
      this.live.add(stale);
      stale.write(token);
      await waitUntil(() => stale!.closed || stale!.received.includes(BANNER), 2500);
      // a banner alone may be replayed history: the BMC (below) is the judge of a session
      result = stale.received.includes(BANNER) ? 'answered' : stale.received.includes(STALE) || stale.closed ? 'refused' : 'silent';
      await stale.close();
      this.live.delete(stale);
    }
    await sleep(300);
    const after = await fleet.detail(bmcIndex);
    const ownerRec = owner.activation && after.solHistory.find((h) => h.activatedAt === owner.activation!.activatedAt && h.bmcSessionId === owner.activation!.bmcSessionId);
    const newActivations = after.solHistory.length - before.solHistory.length;
    if (newActivations > 0 || (ownerRec && ownerRec.deactivatedAt !== null) || after.received.slice(before.received.length).includes(token)) {
      result = 'SESSION-OPENED';
      this.checker.violation(
        'stale-listener-session',
        `a client on ${victim}'s stale listener ${staleUrl} for ${this.name(uuid)} reached the BMC (new activations ${newActivations}, owner session ${ownerRec?.endReason ?? 'active'})`,
        { node: uuid },
      );
    }
    await this.close(owner);
    return result;
  }
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await sleep(20);
  }
  return check();
}
