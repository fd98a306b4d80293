import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CONSOLE_PHASES } from '#libs/console';
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
    const stats = () => rt.reconciler.stats();
    new Gauge({
      name: 'solgate_consoles',
      help: 'Consoles this conductor runs or retries, by phase (consolePhase: the API and the CLI use the same labels)',
      labelNames: ['state'],
      registers: [r],
      collect() {
        const s = stats();
        for (const st of CONSOLE_PHASES) if (st !== 'no conductor') this.set({ state: st }, s.byPhase[st]);
      },
    });
    new Gauge({ name: 'solgate_owned_nodes', help: 'Nodes whose console this conductor owns', registers: [r], collect() { this.set(stats().owned); } });
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({ name, help, registers: [r], collect() { this.reset(); this.inc(read()); } });
    counter('solgate_takeovers_total', 'Consoles taken over from another conductor', () => stats().takeovers);
    counter('solgate_console_restarts_total', 'Consoles restarted after socat exited unexpectedly or stopped listening', () => stats().restarts);
    counter('solgate_console_start_failures_total', 'Console starts that failed', () => stats().startFailures);
    counter('solgate_console_starts_total', 'Consoles started', () => stats().starts);
    counter('solgate_crashes_detected_total', 'Conductor crashes detected by the fast path', () => rt.failureDetector.detected);
    new Gauge({ name: 'solgate_heartbeat_latency_seconds', help: 'Round trip of the last heartbeat', registers: [r], collect() { this.set(rt.membership.lastHeartbeatLatencyMs / 1000); } });
    new Gauge({ name: 'solgate_heartbeat_max_gap_seconds', help: 'Longest time between two successful heartbeats since start', registers: [r], collect() { this.set(rt.membership.maxHeartbeatGapMs / 1000); } });
    // Every gap between two successful heartbeats: the chart's alert on a gap nearing the heartbeat
    // timeout reads it (the max gauge above never comes down, a scrape-time gauge misses short stalls).
    const gaps = new Histogram({
      name: 'solgate_heartbeat_gap_seconds',
      help: 'Time between two successful heartbeats',
      buckets: [0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10, 15, 30],
      registers: [r],
    });
    rt.membership.on('heartbeat', (gapMs: number) => gaps.observe(gapMs / 1000));
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
    new Gauge({ name: 'solgate_console_tcp_clients', help: 'Console clients connected to this conductor over TCP (through the console ports)', registers: [r], collect() { this.set(rt.consoleClientSlots.open); } });
    new Gauge({ name: 'solgate_console_tcp_clients_max', help: 'Cap on TCP console clients of this conductor (from the open-files limit)', registers: [r], collect() { this.set(rt.consoleClientSlots.max); } });
    counter('solgate_console_tcp_clients_refused_total', 'TCP console clients turned away at the cap', () => rt.consoleClientSlots.refused);
    // console brokers (one BMC session per node, many viewers), per console interface
    const brokerMetrics = () => [rt.ipmitoolConsoles, rt.nativeConsoles, rt.shellinaboxConsoles].map((d) => ({ iface: d.name, m: d.metrics }));
    const perInterface = (name: string, help: string, type: 'gauge' | 'counter', read: (m: ReturnType<typeof brokerMetrics>[number]['m']) => number) => {
      if (type === 'gauge')
        new Gauge({ name, help, labelNames: ['interface'], registers: [r], collect() { for (const { iface, m } of brokerMetrics()) this.set({ interface: iface }, read(m)); } });
      else
        new Counter({ name, help, labelNames: ['interface'], registers: [r], collect() { this.reset(); for (const { iface, m } of brokerMetrics()) this.inc({ interface: iface }, read(m)); } });
    };
    perInterface('solgate_console_viewers', 'Viewers attached to console brokers', 'gauge', (m) => m.viewers);
    perInterface('solgate_console_bmc_sessions', 'BMC SOL sessions held by console brokers', 'gauge', (m) => m.sessionsOpen);
    perInterface('solgate_console_bytes_out_total', 'Node output bytes received by console brokers', 'counter', (m) => m.bytesOut);
    perInterface('solgate_console_bytes_in_total', 'Keystroke bytes sent to nodes by console brokers', 'counter', (m) => m.bytesIn);
    perInterface('solgate_console_bmc_session_drops_total', 'BMC SOL sessions that dropped (not closed by solgate)', 'counter', (m) => m.sessionDrops);
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
