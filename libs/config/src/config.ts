import { existsSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { isIP } from 'node:net';
import { CONDUCTOR_GROUP_RE, CONDUCTOR_GROUP_RULE, normalizeGroup } from '#libs/common';

/**
 * The only reader of process.env. Every variable is parsed and validated once, at boot; all
 * problems are collected and reported together so an operator fixes them in one go.
 * Durations are read in seconds (decimals allowed) and kept in milliseconds (`...Ms`).
 */
export interface SolgateConfig {
  redisUrl: string;
  keyPrefix: string;
  conductorId: string;
  conductorGroup: string;
  apiHost: string;
  apiPort: number;
  /** Base URL other conductors and clients use to reach this conductor's API (Location headers, liveness checks). */
  apiUrl: string;
  socatAddress: string;
  portRange: { start: number; stop: number };
  terminalPidDir: string;
  terminalTimeoutS: number;
  subprocessCheckingIntervalMs: number;
  subprocessTimeoutMs: number;
  killTimeoutMs: number;
  authToken: string | undefined;
  logLevel: LogLevel;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  ringVnodes: number;
  reconcileIntervalMs: number;
  startConcurrency: number;
  failureDetectorIntervalMs: number;
  redisConnectTimeoutMs: number;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Default hashring "vnode count" per member (each vnode gives 4 ketama points, so 640 points).
 * Measured by bench/ring-balance over 100,000 node uuids (docs/benchmarks.md): worst max/mean load
 * 1.09 at 10 members and 1.10 at 30, against targets of 1.10 and 1.15; 80 met the 30-member target
 * only barely (1.147), 320 gains little and builds slower.
 */
export const DEFAULT_RING_VNODES = 160;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** Redis key prefixes (the conductors' SOLGATE_KEY_PREFIX, the CLI's --prefix). */
export const KEY_PREFIX_RE = /^[A-Za-z0-9_.-]{1,64}$/;
export const KEY_PREFIX_RULE = 'letters, digits, _ . - (1-64 characters)';
/** Paths that end up inside socat's address syntax: no characters socat treats as syntax. */
export const SAFE_PATH_RE = /^\/[A-Za-z0-9_./-]*$/;

/** How a variable's text becomes a value; every default is written here and nowhere else. */
export type ConfigParser =
  | { kind: 'string'; default: string; valid?: (v: string) => boolean; rule?: string }
  /** A default computed from variables read before it (see loadConfig); `valid` as for strings. */
  | { kind: 'derived'; valid?: (v: string) => boolean; rule?: string }
  | { kind: 'integer'; default: number; min: number; max: number }
  /** Seconds in the environment (decimals allowed), milliseconds in SolgateConfig. */
  | { kind: 'seconds'; default: number; min: number; max: number };

export interface ConfigVariable {
  parser: ConfigParser;
  /** The README's Default column (markdown), when it is not just the parser's default in backticks. */
  shownDefault?: string;
  /** The README's Meaning column (markdown). */
  doc: string;
}

const oneOf = (values: readonly string[]) => (v: string) => values.includes(v);

/**
 * Every variable the conductor reads: parser, default and documentation in one table. loadConfig
 * reads through it, the CLI takes its defaults and limits from it, the Helm chart test checks the
 * names it renders against it, and a unit test checks the README's configuration table against it.
 */
const VARIABLES = {
  SOLGATE_REDIS_URL: {
    parser: {
      kind: 'string',
      default: 'redis://127.0.0.1:6379',
      valid: (v: string) => isValidRedisUrl(v),
      rule: 'expected redis://[user:password@]host:port[/db], rediss://... or redis-sentinel://[password@]host:port[,host:port...]/master-name',
    },
    doc: '`redis://[user:password@]host:port[/db]`, `rediss://…` (TLS), or Sentinel: `redis-sentinel://[password@]host:26379[,host:26379…]/<master-name>[/db]`',
  },
  SOLGATE_KEY_PREFIX: {
    parser: { kind: 'string', default: 'solgate', valid: (v: string) => KEY_PREFIX_RE.test(v), rule: KEY_PREFIX_RULE },
    doc: 'every Redis key lives under `<prefix>:`',
  },
  SOLGATE_CONDUCTOR_ID: {
    parser: { kind: 'derived', valid: (v: string) => ID_RE.test(v), rule: 'letters, digits, _ . - (starting with a letter or digit, at most 128 characters)' },
    shownDefault: 'host name',
    doc: 'stable member id (a StatefulSet pod name); a fresh incarnation is added per process start',
  },
  SOLGATE_CONDUCTOR_GROUP: {
    parser: { kind: 'string', default: '', valid: (v: string) => CONDUCTOR_GROUP_RE.test(v), rule: CONDUCTOR_GROUP_RULE },
    doc: "Ironic's conductor group: nodes with `conductor_group` X map only onto live conductors of group X (case-insensitive, used lower-cased like nodes' groups)",
  },
  SOLGATE_API_HOST: {
    parser: { kind: 'string', default: '0.0.0.0', valid: (v: string) => isIP(v) !== 0 || /^[A-Za-z0-9.-]+$/.test(v), rule: 'must be an IP address or host name' },
    doc: 'API bind address',
  },
  SOLGATE_API_PORT: { parser: { kind: 'integer', default: 6385, min: 1, max: 65535 }, doc: 'API port' },
  SOLGATE_API_URL: {
    parser: { kind: 'derived', valid: (v: string) => /^https?:\/\/[^\s/]+$/.test(v), rule: 'must be http(s)://host[:port] with no path' },
    shownDefault: '`http://<api host, else socat address>:<port>`',
    doc: "advertised API URL (links, Location headers, and the other conductors' crash check)",
  },
  SOLGATE_SOCAT_ADDRESS: {
    parser: {
      kind: 'string',
      default: '127.0.0.1',
      valid: (v: string) => isIP(v) !== 0,
      rule: 'must be an IPv4 or IPv6 address (it is both the bind address and the host in console URLs)',
    },
    doc: 'IP address consoles bind to; also the host in console URLs',
  },
  SOLGATE_PORT_RANGE: {
    parser: { kind: 'string', default: '10000:20000', valid: (v: string) => parsePortRange(v) !== undefined, rule: 'must be START:STOP with 1 <= START < STOP <= 65536 (STOP exclusive)' },
    doc: "console ports `START:STOP` (STOP exclusive); a node's `ipmi_terminal_port` wins",
  },
  SOLGATE_TERMINAL_PID_DIR: {
    parser: { kind: 'derived', valid: (v: string) => SAFE_PATH_RE.test(v), rule: 'must be an absolute path of letters, digits, _ . - and /' },
    shownDefault: '`/dev/shm/solgate-<conductor id>` (tmpfs; `/tmp/…` where there is no `/dev/shm`)',
    doc: "private directory (0700) for pid, lease, argv and password (0600) files, and native consoles' sockets (0600); on tmpfs, passwords never reach a disk",
  },
  SOLGATE_TERMINAL_TIMEOUT: {
    parser: { kind: 'seconds', default: 600, min: 0, max: 86400 * 7 },
    doc: 'socat `-T`: close a console connection idle this long; 0 = never',
  },
  SOLGATE_SUBPROCESS_CHECKING_INTERVAL: {
    parser: { kind: 'seconds', default: 1, min: 0.001, max: 60 },
    doc: 'how often every running console is checked to still listen (kernel socket table, no connection); readiness itself is event-driven (socat reports when it listens)',
  },
  SOLGATE_SUBPROCESS_TIMEOUT: { parser: { kind: 'seconds', default: 10, min: 0.01, max: 600 }, doc: 'how long a console may take to start listening' },
  SOLGATE_KILL_TIMEOUT: { parser: { kind: 'seconds', default: 1, min: 0, max: 60 }, doc: 'SIGTERM → SIGKILL delay when stopping a console' },
  SOLGATE_AUTH_TOKEN: {
    parser: { kind: 'string', default: '' },
    shownDefault: 'unset',
    doc: 'when set, every `/v1` call except the version document needs `X-Auth-Token` with this value (constant-time compare), else 401',
  },
  SOLGATE_LOG_LEVEL: {
    parser: { kind: 'string', default: 'info', valid: oneOf(LOG_LEVELS), rule: `one of ${LOG_LEVELS.join(', ')}` },
    doc: '`fatal error warn info debug trace silent` (JSON lines on stderr)',
  },
  SOLGATE_HEARTBEAT_INTERVAL: { parser: { kind: 'seconds', default: 1, min: 0.05, max: 60 }, doc: 'heartbeat period' },
  SOLGATE_HEARTBEAT_TIMEOUT: {
    parser: { kind: 'seconds', default: 5, min: 0.2, max: 600 },
    doc: "a member silent this long (Redis's clock) is dead; its own lease is `timeout − interval`",
  },
  SOLGATE_RING_VNODES: {
    parser: { kind: 'integer', default: DEFAULT_RING_VNODES, min: 1, max: 10000 },
    doc: 'hashring vnode count per member (×4 points); chosen from a measured balance',
  },
  SOLGATE_RECONCILE_INTERVAL: {
    parser: { kind: 'seconds', default: 1, min: 0.05, max: 60 },
    doc: 'full reconcile pass period (pub/sub nudges act at once in between)',
  },
  SOLGATE_START_CONCURRENCY: {
    parser: { kind: 'integer', default: 8, min: 1, max: 1024 },
    doc: 'console starts in flight at once (a takeover of many nodes queues the rest; measured best on 2 cores)',
  },
  SOLGATE_FAILURE_DETECTOR_INTERVAL: {
    parser: { kind: 'seconds', default: 0.1, min: 0.01, max: 60 },
    doc: "how often `CLIENT LIST` is checked for a crashed conductor's vanished connection",
  },
  SOLGATE_REDIS_CONNECT_TIMEOUT: { parser: { kind: 'seconds', default: 5, min: 0.1, max: 120 }, doc: 'Redis connect timeout' },
} satisfies Record<string, ConfigVariable>;

export type ConfigVariableName = keyof typeof VARIABLES;
/** The table above, frozen, keyed by variable name. */
export const CONFIG: Readonly<Record<ConfigVariableName, ConfigVariable>> = Object.freeze(VARIABLES);

/** Names of every variable the conductor reads, with its default as documented (for the CLI and the chart test). */
export const CONFIG_VARIABLES: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(Object.entries(CONFIG).map(([name, v]) => [name, 'default' in v.parser ? String(v.parser.default) : (v.shownDefault ?? '')])),
);

/** The README's configuration table (markdown rows), generated from CONFIG; a unit test keeps the README equal to it. */
export function configTableMarkdown(): string {
  const rows = Object.entries(CONFIG).map(([name, v]) => {
    const shown = v.shownDefault ?? ('default' in v.parser ? `\`${String(v.parser.default)}\`` : '');
    return `| \`${name}\` | ${shown} | ${v.doc} |`;
  });
  return ['| Variable | Default | Meaning |', '|---|---|---|', ...rows].join('\n');
}

/** The rule for an integer, in the words every message uses. */
export const integerRule = (min: number, max: number) => `must be an integer between ${min} and ${max}`;
/** The rule for a duration, in the words every message uses. */
export const secondsRule = (min: number, max: number) => `must be a number of seconds between ${min} and ${max}`;

/** `text` as an integer within [min, max], or undefined. The one integer parser (conductor and CLI). */
export function parseInteger(text: string, min: number, max: number): number | undefined {
  const v = text.trim();
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= min && n <= max ? n : undefined;
}

/** `text` as seconds (decimals allowed) within [min, max], or undefined. The one duration parser (conductor and CLI). */
export function parseSeconds(text: string, min: number, max: number): number | undefined {
  const v = text.trim();
  const n = /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
  return Number.isFinite(n) && n >= min && n <= max ? n : undefined;
}

/** `START:STOP` with 1 <= START < STOP <= 65536, or undefined. */
export function parsePortRange(text: string): { start: number; stop: number } | undefined {
  const m = /^(\d{1,5}):(\d{1,5})$/.exec(text);
  if (!m || +m[1] < 1 || +m[2] > 65536 || +m[1] >= +m[2]) return undefined;
  return { start: +m[1], stop: +m[2] };
}

type Env = Record<string, string | undefined>;

/** Reads variables through CONFIG, collecting every problem instead of stopping at the first. */
class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: ConfigVariableName): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  private check(name: ConfigVariableName, v: string): string {
    const p = CONFIG[name].parser;
    if ((p.kind === 'string' || p.kind === 'derived') && p.valid && !p.valid(v)) this.problems.push(`${name}=${JSON.stringify(v)}: ${p.rule ?? 'invalid'}`);
    return v;
  }

  string(name: ConfigVariableName): string {
    const p = CONFIG[name].parser;
    if (p.kind !== 'string') throw new Error(`${name} is not a plain string variable`);
    return this.check(name, this.raw(name) ?? p.default);
  }

  /** A variable whose default the caller computes from variables read before it. */
  derived(name: ConfigVariableName, fallback: string, normalize: (v: string) => string = (v) => v): string {
    return this.check(name, normalize(this.raw(name) ?? fallback));
  }

  integer(name: ConfigVariableName): number {
    const p = CONFIG[name].parser;
    if (p.kind !== 'integer') throw new Error(`${name} is not an integer variable`);
    const v = this.raw(name);
    if (v === undefined) return p.default;
    const n = parseInteger(v, p.min, p.max);
    if (n === undefined) this.problems.push(`${name}=${JSON.stringify(v)}: ${integerRule(p.min, p.max)}`);
    return n ?? p.default;
  }

  /** Seconds (decimals allowed) → milliseconds. */
  millis(name: ConfigVariableName): number {
    const p = CONFIG[name].parser;
    if (p.kind !== 'seconds') throw new Error(`${name} is not a duration variable`);
    const v = this.raw(name);
    const s = v === undefined ? p.default : parseSeconds(v, p.min, p.max);
    if (s === undefined) this.problems.push(`${name}=${JSON.stringify(v)}: ${secondsRule(p.min, p.max)}`);
    return Math.round((s ?? p.default) * 1000);
  }
}

export function isValidRedisUrl(url: string): boolean {
  return /^(redis|rediss):\/\/[^\s]+$/.test(url) || /^redis-sentinel:\/\/[^\s/]+\/[A-Za-z0-9_.-]+/.test(url);
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

function urlHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/**
 * Where pid, lease, argv and password files go by default: tmpfs (/dev/shm) when the machine has
 * it, so BMC passwords never reach a disk and a takeover's hundreds of small files cost microseconds
 * (on this project's ext4 test VM, creating a file cost ~1 ms of CPU).
 */
function defaultRuntimeDir(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

export function loadConfig(env: Env = process.env): Readonly<SolgateConfig> {
  const r = new Reader(env);

  const redisUrl = r.string('SOLGATE_REDIS_URL');
  const keyPrefix = r.string('SOLGATE_KEY_PREFIX');
  const conductorId = r.derived('SOLGATE_CONDUCTOR_ID', hostname());
  // Stored lower-case, as node groups are: `Rack1` and a node's `rack1` are the same group.
  const conductorGroup = normalizeGroup(r.string('SOLGATE_CONDUCTOR_GROUP'));
  const apiHost = r.string('SOLGATE_API_HOST');
  const apiPort = r.integer('SOLGATE_API_PORT');
  const socatAddress = r.string('SOLGATE_SOCAT_ADDRESS');

  const advertisedHost = !isWildcard(apiHost) ? apiHost : !isWildcard(socatAddress) ? socatAddress : hostname();
  const apiUrl = r.derived('SOLGATE_API_URL', `http://${urlHost(advertisedHost)}:${apiPort}`, (v) => v.replace(/\/+$/, ''));

  const portRange = parsePortRange(r.string('SOLGATE_PORT_RANGE')) ?? parsePortRange(VARIABLES.SOLGATE_PORT_RANGE.parser.default)!;
  const terminalPidDir = r.derived('SOLGATE_TERMINAL_PID_DIR', `${defaultRuntimeDir()}/solgate-${conductorId.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
  const terminalTimeoutS = Math.round(r.millis('SOLGATE_TERMINAL_TIMEOUT') / 1000);
  const subprocessCheckingIntervalMs = r.millis('SOLGATE_SUBPROCESS_CHECKING_INTERVAL');
  const subprocessTimeoutMs = r.millis('SOLGATE_SUBPROCESS_TIMEOUT');
  const killTimeoutMs = r.millis('SOLGATE_KILL_TIMEOUT');
  const authToken = r.raw('SOLGATE_AUTH_TOKEN');
  const logLevel = r.string('SOLGATE_LOG_LEVEL') as LogLevel;

  const heartbeatIntervalMs = r.millis('SOLGATE_HEARTBEAT_INTERVAL');
  const heartbeatTimeoutMs = r.millis('SOLGATE_HEARTBEAT_TIMEOUT');
  if (heartbeatTimeoutMs < 2 * heartbeatIntervalMs)
    r.problems.push(
      `SOLGATE_HEARTBEAT_TIMEOUT (${heartbeatTimeoutMs / 1000}s) must be at least twice SOLGATE_HEARTBEAT_INTERVAL (${heartbeatIntervalMs / 1000}s)`,
    );
  const ringVnodes = r.integer('SOLGATE_RING_VNODES');
  const reconcileIntervalMs = r.millis('SOLGATE_RECONCILE_INTERVAL');
  const startConcurrency = r.integer('SOLGATE_START_CONCURRENCY');
  const failureDetectorIntervalMs = r.millis('SOLGATE_FAILURE_DETECTOR_INTERVAL');
  const redisConnectTimeoutMs = r.millis('SOLGATE_REDIS_CONNECT_TIMEOUT');

  if (r.problems.length > 0) throw new ConfigError(r.problems);

  return Object.freeze({
    redisUrl,
    keyPrefix,
    conductorId,
    conductorGroup,
    apiHost,
    apiPort,
    apiUrl,
    socatAddress,
    portRange: Object.freeze(portRange),
    terminalPidDir,
    terminalTimeoutS,
    subprocessCheckingIntervalMs,
    subprocessTimeoutMs,
    killTimeoutMs,
    authToken,
    logLevel,
    heartbeatIntervalMs,
    heartbeatTimeoutMs,
    ringVnodes,
    reconcileIntervalMs,
    startConcurrency,
    failureDetectorIntervalMs,
    redisConnectTimeoutMs,
  });
}
