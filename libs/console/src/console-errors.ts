/**
 * Typed failures of the console start path, so the reconciler decides on a `reason`, never on the
 * wording of a message. The one place that reads socat's own words is SocatConsoleProcess.start().
 */

/** socat did not come up: its port was taken by another program, it exited, or it never listened. */
export type SocatStartFailure = 'ADDRESS_IN_USE' | 'EXITED' | 'TIMEOUT';

export class SocatStartError extends Error {
  constructor(
    readonly reason: SocatStartFailure,
    readonly port: number,
    message: string,
  ) {
    super(message);
    this.name = 'SocatStartError';
  }
}

export const isSocatStartError = (e: unknown): e is SocatStartError => e instanceof SocatStartError;
