import { accessSync, constants, existsSync, statfsSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { isIP } from 'node:net';

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
  /** A node may ask for a fixed console port below 1024 (ipmi_terminal_port). */
  allowPrivilegedPorts: boolean;
  /** A node may ask for a fixed console port outside portRange. */
  allowPortsOutsideRange: boolean;
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

/** Names of every variable the conductor reads, with its default, for docs and the Helm chart test. */
export const CONFIG_VARIABLES: Record<string, string> = {
  SOLGATE_REDIS_URL: 'redis://127.0.0.1:6379',
  SOLGATE_KEY_PREFIX: 'solgate',
  SOLGATE_CONDUCTOR_ID: '<host name>',
  SOLGATE_CONDUCTOR_GROUP: '',
  SOLGATE_API_HOST: '0.0.0.0',
  SOLGATE_API_PORT: '6385',
  SOLGATE_API_URL: 'http://<advertised host>:<port>',
  SOLGATE_SOCAT_ADDRESS: '127.0.0.1',
  SOLGATE_PORT_RANGE: '10000:20000',
  SOLGATE_ALLOW_PRIVILEGED_PORTS: 'false',
  SOLGATE_ALLOW_PORTS_OUTSIDE_RANGE: 'false',
  SOLGATE_TERMINAL_PID_DIR: '/run/solgate-<conductor id> (root), else /dev/shm/solgate-<conductor id>',
  SOLGATE_TERMINAL_TIMEOUT: '600',
  SOLGATE_SUBPROCESS_CHECKING_INTERVAL: '1',
  SOLGATE_SUBPROCESS_TIMEOUT: '10',
  SOLGATE_KILL_TIMEOUT: '1',
  SOLGATE_AUTH_TOKEN: '',
  SOLGATE_LOG_LEVEL: 'info',
  SOLGATE_HEARTBEAT_INTERVAL: '1',
  SOLGATE_HEARTBEAT_TIMEOUT: '5',
  SOLGATE_RING_VNODES: String(DEFAULT_RING_VNODES),
  SOLGATE_RECONCILE_INTERVAL: '1',
  SOLGATE_START_CONCURRENCY: '8',
  SOLGATE_FAILURE_DETECTOR_INTERVAL: '0.1',
  SOLGATE_REDIS_CONNECT_TIMEOUT: '5',
  SOLGATE_CONSOLE_PUT_WAIT: '2',
  SOLGATE_IRONIC_URL: '',
  SOLGATE_IRONIC_SYNC_INTERVAL: '60',
  SOLGATE_IRONIC_TOKEN: '',
  SOLGATE_IRONIC_CLOUD: '',
  SOLGATE_IRONIC_CLOUDS_FILE: '/etc/openstack/clouds.yaml',
  SOLGATE_ESCAPE_CHAR: '~',
  SOLGATE_CONSOLE_HISTORY_BYTES: '65536',
  SOLGATE_CONSOLE_REPLAY_BYTES: '4096',
  SOLGATE_CONSOLE_CAPTURE: 'on-demand',
  SOLGATE_CONSOLE_LINGER: '10',
  SOLGATE_CONSOLE_LOG_BYTES: '131072',
  SOLGATE_CONSOLE_LOG_DIR: '',
  SOLGATE_CONSOLE_LOG_FILE_BYTES: '10485760',
  SOLGATE_CONSOLE_LOG_FILE_COUNT: '5',
  SOLGATE_CONSOLE_MAX_VIEWERS: '128',
};

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const GROUP_RE = /^[A-Za-z0-9_.-]{0,255}$/;
const PREFIX_RE = /^[A-Za-z0-9_.-]{1,64}$/;
/** Paths that end up inside socat's address syntax: no characters socat treats as syntax. */
export const SAFE_PATH_RE = /^\/[A-Za-z0-9_./-]*$/;

type Env = Record<string, string | undefined>;

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  string(name: string, fallback: string, re?: RegExp, hint?: string): string {
    const v = this.raw(name) ?? fallback;
    if (re && !re.test(v)) this.problems.push(`${name}=${JSON.stringify(v)}: ${hint ?? `must match ${re}`}`);
    return v;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      this.problems.push(`${name}=${JSON.stringify(v)}: must be an integer between ${min} and ${max}`);
      return fallback;
    }
    return n;
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.raw(name)?.toLowerCase();
    if (v === undefined) return fallback;
    if (['true', '1', 'yes', 'on'].includes(v)) return true;
    if (['false', '0', 'no', 'off'].includes(v)) return false;
    this.problems.push(`${name}=${JSON.stringify(v)}: must be true or false`);
    return fallback;
  }

  /** Seconds (decimals allowed) → milliseconds. */
  seconds(name: string, fallbackS: number, minS: number, maxS: number): number {
    const v = this.raw(name);
    if (v === undefined) return Math.round(fallbackS * 1000);
    const n = /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
    if (!Number.isFinite(n) || n < minS || n > maxS) {
      this.problems.push(`${name}=${JSON.stringify(v)}: must be a number of seconds between ${minS} and ${maxS}`);
      return Math.round(fallbackS * 1000);
    }
    return Math.round(n * 1000);
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

export function loadConfig(env: Env = process.env): Readonly<SolgateConfig> {
  const r = new Reader(env);

  const redisUrl = r.string('SOLGATE_REDIS_URL', 'redis://127.0.0.1:6379');
  if (!isValidRedisUrl(redisUrl))
    r.problems.push(
      `SOLGATE_REDIS_URL=${JSON.stringify(redisUrl)}: expected redis://[user:password@]host:port[/db], rediss://... or redis-sentinel://[password@]host:port[,host:port...]/master-name`,
    );
  const keyPrefix = r.string('SOLGATE_KEY_PREFIX', 'solgate', PREFIX_RE, 'letters, digits, _ . - (1-64 characters)');
  const conductorId = r.string(
    'SOLGATE_CONDUCTOR_ID',
    hostname(),
    ID_RE,
    'letters, digits, _ . - (starting with a letter or digit, at most 128 characters)',
  );
  const conductorGroup = r.string('SOLGATE_CONDUCTOR_GROUP', '', GROUP_RE, 'letters, digits, _ . - (at most 255 characters)');
  const apiHost = r.string('SOLGATE_API_HOST', '0.0.0.0');
  if (isIP(apiHost) === 0 && !/^[A-Za-z0-9.-]+$/.test(apiHost))
    r.problems.push(`SOLGATE_API_HOST=${JSON.stringify(apiHost)}: must be an IP address or host name`);
  const apiPort = r.int('SOLGATE_API_PORT', 6385, 1, 65535);

  const socatAddress = r.string('SOLGATE_SOCAT_ADDRESS', '127.0.0.1');
  if (isIP(socatAddress) === 0)
    r.problems.push(`SOLGATE_SOCAT_ADDRESS=${JSON.stringify(socatAddress)}: must be an IPv4 or IPv6 address (it is both the bind address and the host in console URLs)`);

  const advertisedHost = !isWildcard(apiHost) ? apiHost : !isWildcard(socatAddress) ? socatAddress : hostname();
  const apiUrl = (r.raw('SOLGATE_API_URL') ?? `http://${urlHost(advertisedHost)}:${apiPort}`).replace(/\/+$/, '');
  if (!/^https?:\/\/[^\s/]+$/.test(apiUrl))
    r.problems.push(`SOLGATE_API_URL=${JSON.stringify(apiUrl)}: must be http(s)://host[:port] with no path`);

  const rangeRaw = r.string('SOLGATE_PORT_RANGE', '10000:20000');
  let portRange = { start: 10000, stop: 20000 };
  const m = /^(\d{1,5}):(\d{1,5})$/.exec(rangeRaw);
  if (!m || +m[1] < 1 || +m[2] > 65536 || +m[1] >= +m[2]) {
    r.problems.push(`SOLGATE_PORT_RANGE=${JSON.stringify(rangeRaw)}: must be START:STOP with 1 <= START < STOP <= 65536 (STOP exclusive)`);
  } else {
    portRange = { start: +m[1], stop: +m[2] };
  }

  const allowPrivilegedPorts = r.bool('SOLGATE_ALLOW_PRIVILEGED_PORTS', false);
  const allowPortsOutsideRange = r.bool('SOLGATE_ALLOW_PORTS_OUTSIDE_RANGE', false);

  const terminalPidDir = r.string(
    'SOLGATE_TERMINAL_PID_DIR',
    `${defaultRuntimeDir()}/solgate-${conductorId.replace(/[^A-Za-z0-9_.-]/g, '_')}`,
    SAFE_PATH_RE,
    'must be an absolute path of letters, digits, _ . - and /',
  );
  const terminalTimeoutS = Math.round(r.seconds('SOLGATE_TERMINAL_TIMEOUT', 600, 0, 86400 * 7) / 1000);
  const subprocessCheckingIntervalMs = r.seconds('SOLGATE_SUBPROCESS_CHECKING_INTERVAL', 1, 0.001, 60);
  const subprocessTimeoutMs = r.seconds('SOLGATE_SUBPROCESS_TIMEOUT', 10, 0.01, 600);
  const killTimeoutMs = r.seconds('SOLGATE_KILL_TIMEOUT', 1, 0, 60);
  const authToken = r.raw('SOLGATE_AUTH_TOKEN');
  const logLevel = r.string('SOLGATE_LOG_LEVEL', 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) r.problems.push(`SOLGATE_LOG_LEVEL=${JSON.stringify(logLevel)}: one of ${LOG_LEVELS.join(', ')}`);

  const heartbeatIntervalMs = r.seconds('SOLGATE_HEARTBEAT_INTERVAL', 1, 0.05, 60);
  const heartbeatTimeoutMs = r.seconds('SOLGATE_HEARTBEAT_TIMEOUT', 5, 0.2, 600);
  if (heartbeatTimeoutMs < 2 * heartbeatIntervalMs)
    r.problems.push(
      `SOLGATE_HEARTBEAT_TIMEOUT (${heartbeatTimeoutMs / 1000}s) must be at least twice SOLGATE_HEARTBEAT_INTERVAL (${heartbeatIntervalMs / 1000}s)`,
    );
  const ringVnodes = r.int('SOLGATE_RING_VNODES', DEFAULT_RING_VNODES, 1, 10000);
  const reconcileIntervalMs = r.seconds('SOLGATE_RECONCILE_INTERVAL', 1, 0.05, 60);
  const startConcurrency = r.int('SOLGATE_START_CONCURRENCY', 8, 1, 1024);
  const failureDetectorIntervalMs = r.seconds('SOLGATE_FAILURE_DETECTOR_INTERVAL', 0.1, 0.01, 60);
  const redisConnectTimeoutMs = r.seconds('SOLGATE_REDIS_CONNECT_TIMEOUT', 5, 0.1, 120);
  const consolePutWaitMs = r.seconds('SOLGATE_CONSOLE_PUT_WAIT', 2, 0, 60);

  const ironicUrl = r.raw('SOLGATE_IRONIC_URL');
  if (ironicUrl !== undefined && !/^https?:\/\/[^\s@/]+(\/\S*)?$/.test(ironicUrl))
    r.problems.push(`SOLGATE_IRONIC_URL=${JSON.stringify(ironicUrl)}: must be http(s)://host[:port][/path] without credentials`);
  const ironicCloud = r.string('SOLGATE_IRONIC_CLOUD', '', /^[A-Za-z0-9_.-]{0,64}$/, 'a clouds.yaml cloud name: letters, digits, _ . -');
  const ironicToken = r.raw('SOLGATE_IRONIC_TOKEN');
  if (ironicToken !== undefined && ironicCloud !== '') r.problems.push('SOLGATE_IRONIC_TOKEN and SOLGATE_IRONIC_CLOUD: set one of them, not both');
  const ironicCloudsFile = r.string('SOLGATE_IRONIC_CLOUDS_FILE', '/etc/openstack/clouds.yaml', /^\/\S*$/, 'an absolute path');
  const ironicIntervalMs = r.seconds('SOLGATE_IRONIC_SYNC_INTERVAL', 60, 1, 86400);
  const ironicSync: IronicSyncConfig | undefined =
    ironicUrl !== undefined || ironicCloud !== ''
      ? Object.freeze({
          url: ironicUrl,
          intervalMs: ironicIntervalMs,
          token: ironicToken,
          cloud: ironicCloud !== '' ? Object.freeze({ name: ironicCloud, file: ironicCloudsFile }) : undefined,
        })
      : undefined;

  const escapeRaw = r.raw('SOLGATE_ESCAPE_CHAR') ?? '~';
  let escapeChar: string | null = '~';
  if (escapeRaw === 'none') escapeChar = null;
  else if (escapeRaw.length === 1 && escapeRaw.charCodeAt(0) >= 0x21 && escapeRaw.charCodeAt(0) <= 0x7e) escapeChar = escapeRaw;
  else r.problems.push(`SOLGATE_ESCAPE_CHAR=${JSON.stringify(escapeRaw)}: one printable ASCII character, or "none" to turn escapes off`);
  const consoleHistoryBytes = r.int('SOLGATE_CONSOLE_HISTORY_BYTES', 65536, 1024, 16 * 1024 * 1024);
  const consoleReplayBytes = r.int('SOLGATE_CONSOLE_REPLAY_BYTES', 4096, 0, 16 * 1024 * 1024);
  if (consoleReplayBytes > consoleHistoryBytes)
    r.problems.push(`SOLGATE_CONSOLE_REPLAY_BYTES (${consoleReplayBytes}) must not exceed SOLGATE_CONSOLE_HISTORY_BYTES (${consoleHistoryBytes})`);
  const consoleCapture = r.string('SOLGATE_CONSOLE_CAPTURE', 'on-demand', /^(on-demand|always)$/, 'on-demand or always') as SolgateConfig['consoleCapture'];
  const consoleLingerMs = r.seconds('SOLGATE_CONSOLE_LINGER', 10, 0, 3600);
  const consoleLogBytes = r.int('SOLGATE_CONSOLE_LOG_BYTES', 131072, 0, 64 * 1024 * 1024);
  const consoleLogDir = r.raw('SOLGATE_CONSOLE_LOG_DIR') ?? '';
  if (consoleLogDir !== '' && !SAFE_PATH_RE.test(consoleLogDir)) r.problems.push(`SOLGATE_CONSOLE_LOG_DIR=${JSON.stringify(consoleLogDir)}: must be an absolute path of letters, digits, _ . - and / (or empty: no log files)`);
  const consoleLogFileBytes = r.int('SOLGATE_CONSOLE_LOG_FILE_BYTES', 10 * 1024 * 1024, 4096, 1024 * 1024 * 1024);
  const consoleLogFileCount = r.int('SOLGATE_CONSOLE_LOG_FILE_COUNT', 5, 1, 100);
  const consoleMaxViewers = r.int('SOLGATE_CONSOLE_MAX_VIEWERS', 128, 1, 10000);

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
    allowPrivilegedPorts,
    allowPortsOutsideRange,
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
