import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { MAX_VERSION, MIN_VERSION, negotiate, versionString, type ApiVersion } from '#libs/ironic';
import { sendJson } from './ironic-error.js';

declare module 'express' {
  interface Request {
    apiVersion?: ApiVersion;
  }
}

/**
 * Everything the router would send to a /v1 controller — matched like the router matches (case
 * does not matter): otherwise `/V1/nodes` reached a handler with no negotiated version.
 */
const V1_PATH = /^\/v1(\/|$)/i;

/**
 * Runs after authentication (auth.middleware.ts) and before routing on /v1: negotiates the
 * microversion (406 as Ironic words it) and stamps the version and request-id headers every
 * response carries (errors included).
 */
export function ironicHeaders() {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!V1_PATH.test(req.path)) return next();
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
    next();
  };
}
