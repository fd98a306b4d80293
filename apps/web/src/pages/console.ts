import '@xterm/xterm/css/xterm.css';
import '../styles/app.css';
import { FitAddon } from '@xterm/addon-fit';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { Terminal, type ITheme } from '@xterm/xterm';
import type { ServerMessage, ViewerInfo } from '#libs/console-protocol';
import { ensureSession, storedToken, wireSignOut } from '../lib/auth.js';
import { ConsoleConnection, type ConnectionState } from '../lib/console-connection.js';
import { setupTheme, type Theme } from '../lib/theme.js';

/**
 * GET /ui/nodes/{ident}/console: the node's serial console in xterm.js over the conductor's
 * WebSocket, with the broker's manners — history replay, read-only unless holding the write lock,
 * take / force / release write, break, who is attached — and a connection state that is always
 * visible and announced to screen readers. Keyboard: every control is reachable with Tab;
 * Ctrl+Shift+L leaves the terminal (where Tab belongs to the node), Ctrl+Shift+C / Ctrl+Shift+V
 * copy and paste, Ctrl+Shift+K takes the write lock. Nothing else is taken from the terminal.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const THEMES: Record<Theme, ITheme> = {
  dark: { background: '#111418', foreground: '#d8dee9', cursor: '#f0f0f0', selectionBackground: '#3b4f6b' },
  light: { background: '#fbfbf8', foreground: '#1e2227', cursor: '#1e2227', selectionBackground: '#bcd3f2', black: '#1e2227', brightBlack: '#5c6370', white: '#a0a7b4', brightWhite: '#6b7280', yellow: '#8a6d00', brightYellow: '#8a6d00' },
};

const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

async function main(): Promise<void> {
  const ident = decodeURIComponent(/^\/ui\/nodes\/([^/]+)\/console\/?$/.exec(location.pathname)?.[1] ?? '');
  const app = $<HTMLElement>('app');
  const info = await ensureSession($('login'), () => (app.hidden = true));
  app.hidden = false;
  wireSignOut($('signout'), info);
  $('node').textContent = ident;
  document.title = `${ident} — solgate console`;

  const term = new Terminal({
    convertEol: false,
    cursorBlink: true,
    scrollback: 10_000,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace',
    fontSize: 14,
    disableStdin: true, // until we hold the write lock
    screenReaderMode: false,
  });
  setupTheme($('theme'), (t) => (term.options.theme = THEMES[t]));
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.loadAddon(new WebLinksAddon());
  const host = $('terminal');
  term.open(host);
  term.textarea?.setAttribute('aria-label', `Serial console of ${ident}`);
  // SOL has no window size: a resize changes only this terminal, nothing is sent to the node.
  const refit = () => {
    try {
      fit.fit();
    } catch {
      /* not laid out yet */
    }
  };
  new ResizeObserver(refit).observe(host);
  refit();

  const params = new URLSearchParams(location.search);
  let writer = false;
  let readOnlyWanted = params.has('read-only');
  let myId: string | null = null;
  const stateEl = $('conn');
  const lockEl = $('lock');
  const live = $('live');
  const announce = (text: string) => {
    live.textContent = text;
  };
  const notice = (text: string) => term.write(`\r\n${DIM}[solgate: ${text}]${RESET}\r\n`);

  const take = $<HTMLButtonElement>('take');
  const force = $<HTMLButtonElement>('force');
  const release = $<HTMLButtonElement>('release');
  const brk = $<HTMLButtonElement>('break');
  const reconnect = $<HTMLButtonElement>('reconnect');
  const setButtons = (attached: boolean) => {
    take.disabled = !attached || writer;
    force.disabled = !attached || writer;
    release.disabled = !attached || !writer;
    brk.disabled = !attached || !writer;
    term.options.disableStdin = !attached || !writer;
  };
  setButtons(false);

  const showState = (s: ConnectionState) => {
    const [cls, text] =
      s.kind === 'connecting'
        ? ['busy', s.attempt > 1 ? `Connecting (attempt ${s.attempt})…` : 'Connecting…']
        : s.kind === 'waiting'
          ? ['busy', s.message]
          : s.kind === 'attached'
            ? ['ok', s.owner === s.via ? `Connected to ${s.owner}` : `Connected to ${s.owner} via ${s.via}`]
            : s.kind === 'retrying'
              ? ['warn', `Reconnecting${s.inMs ? ` in ${Math.ceil(s.inMs / 1000)} s` : ''} — ${s.reason}`]
              : ['bad', `Disconnected — ${s.reason}`];
    stateEl.className = `pill ${cls}`;
    stateEl.textContent = text;
    stateEl.dataset.state = s.kind;
    reconnect.hidden = s.kind !== 'closed' && s.kind !== 'retrying';
    if (s.kind !== 'attached') {
      writer = false;
      showLock(null);
      setButtons(false);
    }
    announce(text);
  };

  const showLock = (holderLabel: string | null) => {
    lockEl.dataset.writer = String(writer);
    lockEl.textContent = writer ? 'You have write access' : holderLabel ? `Read-only — ${holderLabel} is typing` : 'Read-only';
  };

  const renderWho = (viewers: ViewerInfo[]) => {
    const list = $<HTMLUListElement>('who');
    list.replaceChildren(
      ...viewers.map((v) => {
        const li = document.createElement('li');
        li.textContent = `${v.you || v.id === myId ? 'you' : (v.name ?? v.address)} · ${v.via}${v.name && v.name !== v.address ? ` · ${v.address}` : ''}${v.writer ? ' · writing' : ''}`;
        li.title = `${v.id} since ${new Date(v.since).toLocaleString()}`;
        if (v.writer) li.className = 'writer';
        return li;
      }),
    );
    $('who-count').textContent = String(viewers.length);
  };

  const onMessage = (m: ServerMessage) => {
    switch (m.type) {
      case 'hello':
        myId = m.clientId;
        writer = m.writer;
        $('node').textContent = m.node.name ?? m.node.uuid;
        document.title = `${m.node.name ?? m.node.uuid} — solgate console`;
        setButtons(true);
        showLock(null);
        conn.send({ type: 'who' });
        break;
      case 'lock': {
        const was = writer;
        writer = m.writer;
        setButtons(true);
        showLock(m.holderLabel);
        if (!was && writer) announce('You have write access');
        break;
      }
      case 'who':
        renderWho(m.viewers);
        break;
      case 'notice':
        notice(m.text);
        break;
      case 'error':
        notice(m.message);
        break;
      case 'state':
        break;
    }
  };

  const conn = new ConsoleConnection(
    ident,
    () => ({ readOnly: readOnlyWanted, forceWrite: false }),
    storedToken,
    { state: showState, data: (b) => term.write(b), message: onMessage, notice },
  );

  const encoder = new TextEncoder();
  term.onData((d) => {
    if (writer) conn.sendBytes(encoder.encode(d));
  });
  term.onBinary((d) => {
    if (writer) conn.sendBytes(Uint8Array.from(d, (c) => c.charCodeAt(0) & 0xff));
  });

  const takeWrite = (forceIt: boolean) => {
    readOnlyWanted = false;
    conn.send({ type: 'take-write', force: forceIt });
  };
  take.addEventListener('click', () => takeWrite(false));
  force.addEventListener('click', () => takeWrite(true));
  release.addEventListener('click', () => conn.send({ type: 'release-write' }));
  brk.addEventListener('click', () => {
    conn.send({ type: 'break' });
    notice('sent a serial break');
    term.focus();
  });
  reconnect.addEventListener('click', () => conn.reconnectNow());
  $('who-refresh').addEventListener('click', () => conn.send({ type: 'who' }));
  const whoPanel = $('who-panel');
  const whoToggle = $<HTMLButtonElement>('who-toggle');
  whoToggle.addEventListener('click', () => {
    const open = whoPanel.hidden;
    whoPanel.hidden = !open;
    whoToggle.setAttribute('aria-expanded', String(open));
    if (open) conn.send({ type: 'who' });
    refit();
  });

  const copy = async () => {
    const sel = term.getSelection();
    if (!sel) return notice('select text first, then copy');
    await navigator.clipboard.writeText(sel).then(
      () => announce('Copied'),
      () => notice('the browser refused access to the clipboard'),
    );
  };
  const paste = async () => {
    if (!writer) return notice('read-only: take the write lock to paste');
    const text = await navigator.clipboard.readText().catch(() => undefined);
    if (text === undefined) return notice('the browser refused access to the clipboard (use Ctrl+V or the context menu)');
    term.paste(text);
  };
  $('copy').addEventListener('click', () => void copy());
  $('paste').addEventListener('click', () => void paste().then(() => term.focus()));

  // Shortcuts only with Ctrl+Shift, which no serial-console program needs; everything else is the node's.
  term.attachCustomKeyEventHandler((ev) => {
    if (ev.type !== 'keydown' || !ev.ctrlKey || !ev.shiftKey || ev.altKey || ev.metaKey) return true;
    const k = ev.key.toLowerCase();
    if (k === 'c' && term.hasSelection()) {
      void copy();
      return false;
    }
    if (k === 'v') {
      void paste();
      ev.preventDefault();
      return false;
    }
    if (k === 'l') {
      take.disabled ? $('who-toggle').focus() : take.focus();
      ev.preventDefault();
      return false;
    }
    if (k === 'k') {
      takeWrite(false);
      ev.preventDefault();
      return false;
    }
    return true;
  });
  document.addEventListener('keydown', (ev) => {
    // from the toolbar, Ctrl+Shift+L goes back into the terminal
    if (ev.ctrlKey && ev.shiftKey && ev.key.toLowerCase() === 'l' && document.activeElement !== term.textarea) {
      ev.preventDefault();
      term.focus();
    }
  });
  window.addEventListener('pagehide', () => conn.close());

  conn.connect();
  term.focus();
}

main().catch((e) => {
  const el = document.getElementById('live');
  if (el) el.textContent = `The page failed to start: ${e instanceof Error ? e.message : String(e)}`;
});
