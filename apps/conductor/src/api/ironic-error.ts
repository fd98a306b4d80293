import type { Response } from 'express';
import type { ErrorCode } from '#libs/common';

export const STATUS_BY_CODE: Record<ErrorCode, number> = {
  INVALID_INPUT: 400,
  CONSOLE_NOT_SUPPORTED: 400,
  UNAUTHORIZED: 401,
  NODE_NOT_FOUND: 404,
  CONDUCTOR_NOT_FOUND: 404,
  NOT_FOUND: 404,
  NOT_ACCEPTABLE: 406,
  CONFLICT: 409,
  INTERNAL: 500,
  UNAVAILABLE: 503,
};

/** Ironic's error body: the inner document is itself a JSON string. */
export function ironicErrorBody(status: number, faultstring: string): string {
  const inner = JSON.stringify({ faultcode: status < 500 ? 'Client' : 'Server', faultstring, debuginfo: null });
  return JSON.stringify({ error_message: inner });
}

export function sendJson(res: Response, status: number, body: string): void {
  res.status(status);
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}
