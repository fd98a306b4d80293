import '../styles/app.css';
import { ensureSession, getJson, Unauthorized, wireSignOut } from '../lib/auth.js';
import { STATES, type NodeListResponse, type NodeRow } from '../lib/node-list.js';
import { setupTheme } from '../lib/theme.js';

/**
 * GET /ui/: every node with its console state, owner and viewer count; search and filters are
 * applied by the conductor (so a 10,000-node fleet never ships whole to the browser) and kept in
 * the URL's query string (bookmarkable, and back/forward work). Refreshes every 5 s.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const REFRESH_MS = 5000;

async function main(): Promise<void> {
  setupTheme($('theme'));
  const main = $<HTMLElement>('main');
  const login = $<HTMLElement>('login');
  const info = await ensureSession(login, () => (main.hidden = true));
  main.hidden = false;
  wireSignOut($('signout'), info);
  $('conductor').textContent = info.conductor;

  const form = $<HTMLFormElement>('filters');
  const q = $<HTMLInputElement>('q');
  const state = $<HTMLSelectElement>('state');
  const group = $<HTMLSelectElement>('group');
  for (const s of STATES) state.append(new Option(s, s));
  const params = new URLSearchParams(location.search);
  q.value = params.get('q') ?? '';
  state.value = params.get('state') ?? '';

  let timer: number | undefined;
  let inFlight = 0;
  const refresh = async (announce = false) => {
    const my = ++inFlight;
    clearTimeout(timer);
    const query = new URLSearchParams();
    if (q.value.trim()) query.set('q', q.value.trim());
    if (state.value) query.set('state', state.value);
    if (group.value) query.set('group', group.value);
    try {
      const data = await getJson<NodeListResponse>(`/ui/api/nodes?${query}`);
      if (my !== inFlight) return;
      render(data, announce);
      $('error').textContent = '';
    } catch (e) {
      if (e instanceof Unauthorized) return location.reload();
      $('error').textContent = `Could not load the node list (${e instanceof Error ? e.message : String(e)}); retrying.`;
    } finally {
      if (my === inFlight) timer = window.setTimeout(() => void refresh(), REFRESH_MS);
    }
  };

  const render = (data: NodeListResponse, announce: boolean) => {
    // the default group's name is empty: the filter calls it "-"
    const values = data.groups.map((g) => (g === '' ? '-' : g));
    const wanted = params.get('group') ?? group.value;
    if (group.options.length - 1 !== values.length || values.some((v, i) => group.options[i + 1]?.value !== v)) {
      group.replaceChildren(new Option('all groups', ''), ...data.groups.map((g, i) => new Option(g === '' ? '(default group)' : g, values[i])));
    }
    group.value = wanted;
    params.delete('group');
    const body = $<HTMLTableSectionElement>('rows');
    body.replaceChildren(...data.nodes.map(row));
    const summary = `${data.matched} of ${data.total} node${data.total === 1 ? '' : 's'}${data.matched > data.nodes.length ? ` (first ${data.nodes.length} shown: refine the search)` : ''}`;
    $('count').textContent = summary;
    if (announce) $('status').textContent = summary;
    $('empty').hidden = data.nodes.length > 0;
  };

  const apply = () => {
    const query = new URLSearchParams();
    if (q.value.trim()) query.set('q', q.value.trim());
    if (state.value) query.set('state', state.value);
    if (group.value) query.set('group', group.value);
    history.replaceState(null, '', `${location.pathname}${query.size ? `?${query}` : ''}`);
    void refresh(true);
  };
  let debounce: number | undefined;
  q.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = window.setTimeout(apply, 200);
  });
  state.addEventListener('change', apply);
  group.addEventListener('change', apply);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    apply();
  });
  // "/" jumps to the search box, as on most sites (not while typing in a field)
  document.addEventListener('keydown', (ev) => {
    const t = ev.target as HTMLElement;
    if (ev.key === '/' && !ev.ctrlKey && !ev.metaKey && !ev.altKey && !['INPUT', 'SELECT', 'TEXTAREA'].includes(t.tagName)) {
      ev.preventDefault();
      q.focus();
    }
  });
  if (params.get('group')) {
    group.append(new Option(params.get('group')!, params.get('group')!));
    group.value = params.get('group')!;
  }
  await refresh();
}

function cell(text: string | number | null, className?: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text === null ? '—' : String(text);
  if (className) td.className = className;
  return td;
}

function row(n: NodeRow): HTMLTableRowElement {
  const tr = document.createElement('tr');
  const name = document.createElement('td');
  const a = document.createElement('a');
  a.href = `/ui/nodes/${encodeURIComponent(n.uuid)}/console`;
  a.textContent = n.name ?? n.uuid;
  a.setAttribute('aria-label', `Open the console of ${n.name ?? n.uuid}`);
  name.append(a);
  const st = document.createElement('td');
  const badge = document.createElement('span');
  badge.className = `badge state-${n.state}`;
  badge.textContent = n.state;
  st.append(badge);
  const err = cell(n.lastError, 'error-text');
  if (n.lastError) err.title = n.lastError;
  tr.append(name, cell(n.uuid, 'mono'), st, cell(n.owner), cell(n.viewers ?? null, 'num'), cell(n.group === '' ? '(default)' : n.group), cell(n.interface), err);
  return tr;
}

main().catch((e) => {
  const el = document.getElementById('error');
  if (el) el.textContent = `The page failed to start: ${e instanceof Error ? e.message : String(e)}`;
});
