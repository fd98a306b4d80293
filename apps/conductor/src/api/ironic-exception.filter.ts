import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { errorMessage, isSolgateError } from '#libs/common';
import type { Logger } from '#libs/logging';
import { ironicErrorBody, sendJson, STATUS_BY_CODE } from './ironic-error.js';

/**
 * The only place that turns errors into HTTP: domain errors by their stable code, framework
 * errors by status, everything else as a 500 that is logged once (never echoing internals).
 * Malformed JSON is a client error (400) here, where Ironic answers 500.
 */
@Catch()
export class IronicExceptionFilter implements ExceptionFilter {
  constructor(private readonly log: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    if (res.headersSent) return;
    let status = 500;
    let message = 'An internal error occurred; it has been logged.';
    if (isSolgateError(exception)) {
      status = STATUS_BY_CODE[exception.code];
      message = exception.message;
    } else if (exception instanceof HttpException) {
      status = exception.getStatus();
      const cause = (exception as { cause?: unknown }).cause;
      if (status === 404) message = 'Resource could not be found.';
      else if (status === 400 && (cause instanceof SyntaxError || /JSON|Unexpected/.test(exception.message)))
        message = `Malformed JSON in the request body: ${cause instanceof Error ? cause.message : exception.message}`;
      else if (status === 413) message = 'The request body is too large.';
      else if (status === 405) message = 'The method is not allowed for this resource.';
      else message = exception.message;
    } else if (exception instanceof SyntaxError || (exception as { type?: string })?.type === 'entity.parse.failed') {
      status = 400;
      message = `Malformed JSON in the request body: ${errorMessage(exception)}`;
    } else if ((exception as { status?: number })?.status === 413) {
      status = 413;
      message = 'The request body is too large.';
    }
    if (status >= 500) this.log.error({ err: errorMessage(exception), method: req.method, path: req.path }, 'request failed');
    sendJson(res, status, ironicErrorBody(status, message));
  }
}
