#!/usr/bin/env node
// Draws deploy/helm/solgate/dashboards/solgate-dashboard.png: the panels of dashboards/solgate.json
// filled with real data. Grafana itself is not packaged for Debian, so this is a faithful stand-in:
//   - a real cluster on this machine: redis-server, three conductors (bin/solgate-conductor) and the
//     fleet BMC simulator (bin/solgate-bmc-sim), put through a scenario — consoles enabled, one
//     console whose port is taken (error state), a conductor killed with SIGKILL and restarted, one
//     stopped with SIGTERM and restarted, a console's socat killed (restart);
//   - a real Prometheus (Debian's prometheus package) scraping their /metrics every 2 s, with the
//     labels the chart's ServiceMonitor gives (namespace, service, pod);
//   - every panel's own PromQL from the dashboard JSON, evaluated by that Prometheus
//     (query_range; Grafana's $namespace/$pod → all, $__rate_interval → 8 s), drawn at the panel's
//     gridPos in an HTML page and photographed with headless Chromium.
//
//   npm run build && node deploy/helm/solgate/dashboards/render-picture.mjs [--minutes 4]
// Needs redis-server, socat, ipmitool, prometheus and chromium (Debian packages).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../../../..');
const minutes = Number(process.argv[process.argv.indexOf('--minutes') + 1]) || 4;
const scratch = mkdtempSync(join(tmpdir(), 'solgate-dash-'));
const children = [];
const IPS = ['127.0.0.21', '127.0.0.22', '127.0.0.23'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (m) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${m}\n`);

function freePort(host = '127.0.0.1') {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, host, () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function start(cmd, args, env = {}, name = cmd) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.out = '';
  child.stdout.on('data', (d) => (child.out += d));
  child.stderr.on('data', (d) => (child.out += d));
  child.name = name;
  children.push(child);
  return child;
}

async function until(check, what, ms = 30_000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {}
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(100);
  }
}

async function main() {
  const redisPort = await freePort();
  start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {}, 'redis');
  const sim = start(process.execPath, [join(ROOT, 'bin/solgate-bmc-sim'), '--count', '12', '--port', '0', '--control-port', '0'], {}, 'bmc-sim');
  await until(() => sim.out.includes('\nready'), 'bmc-sim');
  const bmcs = sim.out.split('\n').filter((l) => l.startsWith('{"index"')).map((l) => JSON.parse(l));
  const apiPort = await freePort(IPS[0]);
  const rangeStart = 23000 + Math.floor(Math.random() * 500) * 10;
  const env = (i) => ({
    SOLGATE_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    SOLGATE_CONDUCTOR_ID: `solgate-${i}`,
    SOLGATE_API_HOST: IPS[i],
    SOLGATE_API_PORT: String(apiPort),
    SOLGATE_SOCAT_ADDRESS: IPS[i],
    SOLGATE_PORT_RANGE: `${rangeStart}:${rangeStart + 40}`,
    SOLGATE_TERMINAL_PID_DIR: join(scratch, `pid-${i}`),
    SOLGATE_LOG_LEVEL: 'warn',
  });
  const conductors = [];
  const startConductor = (i) => (conductors[i] = start(join(ROOT, 'bin/solgate-conductor'), [], env(i), `conductor-${i}`));
  const ready = (i) => until(async () => (await fetch(`http://${IPS[i]}:${apiPort}/readyz`)).status === 200, `conductor ${i} ready`);
  for (let i = 0; i < 3; i++) startConductor(i);
  for (let i = 0; i < 3; i++) await ready(i);

  const promPort = await freePort();
  const scrape = IPS.map((ip, i) => `      - targets: ['${ip}:${apiPort}']\n        labels: {namespace: metal, service: solgate-headless, pod: solgate-${i}}`).join('\n');
  writeFileSync(join(scratch, 'prometheus.yml'), `global: {scrape_interval: 2s, evaluation_interval: 2s}\nscrape_configs:\n  - job_name: solgate\n    static_configs:\n${scrape}\n`);
  start('prometheus', [`--config.file=${join(scratch, 'prometheus.yml')}`, `--storage.tsdb.path=${join(scratch, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`], {}, 'prometheus');
  const prom = `http://127.0.0.1:${promPort}`;
  await until(async () => (await fetch(`${prom}/-/ready`)).ok, 'prometheus ready');
  const t0 = Date.now() / 1000;

  const api = (method, path, body) =>
    fetch(`http://${IPS[0]}:${apiPort}${path}`, { method, headers: { 'X-OpenStack-Ironic-API-Version': '1.78', 'Content-Type': 'application/json' }, body: body && JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: await r.json().catch(() => ({})) }));
  log('scenario: enabling 12 consoles, one on a port that is taken');
  const blockers = IPS.map((ip) => createServer().listen(rangeStart + 39, ip));
  const uuids = [];
  for (const b of bmcs) {
    const r = await api('POST', '/v1/nodes', { name: b.name, driver: 'ipmi', console_interface: b.index % 2 ? 'native-ipmi-socat' : 'ipmitool-socat', driver_info: { ipmi_address: '127.0.0.1', ipmi_port: b.port, ipmi_username: 'admin', ipmi_password: 'password' } });
    uuids.push(r.body.uuid);
    await api('PUT', `/v1/nodes/${r.body.uuid}/states/console`, { enabled: true });
  }
  const blocked = await api('POST', '/v1/nodes', { name: 'port-taken', driver: 'ipmi', driver_info: { ipmi_address: '127.0.0.1', ipmi_port: bmcs[0].port, ipmi_username: 'admin', ipmi_password: 'password', ipmi_terminal_port: rangeStart + 39 } });
  if (blocked.status !== 201) throw new Error(`creating the blocked node: ${JSON.stringify(blocked)}`);
  await api('PUT', `/v1/nodes/${blocked.body.uuid}/states/console`, { enabled: true });
  const span = minutes * 60_000;
  await sleep(span * 0.2);
  log('scenario: SIGKILL solgate-1');
  conductors[1].kill('SIGKILL');
  await sleep(span * 0.15);
  log('scenario: solgate-1 back');
  startConductor(1);
  await sleep(span * 0.15);
  log('scenario: killing two socat listeners (restarts)');
  let socats = [];
  try {
    socats = execFileSync('pgrep', ['-f', `socat .*TCP4?-LISTEN:${String(rangeStart).slice(0, 3)}`], { encoding: 'utf8' }).trim().split('\n');
  } catch {}
  for (const pid of socats.slice(0, 2)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {}
  }
  await sleep(span * 0.1);
  log('scenario: SIGTERM solgate-2 (graceful handover)');
  conductors[2].kill('SIGTERM');
  await sleep(span * 0.15);
  log('scenario: solgate-2 back');
  startConductor(2);
  await sleep(span * 0.25);
  for (const b of blockers) b.close();
  const t1 = Date.now() / 1000;

  // ---- every panel's queries, evaluated by Prometheus over the scenario
  const dash = JSON.parse(readFileSync(join(HERE, 'solgate.json'), 'utf8'));
  const step = 4;
  const data = [];
  for (const p of dash.panels) {
    const series = [];
    for (const t of p.targets) {
      const expr = t.expr.replace(/\$__rate_interval/g, '8s').replace(/\$namespace/g, '.*').replace(/\$pod/g, '.*');
      const q = new URLSearchParams({ query: expr, start: String(t0), end: String(t1), step: String(step) });
      const r = await (await fetch(`${prom}/api/v1/query_range?${q}`)).json();
      if (r.status !== 'success') throw new Error(`${p.title}: ${JSON.stringify(r)}`);
      for (const s of r.data.result) {
        const legend = (t.legendFormat || '').replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k) => s.metric[k] ?? '') || JSON.stringify(s.metric);
        series.push({ legend, values: s.values.map(([ts, v]) => [Number(ts) - t0, Number(v)]) });
      }
    }
    data.push({ panel: p, series });
  }
  writeFileSync(join(scratch, 'page.html'), page(dash, data, t1 - t0));
  const out = join(HERE, 'solgate-dashboard.png');
  const height = Math.max(...dash.panels.map((p) => p.gridPos.y + p.gridPos.h)) * 30 + 70;
  execFileSync('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--window-size=1600,${height}`, `--screenshot=${out}`, `file://${join(scratch, 'page.html')}`], { stdio: 'ignore' });
  log(`wrote ${out} (${Math.round(t1 - t0)} s of data)`);
}

const COLORS = ['#73bf69', '#f2cc0c', '#8ab8ff', '#ff780a', '#f2495c', '#5794f2', '#b877d9', '#fade2a', '#37872d', '#c4162a', '#1f60c4', '#8f3bb8'];
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
function fmt(v, unit) {
  if (!Number.isFinite(v)) return '–';
  if (unit === 'bytes') return `${(v / 2 ** 20).toFixed(0)} MiB`;
  if (unit === 's') return v < 1 ? `${(v * 1000).toFixed(v < 0.01 ? 1 : 0)} ms` : `${v.toFixed(2)} s`;
  return Math.abs(v - Math.round(v)) < 1e-9 ? String(Math.round(v)) : v.toFixed(1);
}

function page(dash, data, seconds) {
  const COL = 1600 / 24;
  const ROW = 30;
  const panels = data.map(({ panel: p, series }, n) => {
    const x = p.gridPos.x * COL + 4;
    const y = p.gridPos.y * ROW + 54;
    const w = p.gridPos.w * COL - 8;
    const h = p.gridPos.h * ROW - 8;
    const unit = p.fieldConfig?.defaults?.unit;
    let body;
    if (p.type === 'stat') {
      const steps = p.fieldConfig.defaults.thresholds.steps;
      body = series.length === 0 ? '<div class="big">–</div>' : series.map((s) => {
        const last = s.values.at(-1)?.[1];
        const color = steps.filter((st) => st.value === null || last >= st.value).at(-1).color;
        const named = p.options.textMode === 'value_and_name';
        return `<div class="big" style="color:${color === 'green' ? '#73bf69' : color === 'red' ? '#f2495c' : '#ff9830'}">${named ? `<span class="name">${esc(s.legend)}</span> ` : ''}${fmt(last, unit)}</div>`;
      }).join('');
    } else body = chart(series, w - 16, h - 60, unit, p.fieldConfig.defaults.custom, seconds);
    return `<div class="panel" style="left:${x}px;top:${y}px;width:${w}px;height:${h}px"><div class="title">${esc(p.title)}</div>${body}</div>`;
  });
  return `<!doctype html><html><head><meta charset="utf-8"><style>
body{margin:0;background:#111217;font-family:'DejaVu Sans',sans-serif;color:#ccccdc;width:1600px}
.top{height:46px;line-height:46px;padding-left:16px;font-size:18px;border-bottom:1px solid #2c3235}
.top span{font-size:12px;color:#8e8e8e;margin-left:16px}
.panel{position:absolute;background:#181b1f;border:1px solid #2c3235;border-radius:3px;box-sizing:border-box;padding:6px 8px;overflow:hidden}
.title{font-size:13px;font-weight:bold;margin-bottom:4px}
.big{font-size:34px;font-weight:bold;text-align:center;margin-top:6px}
.big .name{font-size:13px;color:#ccccdc;font-weight:normal}
.legend{font-size:11px;line-height:15px}
.legend i{display:inline-block;width:12px;height:3px;margin:0 4px 3px 8px}
svg text{fill:#8e8e8e;font-size:10px}
</style></head><body><div class="top">${esc(dash.title)} <span>namespace: All · conductor: All · ${Math.round(seconds / 60)} min of a real 3-conductor cluster (SIGKILL, SIGTERM, restarts, a console in error), Prometheus 2 s scrapes</span></div>${panels.join('')}</body></html>`;
}

function chart(series, w, h, unit, custom, seconds) {
  const all = series.flatMap((s) => s.values.map(([, v]) => v)).filter(Number.isFinite);
  const stack = custom?.stacking?.mode === 'normal';
  const bars = custom?.drawStyle === 'bars';
  let max = 1e-9;
  if (stack) {
    const sums = new Map();
    for (const s of series) for (const [t, v] of s.values) sums.set(t, (sums.get(t) ?? 0) + (Number.isFinite(v) ? v : 0));
    max = Math.max(max, ...sums.values());
  } else if (all.length) max = Math.max(max, ...all);
  max *= 1.1;
  const X = (t) => 40 + (t / seconds) * (w - 44);
  const Y = (v) => h - 14 - (v / max) * (h - 20);
  const grid = [0, 0.5, 1].map((f) => `<line x1="40" x2="${w}" y1="${Y(max * f / 1.1)}" y2="${Y(max * f / 1.1)}" stroke="#2c3235"/><text x="0" y="${Y(max * f / 1.1) + 3}">${fmt(max * f / 1.1, unit)}</text>`).join('');
  // Grafana draws no line across missing samples and stacks a missing value as 0: the same here.
  const times = [...new Set(series.flatMap((s) => s.values.map(([t]) => t)))].sort((a, b) => a - b);
  if (stack) for (const s of series) {
    const byT = new Map(s.values);
    s.values = times.map((t) => [t, byT.get(t) ?? 0]);
  }
  const gap = (times[1] - times[0] || 4) * 2.5;
  const base = new Map();
  const shapes = series.map((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.values.filter(([, v]) => Number.isFinite(v)).map(([t, v]) => {
      const b = stack ? base.get(t) ?? 0 : 0;
      if (stack) base.set(t, b + v);
      return [t, v, b];
    });
    if (bars) return pts.filter(([, v]) => v > 0).map(([t, v, b]) => `<rect x="${X(t) - 2}" y="${Y(b + v)}" width="4" height="${Math.max(1, Y(b) - Y(b + v))}" fill="${color}"/>`).join('');
    const line = pts.map(([t, v, b]) => `${X(t).toFixed(1)},${Y(b + v).toFixed(1)}`).join(' ');
    const area = stack && pts.length ? `<polygon points="${line} ${pts.slice().reverse().map(([t, , b]) => `${X(t).toFixed(1)},${Y(b).toFixed(1)}`).join(' ')}" fill="${color}" fill-opacity="0.5"/>` : '';
    const runs = [[]];
    for (const [k, p] of pts.entries()) {
      if (k > 0 && p[0] - pts[k - 1][0] > gap) runs.push([]);
      runs.at(-1).push(`${X(p[0]).toFixed(1)},${Y(p[2] + p[1]).toFixed(1)}`);
    }
    return `${area}${runs.map((r) => `<polyline points="${r.join(' ')}" fill="none" stroke="${color}" stroke-width="1.5"/>`).join('')}`;
  });
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="${X(f * seconds) - 10}" y="${h - 2}">${Math.round((f * seconds) / 60 * 10) / 10}m</text>`).join('');
  const legend = series.slice(0, 12).map((s, i) => `<span><i style="background:${COLORS[i % COLORS.length]}"></i>${esc(s.legend)}</span>`).join('');
  return `<svg width="${w}" height="${h}">${grid}${shapes.join('')}${ticks}</svg><div class="legend">${legend || '<span>no data</span>'}</div>`;
}

main()
  .catch((e) => {
    process.stderr.write(`${e.stack ?? e}\n`);
    for (const c of children) process.stderr.write(`--- ${c.name}\n${c.out.slice(-1500)}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await sleep(1500);
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(scratch, { recursive: true, force: true });
  });
