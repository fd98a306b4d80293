import { randomUUID, createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { MAX_VERSION, MIN_VERSION, negotiate, versionString, type ApiVersion } from '#libs/ironic';
import { ironicErrorBody, sendJson } from './ironic-error.js';

declare module 'express' {
  interface Request {
    apiVersion?: ApiVersion;
  }
}

/**
 * Runs before anything else on /v1: negotiates the microversion (406 as Ironic words it), stamps
 * the version and request-id headers every response carries (errors included), and checks
 * X-Auth-Token when SOLGATE_AUTH_TOKEN is set (compared in constant time; the version document
 * stays open so clients can negotiate).
 */
export function ironicHeaders(authToken: string | undefined) {
  const expected = authToken ? createHash('sha256').update(authToken).digest() : undefined;
  return (req: Request, res: Response, next: NextFunction) => {
    if (!req.path.startsWith('/v1')) return next();
    const n = negotiate(req.header('X-OpenStack-Ironic-API-Version'));
    if (!n.ok) {
      if (n.kind === 'invalid') {
        return sendJson(res, 406, JSON.stringify({ error_message: JSON.stringify({ code: 406, title: 'Not Acceptable', description: 'Invalid value for X-OpenStack-Ironic-API-Version header' }) }));
      }
      res.setHeader('X-OpenStack-Ironic-API-Minimum-Version', MIN_VERSION);
      res.setHeader('X-OpenStack-Ironic-API-Maximum-Version', MAX_VERSION);
      const description = `Mutually exclusive versions requested. Version ${n.requested} requested but not supported by this service. The supported version range is: [${MIN_VERSION}, ${MAX_VERSION}].`;
      return sendJson(res, 406, JSON.stringify({ error_message: JSON.stringify({ code: 406, title: 'Not Acceptable', description }) }));
    }
    req.apiVersion = n.version;
    res.setHeader('X-OpenStack-Ironic-API-Minimum-Version', MIN_VERSION);
    res.setHeader('X-OpenStack-Ironic-API-Maximum-Version', MAX_VERSION);
    res.setHeader('X-OpenStack-Ironic-API-Version', versionString(n.version));
    res.setHeader('Openstack-Request-Id', `req-${randomUUID()}`);
    const isVersionDoc = req.method === 'GET' && (req.path === '/v1' || req.path === '/v1/');
    if (expected && !isVersionDoc) {
      const given = req.header('X-Auth-Token');
      const ok = given !== undefined && timingSafeEqual(createHash('sha256').update(given).digest(), expected);
      if (!ok) return sendJson(res, 401, ironicErrorBody(401, 'The request you have made requires authentication.'));
    }
    next();
  };
}
