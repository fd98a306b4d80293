/**
 * Domain errors with stable codes. Libraries throw these; only the API layer maps a code to an
 * HTTP status and Ironic's error body, and only the CLI maps it to an exit code.
 */
export type ErrorCode =
  | 'INVALID_INPUT' // 400: the request or a field in it is wrong
  | 'NOT_ACCEPTABLE' // 406: e.g. a field that the requested microversion does not know
  | 'NODE_NOT_FOUND' // 404
  | 'CONDUCTOR_NOT_FOUND' // 404
  | 'NOT_FOUND' // 404: any other resource
  | 'CONFLICT' // 409: duplicate name/uuid, node busy
  | 'CONSOLE_NOT_SUPPORTED' // 400 as Ironic does
  | 'UNAUTHORIZED' // 401
  | 'UNAVAILABLE' // 503: Redis unreachable, no conductor for the node's group
  | 'INTERNAL'; // 500

export class SolgateError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'SolgateError';
  }
}

export const invalidInput = (message: string, details?: Record<string, unknown>) =>
  new SolgateError('INVALID_INPUT', message, details);

export const isSolgateError = (e: unknown): e is SolgateError => e instanceof SolgateError;

/** Message of any thrown value, for logs and last_error. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
