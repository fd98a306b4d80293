import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { ironicErrorBody, sendJson } from './ironic-error.js';

/**
 * The only requests answered without the token (when SOLGATE_AUTH_TOKEN is set): GET/HEAD of these
 * exact request targets. The version documents (clients negotiate a microversion before they
 * authenticate), the probes, and /metrics (counts and durations only: no node ids, names or
 * addresses; Prometheus scrapers rarely carry an Ironic token — keep it on a private network).
 * Anything else, including another spelling of these (`/V1`, `//v1`, `/v1/.`, `%2F`...), needs the
 * token: deny by default, so a route added tomorrow is protected without anyone remembering to.
 */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set(['/', '/v1', '/v1/', '/healthz', '/readyz', '/metrics']);

export const UNAUTHENTICATED_MESSAGE = 'The request you have made requires authentication.';

/** The raw request target without its query, exactly as the client sent it. */
function requestTarget(req: Request): string {
  const url = req.originalUrl ?? req.url ?? '';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/**
 * Authentication, before anything else runs (routing, body parsing, version negotiation): every
 * request needs `X-Auth-Token` (or `Authorization: Bearer`) equal to SOLGATE_AUTH_TOKEN, compared
 * in constant time, unless it is a GET/HEAD of a PUBLIC_ROUTES target. Refused requests get 401 with
 * Ironic's error body whatever the path, so they learn nothing about which resources exist, reach
 * no handler, touch no Redis and log nothing. Their body is not read: the connection is closed.
 */
export function authenticate(authToken: string | undefined) {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  const expected = authToken ? digest(authToken) : undefined;
  const body = ironicErrorBody(401, UNAUTHENTICATED_MESSAGE);
  return (req: Request, res: Response, next: NextFunction) => {
    if (!expected) return next();
    if ((req.method === 'GET' || req.method === 'HEAD') && PUBLIC_ROUTES.has(requestTarget(req))) return next();
    const bearer = /^Bearer (.+)$/i.exec(req.header('Authorization') ?? '')?.[1];
    const given = req.header('X-Auth-Token') ?? bearer;
    if (given !== undefined && timingSafeEqual(digest(given), expected)) return next();
    // An unread request body would otherwise be read and discarded to keep the connection alive.
    if (req.header('Content-Length') !== undefined || req.header('Transfer-Encoding') !== undefined) res.setHeader('Connection', 'close');
    sendJson(res, 401, body);
  };
}
