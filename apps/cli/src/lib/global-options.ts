import { Command, InvalidArgumentError, Option } from 'commander';
import {
  CONFIG,
  CONFIG_VARIABLES,
  integerRule,
  isValidRedisUrl,
  KEY_PREFIX_RE,
  KEY_PREFIX_RULE,
  parseInteger as parseIntegerValue,
  parseSeconds as parseSecondsValue,
  secondsRule,
  type ConfigVariableName,
} from '#libs/config';
import { redactRedisUrl } from '#libs/redis';
import { OUTPUT_FORMATS } from './output.js';

/** A commander parser for a duration in seconds (libs/config's parser and wording). */
export function parseSeconds(what: string, min: number, max: number) {
  return (v: string): number => {
    const n = parseSecondsValue(v, min, max);
    if (n === undefined) throw new InvalidArgumentError(`${what} ${secondsRule(min, max)}.`);
    return n;
  };
}

/** A commander parser for an integer (libs/config's parser and wording). */
export function parseInteger(what: string, min: number, max: number) {
  return (v: string): number => {
    const n = parseIntegerValue(v, min, max);
    if (n === undefined) throw new InvalidArgumentError(`${what} ${integerRule(min, max)}.`);
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

/** The limits a conductor accepts for one of its duration or integer variables, so the CLI accepts the same. */
function limits(name: ConfigVariableName): { min: number; max: number } {
  const p = CONFIG[name].parser;
  if (p.kind !== 'seconds' && p.kind !== 'integer') throw new Error(`${name} has no numeric limits`);
  return p;
}
const secondsOf = (what: string, name: ConfigVariableName) => parseSeconds(what, limits(name).min, limits(name).max);

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
          if (!KEY_PREFIX_RE.test(v)) throw new InvalidArgumentError(`${KEY_PREFIX_RULE}.`);
          return v;
        }),
    )
    .addOption(
      new Option('--connect-timeout <seconds>', 'give up connecting to Redis after this long (exit 1)')
        .env('SOLGATE_REDIS_CONNECT_TIMEOUT')
        .default(Number(CONFIG_VARIABLES.SOLGATE_REDIS_CONNECT_TIMEOUT))
        .argParser(secondsOf('--connect-timeout', 'SOLGATE_REDIS_CONNECT_TIMEOUT')),
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
