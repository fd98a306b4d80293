import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { tokenFromProtocols } from '#libs/console-protocol';

/**
 * SOLGATE_AUTH_TOKEN for the web console's data: the JSON endpoints take it in `X-Auth-Token` (as
 * the API does); the WebSocket also takes it as a subprotocol (browsers cannot set headers on a
 * WebSocket). Compared in constant time. The pages and their scripts are public: they hold no data.
 */
export class UiAuth {
  private readonly expected: Buffer | undefined;

  constructor(token: string | undefined) {
    this.expected = token ? digest(token) : undefined;
  }

  get required(): boolean {
    return this.expected !== undefined;
  }

  accepts(given: string | undefined): boolean {
    if (!this.expected) return true;
    return given !== undefined && timingSafeEqual(digest(given), this.expected);
  }

  /** A WebSocket upgrade: `X-Auth-Token`, else the `solgate.token.*` subprotocol. */
  acceptsUpgrade(req: IncomingMessage): boolean {
    if (!this.expected) return true;
    const header = req.headers['x-auth-token'];
    if (typeof header === 'string') return this.accepts(header);
    const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    return this.accepts(tokenFromProtocols(protocols));
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();
