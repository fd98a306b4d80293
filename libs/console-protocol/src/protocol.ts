/**
 * The web console's WebSocket protocol, shared by the conductor (apps/conductor/src/ui), the browser
 * page (apps/web) and `solgate console attach` (apps/cli). Pure TypeScript: no Node or DOM API, so
 * every side can import it.
 *
 * Frames: console bytes travel as binary frames both ways (node output to the client, keystrokes to
 * the node); everything else is a JSON text frame with a `type`. There is deliberately no resize
 * message: Serial-over-LAN has no window size, so a client resizes only its own terminal.
 *
 * Authentication (when SOLGATE_AUTH_TOKEN is set) happens on the upgrade request, never in the URL:
 * scripts send `X-Auth-Token`; browsers, which cannot set headers on a WebSocket, offer the token
 * as a second subprotocol `solgate.token.<base64url(token)>` (Kubernetes' precedent for bearer
 * tokens on WebSockets). The server always answers with the plain `solgate.v1` subprotocol.
 */

export const PROTOCOL = 'solgate.v1';
export const TOKEN_PROTOCOL_PREFIX = 'solgate.token.';

/** Where a node's console WebSocket lives (on any conductor's API port). */
export const consoleWsPath = (ident: string) => `/ui/nodes/${encodeURIComponent(ident)}/console/ws`;
export const CONSOLE_WS_PATH_RE = /^\/ui\/nodes\/([^/]+)\/console\/ws$/;

/** How a client asks to attach (query string of the WebSocket URL: no secret in it). */
export interface AttachOptions {
  /** Never take the write lock, even when it is free. */
  readOnly?: boolean;
  /** Take the write lock from whoever holds it (they are told). */
  forceWrite?: boolean;
  /** `web` (default) or `cli`: shown in `who`. */
  client?: 'web' | 'cli';
  /** What others see in `who` and notices (letters, digits, _ . @ -). */
  name?: string;
}

export function attachQuery(o: AttachOptions): string {
  const q: string[] = [];
  if (o.readOnly) q.push('read-only=1');
  if (o.forceWrite) q.push('force-write=1');
  if (o.client) q.push(`client=${o.client}`);
  if (o.name) q.push(`name=${encodeURIComponent(o.name)}`);
  return q.length ? `?${q.join('&')}` : '';
}

export function parseAttachQuery(search: URLSearchParams): AttachOptions {
  const flag = (name: string) => ['1', 'true', 'yes'].includes((search.get(name) ?? '').toLowerCase());
  return { readOnly: flag('read-only'), forceWrite: flag('force-write') };
}

/** One client of a node's console, as `who` lists it. */
export interface ViewerInfo {
  id: string;
  /** What notices call it (the CLI user's name, else its address). */
  name?: string;
  /** tcp (socat / Nova), web (browser), cli (`solgate console attach`), shellinabox. */
  via: string;
  /** Client address as the gateway saw it. */
  address: string;
  /** When it attached (ms since the epoch). */
  since: number;
  writer: boolean;
  /** This is the receiving client itself. */
  you?: boolean;
}

/** Connection phases the page shows (and announces through its live region). */
export type ConsolePhase = 'waiting' | 'attached';

// ---- server → client --------------------------------------------------------------------------
export type ServerMessage =
  /** Attached: what the client needs to draw its header. Replayed history follows as binary frames. */
  | {
      type: 'hello';
      node: { uuid: string; name: string | null };
      /** Conductor that runs the console (and its broker). */
      owner: string;
      /** Conductor the client is connected to (relays to the owner when different). */
      via: string;
      clientId: string;
      writer: boolean;
      /** Bytes of history that follow before live output. */
      replayBytes: number;
    }
  /** Not attached yet: the console is starting or moving; the server keeps waiting. */
  | { type: 'state'; phase: ConsolePhase; message: string }
  /** The write lock changed. `holder` is a client id or null; `forced` when taken by force. */
  | { type: 'lock'; writer: boolean; holder: string | null; holderLabel: string | null; forced?: boolean; by?: string | null }
  | { type: 'who'; viewers: ViewerInfo[] }
  /** A one-line notice for the user (also written into the terminal by the page). */
  | { type: 'notice'; text: string }
  | { type: 'error'; message: string };

// ---- client → server --------------------------------------------------------------------------
export type ClientMessage =
  | { type: 'take-write'; force?: boolean }
  | { type: 'release-write' }
  | { type: 'break' }
  | { type: 'who' };

/** Close codes (4000-4999 are the application's). */
export const CLOSE = {
  /** The client detached (`~.`, closed the page). */
  DETACHED: 4000,
  /** The console moved to another conductor (handover, crash of the owner): reconnect at once. */
  MOVING: 4001,
  /** The console was disabled: nothing to reconnect to until someone enables it. */
  DISABLED: 4002,
  /** No such node (or it has no console interface). */
  NOT_FOUND: 4004,
  /** The request was malformed (bad options, a text frame that is not a message). */
  BAD_REQUEST: 4400,
  /** The console did not come up within the server's wait: retry with backoff. */
  UNAVAILABLE: 4503,
} as const;

/** Codes after which a client should reconnect by itself. */
export function shouldReconnect(code: number): boolean {
  return code !== CLOSE.DETACHED && code !== CLOSE.DISABLED && code !== CLOSE.NOT_FOUND && code !== CLOSE.BAD_REQUEST && code !== 1000;
}

export function parseClientMessage(text: string): ClientMessage | undefined {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!m || typeof m !== 'object') return undefined;
  const t = (m as { type?: unknown }).type;
  if (t === 'take-write') return { type: 'take-write', force: (m as { force?: unknown }).force === true };
  if (t === 'release-write' || t === 'break' || t === 'who') return { type: t };
  return undefined;
}

export function parseServerMessage(text: string): ServerMessage | undefined {
  try {
    const m = JSON.parse(text) as ServerMessage;
    return m && typeof m === 'object' && typeof m.type === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}

// ---- token as a subprotocol (browsers) --------------------------------------------------------
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** base64url of the UTF-8 bytes, no padding (a valid HTTP token, as a subprotocol must be). */
export function tokenProtocol(token: string): string {
  const bytes = new TextEncoder().encode(token);
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += B64URL[(n >> 18) & 63] + B64URL[(n >> 12) & 63];
    if (i + 1 < bytes.length) out += B64URL[(n >> 6) & 63];
    if (i + 2 < bytes.length) out += B64URL[n & 63];
  }
  return TOKEN_PROTOCOL_PREFIX + out;
}

/** The token a client offered as a subprotocol, or undefined. */
export function tokenFromProtocols(protocols: Iterable<string>): string | undefined {
  for (const p of protocols) {
    if (!p.startsWith(TOKEN_PROTOCOL_PREFIX)) continue;
    const s = p.slice(TOKEN_PROTOCOL_PREFIX.length);
    if (!/^[A-Za-z0-9_-]*$/.test(s)) return undefined;
    const bytes: number[] = [];
    let acc = 0;
    let bits = 0;
    for (const c of s) {
      acc = (acc << 6) | B64URL.indexOf(c);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        bytes.push((acc >> bits) & 0xff);
      }
    }
    return new TextDecoder().decode(new Uint8Array(bytes));
  }
  return undefined;
}
