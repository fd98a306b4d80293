import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHART_DIR, REPO_ROOT, findObject, renderChart } from './helm.js';

// Which metrics the chart's alerts and dashboard use, and which the conductor exports.

/** Metric names the conductor exports: its own (metrics.controller.ts) and prom-client's defaults under solgate_. */
export function exportedMetricNames(): { own: Set<string>; defaultPrefix: string; source: string } {
  const src = readFileSync(join(REPO_ROOT, 'apps/conductor/src/health/metrics.controller.ts'), 'utf8');
  const own = new Set<string>();
  for (const m of src.matchAll(/name: '(solgate_[a-z_]+)'/g)) own.add(m[1]);
  for (const m of src.matchAll(/counter\('(solgate_[a-z_]+)'/g)) own.add(m[1]);
  return { own, defaultPrefix: 'solgate_', source: src };
}

/** solgate_* names used in PromQL, histogram suffixes folded onto their base name. */
export function metricNamesIn(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\b(solgate_[a-z0-9_]+)/g)].map((m) => m[1].replace(/_(bucket|count|sum)$/, '')))];
}

/** Dashboard panel queries with Grafana's variables replaced, so Prometheus tooling can parse them. */
export function dashboardQueries(dashboard: any): { panel: string; expr: string }[] {
  const out: { panel: string; expr: string }[] = [];
  for (const p of dashboard.panels ?? []) {
    for (const t of p.targets ?? []) {
      out.push({
        panel: p.title,
        expr: String(t.expr).replace(/\$__rate_interval/g, '1m').replace(/\$namespace/g, '.*').replace(/\$pod/g, '.*'),
      });
    }
  }
  return out;
}

/** Every solgate_* metric the chart's PrometheusRule (defaults) and dashboard query. */
export async function metricsUsedByChart(): Promise<string[]> {
  const objects = await renderChart({ set: { 'metrics.prometheusRule.enabled': true } });
  const used = new Set<string>();
  for (const g of findObject(objects, 'PrometheusRule').spec.groups) for (const r of g.rules) for (const n of metricNamesIn(r.expr)) used.add(n);
  const dashboard = JSON.parse(readFileSync(join(CHART_DIR, 'dashboards/solgate.json'), 'utf8'));
  for (const q of dashboardQueries(dashboard)) for (const n of metricNamesIn(q.expr)) used.add(n);
  return [...used].sort();
}
