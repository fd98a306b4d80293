import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LocalCluster } from '../../support/cluster.js';
import type { ConductorProcess } from '../../support/conductor-process.js';
import { ConsoleClient } from '../../support/console-client.js';
import { listeningSockets, urlListens } from '../../support/net.js';
import { waitFor } from '../../support/wait.js';

/**
 * GET …/states/console must never hand out a URL with nothing behind it (Nova would give it to
 * nova-serialproxy), not even for the few milliseconds while the owner stops (SIGTERM: `stopping` is
 * written before socat is killed) or dies (kill -9: the dead conductor's connection is checked on
 * every GET, and the failure detector's removal makes the console non-serving at once).
 *
 * A sampler asks a surviving conductor in a tight loop and reads the kernel's socket table just
 * before and just after each answer (never connecting to a console port: that would open a SOL
 * session). A URL whose port listened at neither moment is a violation.
 */
class UrlSampler {
  samples = 0;
  urls = 0;
  violations: string[] = [];
  /** Hosts of the URLs handed out (before and after the event: the sampler was not vacuous). */
  hosts = new Set<string>();
  /** performance.now() of the event, for the violation messages. */
  eventAt = 0;
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly api: ConductorProcess,
    private readonly uuids: string[],
  ) {}

  start(): this {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        for (const uuid of this.uuids) {
          const before = listeningSockets();
          const t0 = performance.now();
          const r = await this.api.api('GET', `/v1/nodes/${uuid}/states/console`);
          const t1 = performance.now();
          const after = listeningSockets();
          this.samples++;
          const url: string | undefined = r.body?.console_enabled ? r.body.console_info?.url : undefined;
          if (!url) continue;
          this.urls++;
          this.hosts.add(/^tcp:\/\/([^:]+):/.exec(url)?.[1] ?? url);
          const at = (t: number) => (this.eventAt ? `${Math.round(t - this.eventAt)} ms` : 'before the event');
          if (!urlListens(url, before) && !urlListens(url, after)) this.violations.push(`${uuid} → ${url} (asked ${at(t0)}, answered ${at(t1)} after the event)`);
        }
      }
    })();
    return this;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

describe('cluster: GET states/console never advertises a URL nothing listens on', () => {
  let cluster: LocalCluster;
  const clients: ConsoleClient[] = [];

  beforeAll(async () => {
    cluster = await LocalCluster.start({ name: 'url', conductors: 3, bmcNodes: 6, dummyNodes: 30 });
    await cluster.enableAll();
    await cluster.waitAllServing(60_000);
  }, 180_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await cluster?.stop();
  });

  /** Hold a SOL session on every console of `victim` backed by a real BMC; returns the victim's nodes. */
  async function victimNodes(victim: string): Promise<string[]> {
    const s = await cluster.sample();
    const mine = s.filter((x) => x.conductor === victim);
    expect(mine.length).toBeGreaterThan(0);
    const bmc = new Set(cluster.nodes.filter((n) => n.bmc).map((n) => n.uuid));
    for (const x of mine.filter((m) => bmc.has(m.uuid))) clients.push(await ConsoleClient.connect(x.url!));
    return mine.map((x) => x.uuid);
  }

  async function servedElsewhere(uuids: string[], from: string) {
    await waitFor(
      async () => (await cluster.sample(uuids)).every((x) => x.serving && x.listening && x.conductor !== from),
      { timeoutMs: 30_000, intervalMs: 50, what: `every console of ${from} to serve elsewhere` },
    );
  }

  it('while its owner stops gracefully (SIGTERM)', async () => {
    const uuids = await victimNodes('c3');
    const sampler = new UrlSampler(cluster.conductor('c1'), uuids).start();
    await new Promise((r) => setTimeout(r, 300));
    sampler.eventAt = performance.now();
    await cluster.conductor('c3').stop();
    await servedElsewhere(uuids, 'c3');
    await new Promise((r) => setTimeout(r, 300));
    await sampler.stop();
    expect(sampler.violations).toEqual([]);
    expect(sampler.hosts).toContain('127.0.0.3'); // URLs were handed out before the stop…
    expect([...sampler.hosts].length).toBeGreaterThan(1); // …and after it, by the new owners
  }, 90_000);

  it('while its owner is killed (kill -9), a client holding a session', async () => {
    if (cluster.conductor('c3').exitCode !== undefined) await cluster.conductor('c3').start();
    await waitFor(async () => (await cluster.sample()).filter((x) => x.conductor === 'c3' && x.serving && x.listening).length > 0, {
      timeoutMs: 30_000,
      what: 'c3 to serve its ring share again',
    });
    await cluster.waitAllServing(30_000);
    for (const c of clients.splice(0)) c.close();
    const uuids = await victimNodes('c3');
    const sampler = new UrlSampler(cluster.conductor('c2'), uuids).start();
    await new Promise((r) => setTimeout(r, 300));
    sampler.eventAt = performance.now();
    await cluster.conductor('c3').kill9();
    await servedElsewhere(uuids, 'c3');
    await new Promise((r) => setTimeout(r, 300));
    await sampler.stop();
    expect(sampler.violations).toEqual([]);
    expect(sampler.hosts).toContain('127.0.0.3');
    expect([...sampler.hosts].length).toBeGreaterThan(1);
  }, 90_000);
});
