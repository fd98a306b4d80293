import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { errorMessage, isSolgateError } from '#libs/common';
import type { Logger } from '#libs/logging';
import { classifyRedisError } from '#libs/redis';
import { ironicErrorBody, sendJson, STATUS_BY_CODE } from './ironic-error.js';

/** A 5xx of one kind is logged at most this often (with the count since): an outage must not flood the log. */
const LOG_EVERY_MS = 10_000;

/**
 * The only place that turns errors into HTTP: domain errors by their stable code, framework and
 * body-parser errors by status, Redis failures as 503 (down, out of memory) or 400 (a number Redis
 * refused), everything else as a 500 that is logged (never echoing internals). Malformed JSON is a
 * client error (400) here, where Ironic answers 500 — but only when it came from parsing the body:
 * a SyntaxError from anywhere else is our fault, a 500.
 */
@Catch()
export class IronicExceptionFilter implements ExceptionFilter {
  private readonly logged = new Map<string, { atMs: number; suppressed: number }>();

  constructor(private readonly log: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    if (res.headersSent) return;
    const { status, message, logKind } = describe(exception);
    if (status >= 500) this.logRateLimited(logKind ?? `${status}:${errorMessage(exception)}`, exception, req);
    if (status === 503) res.setHeader('Retry-After', '5');
    sendJson(res, status, ironicErrorBody(status, message));
  }

  private logRateLimited(kind: string, exception: unknown, req: Request): void {
    const now = Date.now();
    const seen = this.logged.get(kind);
    if (seen && now - seen.atMs < LOG_EVERY_MS) {
      seen.suppressed++;
      return;
    }
    if (this.logged.size > 100) this.logged.clear();
    this.logged.set(kind, { atMs: now, suppressed: 0 });
    this.log.error({ err: errorMessage(exception), method: req.method, path: req.path, suppressedSinceLast: seen?.suppressed ?? 0 }, 'request failed');
  }
}

interface Described {
  status: number;
  message: string;
  /** Groups log lines of one cause (rate limiting). */
  logKind?: string;
}

const bodyError = (e: unknown) => (e as { type?: string } | null)?.type;

export function describe(exception: unknown): Described {
  if (isSolgateError(exception)) return { status: STATUS_BY_CODE[exception.code], message: exception.message, logKind: exception.code };
  const type = bodyError(exception);
  if (type === 'entity.parse.failed') return { status: 400, message: `Malformed JSON in the request body: ${errorMessage(exception)}` };
  if (type === 'entity.too.deep') return { status: 400, message: errorMessage(exception) };
  if (type === 'entity.too.large' || (exception as { status?: number })?.status === 413) return { status: 413, message: 'The request body is too large.' };
  if (type === 'charset.unsupported' || type === 'encoding.unsupported') return { status: 415, message: errorMessage(exception) };
  const http = exception as { status?: unknown; expose?: unknown } | null;
  if (!(exception instanceof HttpException) && typeof http?.status === 'number' && http.status >= 400 && http.status < 500 && http.expose === true)
    return { status: http.status, message: errorMessage(exception) }; // any other body-parser / http-errors client error
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const cause = (exception as { cause?: unknown }).cause;
    if (status === 404) return { status, message: 'Resource could not be found.' };
    if (status === 400 && (cause instanceof SyntaxError || bodyError(cause) === 'entity.parse.failed'))
      return { status, message: `Malformed JSON in the request body: ${cause instanceof Error ? cause.message : exception.message}` };
    if (status === 413) return { status, message: 'The request body is too large.' };
    if (status === 405) return { status, message: 'The method is not allowed for this resource.' };
    return { status, message: exception.message };
  }
  switch (classifyRedisError(exception)) {
    case 'oom':
      return { status: 503, message: 'The service cannot store anything right now: its Redis is out of memory (maxmemory reached). Nothing was changed; retry later.', logKind: 'redis-oom' };
    case 'unavailable':
      return { status: 503, message: 'The service cannot reach its Redis right now. Retry later.', logKind: 'redis-unavailable' };
    case 'out-of-range':
      return { status: 400, message: 'A numeric parameter is out of range.' };
  }
  return { status: 500, message: 'An internal error occurred; it has been logged.' };
}
