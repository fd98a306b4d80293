import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { CONSOLE_STATES } from '#libs/nodes';
import { apiConnections } from '../api/connection-stats.js';
import type { ConductorRuntime } from '../runtime/conductor.runtime.js';
import { RUNTIME } from '../api/tokens.js';

/** Prometheus metrics, read from the runtime at scrape time (nothing is counted twice). */
@Controller()
export class MetricsController {
  private readonly registry = new Registry();

  constructor(@Inject(RUNTIME) rt: ConductorRuntime) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'solgate_' });
    const stats = () => rt.supervisor.stats();
    new Gauge({
      name: 'solgate_consoles',
      help: 'Consoles this conductor runs, by observed state',
      labelNames: ['state'],
      registers: [r],
      collect() {
        const s = stats();
        for (const st of CONSOLE_STATES) this.set({ state: st }, s.byState[st]);
      },
    });
    new Gauge({ name: 'solgate_owned_nodes', help: 'Nodes whose console this conductor owns', registers: [r], collect() { this.set(stats().owned); } });
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({ name, help, registers: [r], collect() { this.reset(); this.inc(read()); } });
    counter('solgate_takeovers_total', 'Consoles taken over from another conductor', () => stats().takeovers);
    counter('solgate_console_restarts_total', 'Consoles restarted after socat exited unexpectedly', () => stats().restarts);
    counter('solgate_console_start_failures_total', 'Console starts that failed', () => stats().startFailures);
    counter('solgate_console_starts_total', 'Consoles started', () => stats().starts);
    counter('solgate_crashes_detected_total', 'Conductor crashes detected by the fast path', () => rt.failureDetector.detected);
    new Gauge({ name: 'solgate_heartbeat_latency_seconds', help: 'Round trip of the last heartbeat', registers: [r], collect() { this.set(rt.membership.lastHeartbeatLatencyMs / 1000); } });
    new Gauge({ name: 'solgate_heartbeat_max_gap_seconds', help: 'Longest time between two successful heartbeats since start', registers: [r], collect() { this.set(rt.membership.maxHeartbeatGapMs / 1000); } });
    new Gauge({ name: 'solgate_heartbeat_failures', help: 'Heartbeats failed in a row', registers: [r], collect() { this.set(rt.membership.heartbeatFailures); } });
    new Gauge({
      name: 'solgate_ring_members',
      help: 'Live ring members, by conductor group',
      labelNames: ['group'],
      registers: [r],
      collect() {
        const view = rt.membership.view;
        this.reset();
        for (const g of view.groups()) this.set({ group: g }, view.ring(g)?.size ?? 0);
      },
    });
    new Gauge({ name: 'solgate_registered', help: '1 while this conductor is a registered member with a valid lease', registers: [r], collect() { this.set(rt.membership.registered ? 1 : 0); } });
    new Gauge({ name: 'solgate_api_connections', help: 'Open API connections', registers: [r], collect() { this.set(apiConnections.open); } });
    new Gauge({ name: 'solgate_api_max_connections', help: 'Cap on open API connections (SOLGATE_API_MAX_CONNECTIONS or derived from the open-files limit)', registers: [r], collect() { this.set(apiConnections.max); } });
    counter('solgate_api_connections_dropped_total', 'API connections refused at the cap', () => apiConnections.dropped);
    const problems = rt.nodes.problems;
    counter('solgate_unreadable_record_reads_total', 'Reads that met a record in Redis that is not what its key says (bad JSON, wrong Redis type, a non-uuid index member); each was skipped', () => problems.total);
    new Gauge({ name: 'solgate_unreadable_records', help: 'Distinct unreadable records met in the last 10 minutes (solgate doctor names them)', registers: [r], collect() { this.set(problems.current().length); } });
    new Gauge({ name: 'solgate_reconcile_pass_seconds', help: 'Duration of the last full reconcile pass', registers: [r], collect() { this.set(stats().lastPassMs / 1000); } });
  }

  @Get('metrics')
  async metrics(@Res() res: Response) {
    res.setHeader('Content-Type', this.registry.contentType);
    res.end(await this.registry.metrics());
  }
}
