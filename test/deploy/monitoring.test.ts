import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CHART_DIR, REPO_ROOT, findObject, objectsOfKind, renderChart, type K8sObject } from './helm.js';
import { dashboardQueries, exportedMetricNames, metricNamesIn } from './metrics-usage.js';

// The chart's operations kit: the PrometheusRule checked with `promtool check rules` and unit-tested
// with `promtool test rules` (test/deploy/monitoring/alerts.test.yaml), the Grafana dashboard's
// queries checked by promtool too, and every metric they use exported by the conductor.
// promtool comes from Debian's prometheus package (scripts/prereqs.sh test installs it).

function promtool(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('promtool', args, { cwd }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('promtool is missing: run scripts/prereqs.sh test (Debian package prometheus)');
      resolve({ code: err ? Number((err as any).code) || 1 : 0, out: stdout + stderr });
    });
  });
}

describe('the chart monitoring kit (ci/monitoring-values.yaml)', () => {
  let objects: K8sObject[];
  let work: string;

  beforeAll(async () => {
    objects = await renderChart({ valuesFiles: ['ci/monitoring-values.yaml'] });
    work = mkdtempSync(join(tmpdir(), 'solgate-promtool-'));
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('renders a ServiceMonitor, a PrometheusRule and the dashboard ConfigMap; none of them by default', async () => {
    expect(objectsOfKind(objects, 'ServiceMonitor')).toHaveLength(1);
    expect(objectsOfKind(objects, 'PrometheusRule')).toHaveLength(1);
    const cm = objectsOfKind(objects, 'ConfigMap').find((o) => o.metadata.name === 'solgate-dashboard')!;
    expect(cm.metadata.namespace).toBe('monitoring');
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
    expect(cm.metadata.annotations?.grafana_folder).toBe('Bare metal');
    expect(JSON.parse(cm.data['solgate.json']).uid).toBe('solgate-conductors');
    const defaults = await renderChart({});
    for (const kind of ['ServiceMonitor', 'PrometheusRule']) expect(objectsOfKind(defaults, kind)).toEqual([]);
    expect(objectsOfKind(defaults, 'ConfigMap').filter((o) => o.metadata.name.endsWith('-dashboard'))).toEqual([]);
  });

  it('the PrometheusRule passes promtool check rules', async () => {
    const rule = findObject(objects, 'PrometheusRule');
    writeFileSync(join(work, 'solgate-rules.yaml'), stringify({ groups: rule.spec.groups }));
    const r = await promtool(['check', 'rules', 'solgate-rules.yaml'], work);
    expect(r).toEqual({ code: 0, out: expect.stringContaining('SUCCESS: 9 rules found') });
  });

  it('its alerts fire when they should and only then (promtool test rules)', async () => {
    const rule = findObject(objects, 'PrometheusRule');
    writeFileSync(join(work, 'solgate-rules.yaml'), stringify({ groups: rule.spec.groups }));
    copyFileSync(join(REPO_ROOT, 'test/deploy/monitoring/alerts.test.yaml'), join(work, 'alerts.test.yaml'));
    const r = await promtool(['test', 'rules', 'alerts.test.yaml'], work);
    expect({ code: r.code, out: r.code === 0 ? 'SUCCESS' : r.out }).toEqual({ code: 0, out: 'SUCCESS' });
  });

  it('has the alerts that matter, each with a severity, a summary and a description', () => {
    const rule = findObject(objects, 'PrometheusRule');
    const rules = rule.spec.groups.flatMap((g: any) => g.rules);
    const names = rules.map((r: any) => r.alert);
    expect(names).toEqual(
      expect.arrayContaining([
        'SolgateNoLiveConductor',
        'SolgateConductorGroupEmpty',
        'SolgateConsolesInError',
        'SolgateTakeoversSpiking',
        'SolgateRedisUnreachable',
        'SolgateHeartbeatGapNearTimeout',
        'SolgateConductorDown',
        'SolgateConductorNotRegistered',
        'SolgateConsolesPerConductorHigh', // additionalRules
      ]),
    );
    for (const r of rules.filter((x: any) => x.alert.startsWith('Solgate') && x.alert !== 'SolgateConsolesPerConductorHigh')) {
      expect({ alert: r.alert, severity: r.labels.severity, team: r.labels.team, summary: !!r.annotations.summary, description: !!r.annotations.description }).toEqual({
        alert: r.alert,
        severity: expect.stringMatching(/^(critical|warning)$/),
        team: 'metal',
        summary: true,
        description: true,
      });
    }
  });

  it('the heartbeat-gap alert follows conductor.heartbeatTimeout and the fraction (bucket at or below the limit)', async () => {
    const le = async (set: Record<string, string | number>) => {
      const objs = await renderChart({ set: { 'metrics.prometheusRule.enabled': true, ...set } });
      const rules = findObject(objs, 'PrometheusRule').spec.groups[0].rules;
      return /le="([^"]+)"\}\[10m\]\)\)\s*>/.exec(rules.find((r: any) => r.alert === 'SolgateHeartbeatGapNearTimeout').expr.replace(/\n/g, ' '))?.[1];
    };
    expect(await le({})).toBe('3'); // 5 s × 0.6
    expect(await le({ 'conductor.heartbeatTimeout': 10 })).toBe('5'); // 6 s → the 5 s bucket
    expect(await le({ 'conductor.heartbeatTimeout': 10, 'metrics.prometheusRule.heartbeatGapFraction': 0.8, terminationGracePeriodSeconds: 30 })).toBe('7.5');
  });

  it('uses the operator-given selector instead of the ServiceMonitor labels', async () => {
    const objs = await renderChart({ set: { 'metrics.prometheusRule.enabled': true, 'metrics.prometheusRule.selector': 'job="kubernetes-pods"' } });
    const exprs = findObject(objs, 'PrometheusRule').spec.groups[0].rules.map((r: any) => r.expr).join('\n');
    expect(exprs).toContain('solgate_registered{job="kubernetes-pods"}');
    expect(exprs).not.toContain('service="solgate-headless"');
  });

  it('the dashboard shows consoles by state per conductor, takeovers, restarts, heartbeat latency and ring size, with valid PromQL', async () => {
    const dashboard = JSON.parse(readFileSync(join(CHART_DIR, 'dashboards/solgate.json'), 'utf8'));
    const titles = dashboard.panels.map((p: any) => p.title);
    for (const t of ['Consoles by state per conductor', 'Takeovers', 'Console restarts and start failures', 'Heartbeat latency', 'Heartbeat gap (p99, 5 min)', 'Ring size by group']) expect(titles).toContain(t);
    // no two panels overlap on Grafana's 24-column grid
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++)
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect({ panel: p.title, cell: `${x},${y}`, free: !cells.has(`${x},${y}`) }).toEqual({ panel: p.title, cell: `${x},${y}`, free: true });
          cells.add(`${x},${y}`);
        }
    }
    // every query parses: promtool checks them as recording rules
    const queries = dashboardQueries(dashboard);
    expect(queries.length).toBeGreaterThanOrEqual(15);
    const rules = queries.map((q, i) => ({ record: `solgate_dashboard:panel_${i}`, expr: q.expr }));
    writeFileSync(join(work, 'dashboard-queries.yaml'), stringify({ groups: [{ name: 'dashboard', rules }] }));
    const r = await promtool(['check', 'rules', 'dashboard-queries.yaml'], work);
    expect({ code: r.code, out: r.code === 0 ? 'ok' : r.out }).toEqual({ code: 0, out: 'ok' });
  });

  it('alerts and dashboard use only metrics the conductor exports', () => {
    const { own, defaultPrefix, source } = exportedMetricNames();
    expect(source).toContain("collectDefaultMetrics({ register: r, prefix: 'solgate_' })");
    const rule = findObject(objects, 'PrometheusRule');
    const used = new Set<string>();
    for (const r of rule.spec.groups[0].rules) for (const n of metricNamesIn(r.expr)) used.add(n);
    const dashboard = JSON.parse(readFileSync(join(CHART_DIR, 'dashboards/solgate.json'), 'utf8'));
    for (const q of dashboardQueries(dashboard)) for (const n of metricNamesIn(q.expr)) used.add(n);
    // prom-client's default metrics (process_*, nodejs_*) carry the prefix
    const unknown = [...used].filter((n) => !own.has(n) && !/^solgate_(process|nodejs)_/.test(n.replace(defaultPrefix, 'solgate_')));
    expect(unknown).toEqual([]);
    for (const n of ['solgate_consoles', 'solgate_takeovers_total', 'solgate_heartbeat_gap_seconds', 'solgate_ring_members', 'solgate_registered']) expect(used.has(n)).toBe(true);
  });
});
