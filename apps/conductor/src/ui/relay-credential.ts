import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';

export const RELAY_HEADER = 'x-solgate-relay';
/** How old a relay credential may be (host clocks differ a little; a credential is used at once). */
const MAX_AGE_MS = 5 * 60_000;

export interface RelayClaims {
  /** Member id of the conductor that relays. */
  from: string;
  /** The browser's or CLI's address as the relaying conductor saw it (for `who` and the audit log). */
  clientAddress: string;
}

/**
 * What lets one conductor hand a client's WebSocket to the node's owner: an HMAC over (relaying
 * member, time, client address, request path) keyed by a cluster secret that only holders of Redis
 * access know (created once with SET NX). With it the owner trusts the client address it is told and
 * never relays further; without it a client could pose as a relay. It replaces the API token on
 * that hop, so relaying works the same with and without SOLGATE_AUTH_TOKEN.
 */
export class RelayCredentials {
  private secret: Promise<Buffer> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {}

  private load(refresh = false): Promise<Buffer> {
    if (!this.secret || refresh) {
      const p = (async () => {
        await this.redis.set(this.key, randomBytes(32).toString('base64'), 'NX');
        const v = await this.redis.get(this.key);
        if (!v) throw new Error('relay secret missing in Redis');
        return Buffer.from(v, 'base64');
      })();
      p.catch(() => {
        if (this.secret === p) this.secret = undefined;
      });
      this.secret = p;
    }
    return this.secret;
  }

  async sign(claims: RelayClaims, path: string, nowMs = Date.now()): Promise<string> {
    const ts = String(nowMs);
    const addr = Buffer.from(claims.clientAddress).toString('base64url');
    const mac = mac_(await this.load(), claims.from, ts, addr, path);
    return `v1.${claims.from}.${ts}.${addr}.${mac}`;
  }

  /** The claims of a valid credential for `path`, else undefined. Re-reads the secret once on a mismatch (Redis was replaced). */
  async verify(header: string | undefined, path: string, nowMs = Date.now()): Promise<RelayClaims | undefined> {
    const m = header ? /^v1\.([A-Za-z0-9_.-]+)\.(\d{1,16})\.([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]{43})$/.exec(header) : null;
    if (!m) return undefined;
    const [, from, ts, addr, mac] = m;
    if (Math.abs(nowMs - Number(ts)) > MAX_AGE_MS) return undefined;
    for (const refresh of [false, true]) {
      let secret: Buffer;
      try {
        secret = await this.load(refresh);
      } catch {
        return undefined;
      }
      const want = Buffer.from(mac_(secret, from, ts, addr, path));
      if (timingSafeEqual(want, Buffer.from(mac))) return { from, clientAddress: Buffer.from(addr, 'base64url').toString() };
    }
    return undefined;
  }
}

function mac_(secret: Buffer, from: string, ts: string, addr: string, path: string): string {
  return createHmac('sha256', secret).update(`solgate-relay-v1\n${from}\n${ts}\n${addr}\n${path}`).digest('base64url');
}
