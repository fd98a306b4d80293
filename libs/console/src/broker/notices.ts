/**
 * Why a console stops on this conductor (the ConsoleDriver's cleanup reason), and what each viewer
 * is told, on its own line, before its connection closes.
 */
import type { ConsoleStopReason } from '../console-driver.js';

export type { ConsoleStopReason };

export const MOVING_NOTICE = '[solgate: console moving to another conductor — reconnect]';
export const DISABLED_NOTICE = '[solgate: console disabled]';

export function stopNotice(reason: ConsoleStopReason | undefined): string {
  switch (reason) {
    case 'disabled':
      return DISABLED_NOTICE;
    case 'deleted':
      return '[solgate: node deleted; console disabled]';
    case 'handover':
    case 'fenced':
    case 'shutdown':
      return MOVING_NOTICE;
    case 'restart':
      return '[solgate: console restarting — reconnect]';
    case 'failed':
      return '[solgate: console failed on this conductor — reconnect]';
    default:
      return '[solgate: console closed — reconnect]';
  }
}
