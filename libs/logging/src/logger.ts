import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * The one pino logger of a process (JSON lines on stderr, so stdout stays free for data in the CLI).
 * Redaction is a second line of defence: code never logs driver_info or passwords in the first place.
 */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino(
    {
      level,
      base: { ...base },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'password',
          '*.password',
          'ipmi_password',
          '*.ipmi_password',
          '*.*.ipmi_password',
          'driver_info',
          '*.driver_info',
          'authToken',
          '*.authToken',
        ],
        censor: '******',
      },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}
