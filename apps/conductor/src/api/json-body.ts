import type { IncomingMessage } from 'node:http';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { ironicErrorBody, sendJson } from './ironic-error.js';

/** Largest request body accepted (a node with a generous `extra` is a few KB). */
export const MAX_BODY = '1mb';
/** Deepest nesting of arrays/objects accepted: Ironic documents nest a few levels; 32 is generous. */
export const MAX_JSON_DEPTH = 32;
/** Media types parsed as JSON: application/json and the +json family (JSON Patch, Ironic's vnd type). */
const JSON_TYPES = ['application/json', 'application/*+json'];

/**
 * How deep `text` nests arrays and objects, counted without parsing (a linear scan that skips
 * strings), stopping as soon as it passes `limit`: JSON.parse recurses, and a megabyte of `[`
 * overflows its stack (a 500) before any validation could refuse it.
 */
export function jsonNestingExceeds(text: Buffer, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

class TooDeepError extends Error {
  readonly status = 400;
  readonly expose = true;
  readonly type = 'entity.too.deep';
}

/** Has a body (a length other than 0, or chunked). */
function hasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return (len !== undefined && len !== '0') || req.headers['transfer-encoding'] !== undefined;
}

function isJsonType(contentType: string | undefined): boolean {
  const t = (contentType ?? '').split(';')[0].trim().toLowerCase();
  return t === 'application/json' || /^application\/[a-z0-9.+-]*\+json$/.test(t);
}

/**
 * Request bodies: JSON only (a body of another media type is a 415 rather than silently ignored),
 * at most MAX_BODY (413), nested at most MAX_JSON_DEPTH levels (400, checked before parsing),
 * malformed JSON a 400 — all in Ironic's error body (ironic-exception.filter.ts).
 */
export function useJsonBody(app: NestExpressApplication): void {
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (!hasBody(req) || isJsonType(req.header('Content-Type'))) return next();
    res.setHeader('Connection', 'close'); // the body is not read
    sendJson(res, 415, ironicErrorBody(415, 'The request body must be JSON (Content-Type: application/json).'));
  });
  const options = {
    limit: MAX_BODY,
    type: JSON_TYPES,
    verify: (_req: IncomingMessage, _res: unknown, buf: Buffer) => {
      if (jsonNestingExceeds(buf, MAX_JSON_DEPTH)) throw new TooDeepError(`The JSON body nests deeper than ${MAX_JSON_DEPTH} levels.`);
    },
  };
  // Nest's type leaves `verify` out (it uses it for rawBody, which we do not enable); express.json takes it.
  app.useBodyParser('json', options as Parameters<NestExpressApplication['useBodyParser']>[1]);
}
