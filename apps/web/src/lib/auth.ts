/**
 * The API token, when the conductors require one (SOLGATE_AUTH_TOKEN): asked for once in a login
 * form and kept in sessionStorage (gone when the tab closes; never in a URL, never in a cookie that
 * would ride along on other requests). Data requests send it as X-Auth-Token; the console
 * WebSocket offers it as a subprotocol (see libs/console-protocol).
 */
const KEY = 'solgate.token';

export function storedToken(): string | undefined {
  try {
    return sessionStorage.getItem(KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function storeToken(token: string | undefined): void {
  try {
    if (token === undefined) sessionStorage.removeItem(KEY);
    else sessionStorage.setItem(KEY, token);
  } catch {
    /* storage disabled: the token lives only as long as the page */
  }
}

export class Unauthorized extends Error {}

/** GET a JSON document from the conductor, with the token when there is one. */
export async function getJson<T>(path: string): Promise<T> {
  const token = storedToken();
  const r = await fetch(path, { headers: { Accept: 'application/json', ...(token ? { 'X-Auth-Token': token } : {}) }, cache: 'no-store' });
  if (r.status === 401) throw new Unauthorized('authentication required');
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

export interface SessionInfo {
  authRequired: boolean;
  conductor: string;
  version: string;
}

/**
 * Resolves once the page may talk to the conductor: at once when no token is needed or the stored
 * one works, else after the user signs in through the form in `host` (which is shown meanwhile).
 */
export async function ensureSession(host: HTMLElement, onShow: () => void): Promise<SessionInfo> {
  for (let failed = false; ; failed = true) {
    try {
      return await getJson<SessionInfo>('/ui/api/session');
    } catch (e) {
      if (!(e instanceof Unauthorized)) throw e;
      storeToken(undefined);
      onShow();
      storeToken(await askToken(host, failed && storedToken() === undefined ? 'That token was not accepted.' : undefined));
    }
  }
}

function askToken(host: HTMLElement, error: string | undefined): Promise<string> {
  host.hidden = false;
  host.replaceChildren();
  const form = document.createElement('form');
  form.className = 'login';
  form.setAttribute('aria-labelledby', 'login-title');
  const h = document.createElement('h1');
  h.id = 'login-title';
  h.textContent = 'Sign in to solgate';
  const p = document.createElement('p');
  p.textContent = 'This gateway requires its API token (SOLGATE_AUTH_TOKEN). It is kept for this browser tab only.';
  const label = document.createElement('label');
  label.htmlFor = 'token';
  label.textContent = 'API token';
  const input = document.createElement('input');
  input.id = 'token';
  input.type = 'password';
  input.autocomplete = 'current-password';
  input.required = true;
  const err = document.createElement('p');
  err.className = 'error';
  err.setAttribute('role', 'alert');
  err.textContent = error ?? '';
  const button = document.createElement('button');
  button.type = 'submit';
  button.textContent = 'Sign in';
  form.append(h, p, label, input, err, button);
  host.append(form);
  input.focus();
  return new Promise((resolve) => {
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (!input.value) return;
      host.hidden = true;
      host.replaceChildren();
      resolve(input.value);
    });
  });
}

/** The header's "Sign out" button: shown only when a token is in use. */
export function wireSignOut(button: HTMLButtonElement | null, info: SessionInfo): void {
  if (!button) return;
  button.hidden = !info.authRequired;
  button.addEventListener('click', () => {
    storeToken(undefined);
    location.reload();
  });
}
