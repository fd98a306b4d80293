import { Command, InvalidArgumentError, Option } from 'commander';
import { CONFIG_VARIABLES, isValidRedisUrl } from '#libs/config';
import { redactRedisUrl } from '#libs/redis';
import { OUTPUT_FORMATS } from './output.js';

const PREFIX_RE = /^[A-Za-z0-9_.-]{1,64}$/;

export function parseSeconds(what: string, min: number, max: number) {
  return (v: string): number => {
    const n = /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${what} must be a number of seconds between ${min} and ${max}.`);
    return n;
  };
}

export function parseInteger(what: string, min: number, max: number) {
  return (v: string): number => {
    const n = /^\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${what} must be an integer between ${min} and ${max}.`);
    return n;
  };
}

export function parseBoolean(what: string) {
  return (v: string | boolean): boolean => {
    if (typeof v === 'boolean') return v;
    const t = v.trim().toLowerCase();
    if (['true', '1', 'yes', 'on', ''].includes(t)) return true;
    if (['false', '0', 'no', 'off'].includes(t)) return false;
    throw new InvalidArgumentError(`${what} must be true or false.`);
  };
}

export function parsePortRange(v: string): { start: number; stop: number } {
  const m = /^(\d{1,5}):(\d{1,5})$/.exec(v.trim());
  if (!m || +m[1] < 1 || +m[2] > 65536 || +m[1] >= +m[2]) throw new InvalidArgumentError('START:STOP with 1 <= START < STOP <= 65536 (STOP exclusive).');
  return { start: +m[1], stop: +m[2] };
}

/**
 * Options every command accepts, wherever they appear on the line (`solgate -o json nodes list` and
 * `solgate nodes list -o json` are the same). Connection settings use the conductors' variables, so
 * a shell with a conductor's environment talks to the same Redis and key prefix. The ring's vnodes
 * and the heartbeat timeout are read from Redis, as the conductors published them.
 */
export function addGlobalOptions(program: Command): Command {
  return program
    .addOption(
      new Option('--redis <url>', 'Redis URL: redis://[user:password@]host:port[/db], rediss://..., redis-sentinel://[password@]h1:p1,h2:p2/master')
        .env('SOLGATE_REDIS_URL')
        .default(CONFIG_VARIABLES.SOLGATE_REDIS_URL)
        .argParser((v) => {
          if (!isValidRedisUrl(v)) throw new InvalidArgumentError(`${redactRedisUrl(v)} is not a Redis URL (redis://, rediss:// or redis-sentinel://).`);
          return v;
        }),
    )
    .addOption(
      new Option('--prefix <prefix>', 'key prefix the conductors use')
        .env('SOLGATE_KEY_PREFIX')
        .default(CONFIG_VARIABLES.SOLGATE_KEY_PREFIX)
        .argParser((v) => {
          if (!PREFIX_RE.test(v)) throw new InvalidArgumentError('letters, digits, _ . - (1-64 characters).');
          return v;
        }),
    )
    .addOption(
      new Option('--connect-timeout <seconds>', 'give up connecting to Redis after this long (exit 1)')
        .env('SOLGATE_REDIS_CONNECT_TIMEOUT')
        .default(5)
        .argParser(parseSeconds('--connect-timeout', 0.1, 120)),
    )
    .addOption(
      new Option('--allow-privileged-ports [bool]', 'accept an ipmi_terminal_port below 1024 (the conductors’ setting)')
        .env('SOLGATE_ALLOW_PRIVILEGED_PORTS')
        .default(false)
        .argParser(parseBoolean('--allow-privileged-ports')),
    )
    .addOption(
      new Option('--allow-ports-outside-range [bool]', 'accept an ipmi_terminal_port outside --port-range (the conductors’ setting)')
        .env('SOLGATE_ALLOW_PORTS_OUTSIDE_RANGE')
        .default(false)
        .argParser(parseBoolean('--allow-ports-outside-range')),
    )
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .addOption(new Option('--no-headers', 'omit the header line of tables'))
    .addOption(new Option('--no-color', 'never colour output (colour is used only on a terminal, and never with NO_COLOR set)'));
}
