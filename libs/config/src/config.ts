import { accessSync, constants, existsSync, statfsSync } from 'node:fs';
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
  /** Cap on open API connections; undefined = derived from RLIMIT_NOFILE at start (apps/conductor fd-budget.ts). */
  apiMaxConnections: number | undefined;
  /** A client must have sent its request headers within this long (slow clients are cut off). */
  apiHeadersTimeoutMs: number;
  /** ... and its whole request within this long. */
  apiRequestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  apiKeepAliveTimeoutMs: number;
  socatAddress: string;
  /** TLS on console ports (socat OPENSSL-LISTEN); undefined = plain TCP, as in Ironic. */
  consoleTls: Readonly<{ certFile: string; keyFile: string; caFile?: string }> | undefined;
  portRange: { start: number; stop: number };
  /** A node may ask for a fixed console port below 1024 (ipmi_terminal_port). */
  allowPrivilegedPorts: boolean;
  /** A node may ask for a fixed console port outside portRange. */
  allowPortsOutsideRange: boolean;
  terminalPidDir: string;
  terminalTimeoutS: number;
  /** ipmitool-shellinabox consoles: directory with shellinaboxd's certificate.pem (https); '' = http. */
  terminalCertDir: string;
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
  /** How long PUT …/states/console waits for the owner to act before answering 202 (0 = answer at once). */
  consolePutWaitMs: number;
  /** The periodic Ironic sync (docs/ironic.md); undefined when neither SOLGATE_IRONIC_URL nor SOLGATE_IRONIC_CLOUD is set. */
  ironicSync: IronicSyncConfig | undefined;
  /** Console broker (one SOL session per node, many viewers): the viewers' escape character, null = escapes off. */
  escapeChar: string | null;
  consoleHistoryBytes: number;
  consoleReplayBytes: number;
  consoleCapture: 'on-demand' | 'always';
  consoleLingerMs: number;
  /** Cap of a node's console log in Redis (approximate); 0 = no console log in Redis. */
  consoleLogBytes: number;
  /** Full console logs as rotated files per node; '' = none. */
  consoleLogDir: string;
  consoleLogFileBytes: number;
  consoleLogFileCount: number;
  consoleMaxViewers: number;
}

export interface IronicSyncConfig {
  url: string | undefined;
  intervalMs: number;
  token: string | undefined;
  cloud: { name: string; file: string } | undefined;
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

/**
 * Files whose paths end up in socat's address syntax (SOLGATE_CONSOLE_TLS_*): absolute, plain
 * characters only (SAFE_PATH_RE), no `..`, not a directory.
 */
const isPlainFilePath = (v: string) => SAFE_PATH_RE.test(v) && !v.split('/').includes('..') && !v.endsWith('/');
const PLAIN_FILE_PATH_RULE = 'must be an absolute file path of letters, digits, _ . - and / (no ..)';

/** How a variable's text becomes a value; every default is written here and nowhere else. */
export type ConfigParser =
  | { kind: 'string'; default: string; valid?: (v: string) => boolean; rule?: string }
  /** A default computed from variables read before it (see loadConfig); `valid` as for strings. */
  | { kind: 'derived'; valid?: (v: string) => boolean; rule?: string }
  | { kind: 'integer'; default: number; min: number; max: number }
  /** Seconds in the environment (decimals allowed), milliseconds in SolgateConfig. */
  | { kind: 'seconds'; default: number; min: number; max: number }
  /** true/1/yes/on or false/0/no/off. */
  | { kind: 'boolean'; default: boolean };

export interface ConfigVariable {
  parser: ConfigParser;
  /** The README's Default column (markdown), when it is not just the parser's default in backticks. */
  shownDefault?: string;
  /** The README's Meaning column (markdown). */
  doc: string;
}

const oneOf = (values: readonly string[]) => (v: string) => values.includes(v);
/** One printable ASCII character other than space, or `none`. */
const isEscapeChar = (v: string) => v === 'none' || (v.length === 1 && v.charCodeAt(0) >= 0x21 && v.charCodeAt(0) <= 0x7e);

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
  SOLGATE_API_MAX_CONNECTIONS: {
    parser: { kind: 'string', default: '', valid: (v: string) => parseInteger(v, 1, 1_000_000) !== undefined, rule: 'must be an integer between 1 and 1000000' },
    shownDefault: 'from the open-files limit: the limit minus a reserve of max(512, a quarter), at most 8192',
    doc: 'cap on open API connections; more are refused at once, so heartbeats, Redis and consoles always find descriptors ([docs/security.md](docs/security.md))',
  },
  SOLGATE_API_HEADERS_TIMEOUT: {
    parser: { kind: 'seconds', default: 10, min: 0.1, max: 600 },
    doc: 'a client that has not sent its request headers by then gets 408 and is disconnected',
  },
  SOLGATE_API_REQUEST_TIMEOUT: { parser: { kind: 'seconds', default: 30, min: 0.1, max: 3600 }, doc: '… its whole request (headers and body)' },
  SOLGATE_API_KEEPALIVE_TIMEOUT: { parser: { kind: 'seconds', default: 5, min: 0, max: 600 }, doc: 'an idle keep-alive connection is closed after this long' },
  SOLGATE_SOCAT_ADDRESS: {
    parser: {
      kind: 'string',
      default: '127.0.0.1',
      valid: (v: string) => isIP(v) !== 0,
      rule: 'must be an IPv4 or IPv6 address (it is both the bind address and the host in console URLs)',
    },
    doc: 'IP address consoles bind to; also the host in console URLs',
  },
  SOLGATE_CONSOLE_TLS_CERT: {
    parser: { kind: 'string', default: '', valid: isPlainFilePath, rule: PLAIN_FILE_PATH_RULE },
    shownDefault: 'unset (plain TCP)',
    doc: 'PEM certificate: console ports speak TLS (socat `OPENSSL-LISTEN`); the URL stays `tcp://host:port` ([docs/security.md](docs/security.md#console-ports))',
  },
  SOLGATE_CONSOLE_TLS_KEY: {
    parser: { kind: 'string', default: '', valid: isPlainFilePath, rule: PLAIN_FILE_PATH_RULE },
    shownDefault: 'unset',
    doc: 'its PEM private key (set both or neither; checked at start)',
  },
  SOLGATE_CONSOLE_TLS_CA: {
    parser: { kind: 'string', default: '', valid: isPlainFilePath, rule: PLAIN_FILE_PATH_RULE },
    shownDefault: 'unset',
    doc: 'PEM CA: clients must present a certificate it signed (needs the two above)',
  },
  SOLGATE_PORT_RANGE: {
    parser: { kind: 'string', default: '10000:20000', valid: (v: string) => parsePortRange(v) !== undefined, rule: 'must be START:STOP with 1 <= START < STOP <= 65536 (STOP exclusive)' },
    doc: "console ports `START:STOP` (STOP exclusive), cluster-wide*: each node gets one port from it, allocated once in Redis and kept for as long as the node exists (a node's `ipmi_terminal_port` wins; two nodes never share a port: a fixed port another node holds is refused with 409)",
  },
  SOLGATE_ALLOW_PRIVILEGED_PORTS: {
    parser: { kind: 'boolean', default: false },
    doc: "accept a node's `ipmi_terminal_port` below 1024 (a conductor running as root would bind it); otherwise the API and CLI answer 400",
  },
  SOLGATE_ALLOW_PORTS_OUTSIDE_RANGE: {
    parser: { kind: 'boolean', default: false },
    doc: "accept a node's `ipmi_terminal_port` outside `SOLGATE_PORT_RANGE`; otherwise 400",
  },
  SOLGATE_TERMINAL_PID_DIR: {
    parser: { kind: 'derived', valid: (v: string) => SAFE_PATH_RE.test(v), rule: 'must be an absolute path of letters, digits, _ . - and /' },
    shownDefault: '`/run/solgate-<conductor id>` when `/run` is a tmpfs this process may write (root), else `/dev/shm/solgate-<conductor id>` (`/tmp/…` where there is no `/dev/shm`)',
    doc: "private directory for pid, lease and argv files and consoles' sockets (0600). The conductor creates it itself (0700) and refuses to start if it exists but is not its own, not 0700, a symbolic link, or under a parent others can write without the sticky bit ([docs/security.md](docs/security.md))",
  },
  SOLGATE_TERMINAL_TIMEOUT: {
    parser: { kind: 'seconds', default: 600, min: 0, max: 86400 * 7 },
    doc: 'socat `-T`: close a console connection idle this long; 0 = never',
  },
  SOLGATE_TERMINAL_CERT_DIR: {
    parser: { kind: 'string', default: '', valid: (v: string) => SAFE_PATH_RE.test(v), rule: 'must be an absolute path of letters, digits, _ . - and / (or empty: shellinabox consoles serve http)' },
    shownDefault: '(none)',
    doc: '`ipmitool-shellinabox`: a directory with `certificate.pem` (key and certificate, PEM); shellinaboxd then serves https and console URLs are `https://`; unset: http',
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
    doc: 'when set, every request needs `X-Auth-Token` (or `Authorization: Bearer`) with this value (constant-time compare), else 401 before any routing — except `GET`/`HEAD` of exactly `/`, `/v1`, `/v1/` (version documents), `/healthz`, `/readyz`, `/metrics` and the web console’s page shells and scripts under `/ui/` (no data: its node list and consoles need the token too) ([docs/security.md](docs/security.md))',
  },
  SOLGATE_LOG_LEVEL: {
    parser: { kind: 'string', default: 'info', valid: oneOf(LOG_LEVELS), rule: `one of ${LOG_LEVELS.join(', ')}` },
    doc: '`fatal error warn info debug trace silent` (JSON lines on stderr)',
  },
  SOLGATE_HEARTBEAT_INTERVAL: { parser: { kind: 'seconds', default: 1, min: 0.05, max: 60 }, doc: 'heartbeat period' },
  SOLGATE_HEARTBEAT_TIMEOUT: {
    parser: { kind: 'seconds', default: 5, min: 0.2, max: 600 },
    doc: "cluster-wide*: a member silent this long (Redis's clock) is dead; its own lease is `timeout − interval`",
  },
  SOLGATE_RING_VNODES: {
    parser: { kind: 'integer', default: DEFAULT_RING_VNODES, min: 1, max: 10000 },
    doc: 'cluster-wide*: hashring vnode count per member (×4 points); chosen from a measured balance',
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
  SOLGATE_CONSOLE_PUT_WAIT: {
    parser: { kind: 'seconds', default: 2, min: 0, max: 60 },
    doc: '`PUT …/states/console` answers once the owner has acted (console serving, or stopped), at most this long after the intent was recorded; past it, 202 as before and the state follows; 0 = answer at once',
  },
  SOLGATE_IRONIC_URL: {
    parser: { kind: 'string', default: '', valid: (v: string) => /^https?:\/\/[^\s@/]+(\/\S*)?$/.test(v), rule: 'must be http(s)://host[:port][/path] without credentials' },
    shownDefault: 'unset',
    doc: "an existing Ironic's API: setting it (or `SOLGATE_IRONIC_CLOUD`) makes the conductors mirror its nodes, one conductor at a time ([docs/ironic.md](docs/ironic.md))",
  },
  SOLGATE_IRONIC_SYNC_INTERVAL: { parser: { kind: 'seconds', default: 60, min: 1, max: 86400 }, doc: 'seconds between Ironic syncs' },
  SOLGATE_IRONIC_TOKEN: { parser: { kind: 'string', default: '' }, shownDefault: 'unset', doc: '`X-Auth-Token` for Ironic' },
  SOLGATE_IRONIC_CLOUD: {
    parser: { kind: 'string', default: '', valid: (v: string) => /^[A-Za-z0-9_.-]{0,64}$/.test(v), rule: 'a clouds.yaml cloud name: letters, digits, _ . -' },
    shownDefault: 'unset',
    doc: '`clouds.yaml` cloud for Keystone auth instead of a token (URL from the catalog when `SOLGATE_IRONIC_URL` is unset)',
  },
  SOLGATE_IRONIC_CLOUDS_FILE: {
    parser: { kind: 'string', default: '/etc/openstack/clouds.yaml', valid: (v: string) => /^\/\S*$/.test(v), rule: 'an absolute path' },
    doc: 'where that cloud is',
  },
  SOLGATE_ESCAPE_CHAR: {
    parser: { kind: 'string', default: '~', valid: isEscapeChar, rule: 'one printable ASCII character, or "none" to turn escapes off' },
    doc: "console viewers' escape character (`~?` help, `~.` leave, `~w`/`~W`/`~r` write lock, `~#` who, `~B` break); `none` turns escapes off ([docs/console-broker.md](docs/console-broker.md))",
  },
  SOLGATE_CONSOLE_HISTORY_BYTES: { parser: { kind: 'integer', default: 65536, min: 1024, max: 16 * 1024 * 1024 }, doc: 'history ring buffer per node' },
  SOLGATE_CONSOLE_REPLAY_BYTES: {
    parser: { kind: 'integer', default: 4096, min: 0, max: 16 * 1024 * 1024 },
    doc: 'history a new viewer receives first (cut at a line start)',
  },
  SOLGATE_CONSOLE_CAPTURE: {
    parser: { kind: 'string', default: 'on-demand', valid: oneOf(['on-demand', 'always']), rule: 'on-demand or always' },
    doc: '`on-demand`: BMC session while someone watches (+ linger); `always`: while the console is enabled; per node `driver_info.solgate_console_capture`',
  },
  SOLGATE_CONSOLE_LINGER: { parser: { kind: 'seconds', default: 10, min: 0, max: 3600 }, doc: 'seconds an on-demand BMC session outlives its last viewer' },
  SOLGATE_CONSOLE_LOG_BYTES: {
    parser: { kind: 'integer', default: 131072, min: 0, max: 64 * 1024 * 1024 },
    doc: 'Redis memory for each node’s console log, a capped Stream that survives takeover (`solgate console log`); entries count as data × 1.25 + 64 B; `0` = none',
  },
  SOLGATE_CONSOLE_LOG_DIR: {
    parser: { kind: 'string', default: '', valid: (v: string) => SAFE_PATH_RE.test(v), rule: 'must be an absolute path of letters, digits, _ . - and / (or empty: no log files)' },
    shownDefault: '(none)',
    doc: "full console logs as files `<uuid>.log` here, rotated by size and count. Created 0750 at start; refused if it is not the conductor's own or others can write it ([docs/security.md](docs/security.md))",
  },
  SOLGATE_CONSOLE_LOG_FILE_BYTES: {
    parser: { kind: 'integer', default: 10 * 1024 * 1024, min: 4096, max: 1024 * 1024 * 1024 },
    doc: "rotate a node's log file at this size",
  },
  SOLGATE_CONSOLE_LOG_FILE_COUNT: { parser: { kind: 'integer', default: 5, min: 1, max: 100 }, doc: 'rotated log files kept per node' },
  SOLGATE_CONSOLE_MAX_VIEWERS: { parser: { kind: 'integer', default: 128, min: 1, max: 10000 }, doc: 'viewers per node console' },
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
    if ((p.kind === 'string' || p.kind === 'derived') && p.valid && !(v === '' && 'default' in p && p.default === '') && !p.valid(v)) this.problems.push(`${name}=${JSON.stringify(v)}: ${p.rule ?? 'invalid'}`);
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

  boolean(name: ConfigVariableName): boolean {
    const p = CONFIG[name].parser;
    if (p.kind !== 'boolean') throw new Error(`${name} is not a boolean variable`);
    const v = this.raw(name)?.toLowerCase();
    if (v === undefined) return p.default;
    if (['true', '1', 'yes', 'on'].includes(v)) return true;
    if (['false', '0', 'no', 'off'].includes(v)) return false;
    this.problems.push(`${name}=${JSON.stringify(v)}: must be true or false`);
    return p.default;
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

const TMPFS_MAGIC = 0x01021994;

function writableTmpfs(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return statfsSync(dir).type === TMPFS_MAGIC;
  } catch {
    return false;
  }
}

/**
 * Where the runtime directory (pid, lease and argv files) goes by default: on tmpfs, so a
 * takeover's hundreds of small files cost microseconds (on this project's ext4 test VM, creating a
 * file cost ~1 ms of CPU). /run first when this process may write it (root): only root can create
 * entries there, so no other local user can take the name first; else /dev/shm (world-writable with
 * the sticky bit: the conductor refuses a directory someone else made, see libs/console
 * trusted-path.ts).
 */
function defaultRuntimeDir(): string {
  if (writableTmpfs('/run')) return '/run';
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

/**
 * SOLGATE_CONSOLE_TLS_CERT/KEY/CA (paths checked by the table: they end up in socat's address
 * syntax). Certificate and key come together; a CA without them means nothing. Whether the files
 * exist, match and are where no other user can change them is checked when the conductor starts
 * (libs/console console-tls.ts), not here: the configuration is also validated where the files may
 * not be (the Helm chart's test).
 */
function readConsoleTls(r: Reader): SolgateConfig['consoleTls'] {
  const opt = (name: 'SOLGATE_CONSOLE_TLS_CERT' | 'SOLGATE_CONSOLE_TLS_KEY' | 'SOLGATE_CONSOLE_TLS_CA') => r.string(name) || undefined;
  const certFile = opt('SOLGATE_CONSOLE_TLS_CERT');
  const keyFile = opt('SOLGATE_CONSOLE_TLS_KEY');
  const caFile = opt('SOLGATE_CONSOLE_TLS_CA');
  if ((certFile === undefined) !== (keyFile === undefined))
    r.problems.push('TLS on console ports: SOLGATE_CONSOLE_TLS_CERT and SOLGATE_CONSOLE_TLS_KEY go together (set both, or neither)');
  else if (certFile === undefined && caFile !== undefined)
    r.problems.push('TLS on console ports: SOLGATE_CONSOLE_TLS_CA (client certificates) needs SOLGATE_CONSOLE_TLS_CERT and SOLGATE_CONSOLE_TLS_KEY');
  if (certFile === undefined || keyFile === undefined) return undefined;
  return Object.freeze(caFile === undefined ? { certFile, keyFile } : { certFile, keyFile, caFile });
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
  const apiMaxConnectionsRaw = r.string('SOLGATE_API_MAX_CONNECTIONS');
  const apiMaxConnections = apiMaxConnectionsRaw === '' ? undefined : parseInteger(apiMaxConnectionsRaw, 1, 1_000_000);
  const apiHeadersTimeoutMs = r.millis('SOLGATE_API_HEADERS_TIMEOUT');
  const apiRequestTimeoutMs = r.millis('SOLGATE_API_REQUEST_TIMEOUT');
  const apiKeepAliveTimeoutMs = r.millis('SOLGATE_API_KEEPALIVE_TIMEOUT');
  if (apiHeadersTimeoutMs > apiRequestTimeoutMs)
    r.problems.push(`SOLGATE_API_HEADERS_TIMEOUT (${apiHeadersTimeoutMs / 1000}s) must not be longer than SOLGATE_API_REQUEST_TIMEOUT (${apiRequestTimeoutMs / 1000}s)`);
  const socatAddress = r.string('SOLGATE_SOCAT_ADDRESS');
  const consoleTls = readConsoleTls(r);

  const advertisedHost = !isWildcard(apiHost) ? apiHost : !isWildcard(socatAddress) ? socatAddress : hostname();
  const apiUrl = r.derived('SOLGATE_API_URL', `http://${urlHost(advertisedHost)}:${apiPort}`, (v) => v.replace(/\/+$/, ''));

  const portRange = parsePortRange(r.string('SOLGATE_PORT_RANGE')) ?? parsePortRange(VARIABLES.SOLGATE_PORT_RANGE.parser.default)!;
  const allowPrivilegedPorts = r.boolean('SOLGATE_ALLOW_PRIVILEGED_PORTS');
  const allowPortsOutsideRange = r.boolean('SOLGATE_ALLOW_PORTS_OUTSIDE_RANGE');
  const terminalPidDir = r.derived('SOLGATE_TERMINAL_PID_DIR', `${defaultRuntimeDir()}/solgate-${conductorId.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
  const terminalTimeoutS = Math.round(r.millis('SOLGATE_TERMINAL_TIMEOUT') / 1000);
  const terminalCertDir = r.string('SOLGATE_TERMINAL_CERT_DIR');
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
  const consolePutWaitMs = r.millis('SOLGATE_CONSOLE_PUT_WAIT');

  const ironicUrl = r.string('SOLGATE_IRONIC_URL');
  const ironicCloud = r.string('SOLGATE_IRONIC_CLOUD');
  const ironicToken = r.raw('SOLGATE_IRONIC_TOKEN');
  if (ironicToken !== undefined && ironicCloud !== '') r.problems.push('SOLGATE_IRONIC_TOKEN and SOLGATE_IRONIC_CLOUD: set one of them, not both');
  const ironicCloudsFile = r.string('SOLGATE_IRONIC_CLOUDS_FILE');
  const ironicIntervalMs = r.millis('SOLGATE_IRONIC_SYNC_INTERVAL');
  const ironicSync: IronicSyncConfig | undefined =
    ironicUrl !== '' || ironicCloud !== ''
      ? Object.freeze({
          url: ironicUrl === '' ? undefined : ironicUrl,
          intervalMs: ironicIntervalMs,
          token: ironicToken,
          cloud: ironicCloud !== '' ? Object.freeze({ name: ironicCloud, file: ironicCloudsFile }) : undefined,
        })
      : undefined;

  const escapeRaw = r.string('SOLGATE_ESCAPE_CHAR');
  const escapeChar = escapeRaw === 'none' || !isEscapeChar(escapeRaw) ? (escapeRaw === 'none' ? null : '~') : escapeRaw;
  const consoleHistoryBytes = r.integer('SOLGATE_CONSOLE_HISTORY_BYTES');
  const consoleReplayBytes = r.integer('SOLGATE_CONSOLE_REPLAY_BYTES');
  if (consoleReplayBytes > consoleHistoryBytes)
    r.problems.push(`SOLGATE_CONSOLE_REPLAY_BYTES (${consoleReplayBytes}) must not exceed SOLGATE_CONSOLE_HISTORY_BYTES (${consoleHistoryBytes})`);
  const consoleCapture = r.string('SOLGATE_CONSOLE_CAPTURE') as SolgateConfig['consoleCapture'];
  const consoleLingerMs = r.millis('SOLGATE_CONSOLE_LINGER');
  const consoleLogBytes = r.integer('SOLGATE_CONSOLE_LOG_BYTES');
  const consoleLogDir = r.string('SOLGATE_CONSOLE_LOG_DIR');
  const consoleLogFileBytes = r.integer('SOLGATE_CONSOLE_LOG_FILE_BYTES');
  const consoleLogFileCount = r.integer('SOLGATE_CONSOLE_LOG_FILE_COUNT');
  const consoleMaxViewers = r.integer('SOLGATE_CONSOLE_MAX_VIEWERS');

  if (r.problems.length > 0) throw new ConfigError(r.problems);

  return Object.freeze({
    redisUrl,
    keyPrefix,
    conductorId,
    conductorGroup,
    apiHost,
    apiPort,
    apiUrl,
    apiMaxConnections,
    apiHeadersTimeoutMs,
    apiRequestTimeoutMs,
    apiKeepAliveTimeoutMs,
    socatAddress,
    consoleTls,
    portRange: Object.freeze(portRange),
    allowPrivilegedPorts,
    allowPortsOutsideRange,
    terminalPidDir,
    terminalTimeoutS,
    terminalCertDir,
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
    consolePutWaitMs,
    ironicSync,
    escapeChar,
    consoleHistoryBytes,
    consoleReplayBytes,
    consoleCapture,
    consoleLingerMs,
    consoleLogBytes,
    consoleLogDir,
    consoleLogFileBytes,
    consoleLogFileCount,
    consoleMaxViewers,
  });
}
