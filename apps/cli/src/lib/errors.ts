import { isSolgateError } from '#libs/common';

/** kubectl's exit codes: 0 ok, 1 failure, 2 usage. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** An error the CLI reports as one line on stderr (never a stack trace) and exits with. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Wrong usage that commander cannot see (e.g. a malformed selector, conflicting flags): exit 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
    this.name = 'UsageError';
  }
}

/** One line and an exit code for anything thrown by a command. */
export function describeError(e: unknown): { message: string; exitCode: number } {
  if (e instanceof CliError) return { message: e.message, exitCode: e.exitCode };
  if (isSolgateError(e)) return { message: e.message, exitCode: EXIT_FAILURE }; // validation, conflicts: the API's wording
  const message = e instanceof Error ? e.message : String(e);
  return { message: message.split('\n')[0] || 'unknown error', exitCode: EXIT_FAILURE };
}

/** The one wording for an unknown node. */
export const nodeNotFound = (ident: string) => new CliError(`node ${ident} not found`);
