import { IpmiError } from '../errors.js';
import { PrivilegeLevel, type PrivilegeName, privilegeName } from '../protocol/constants.js';
import { cipherSuite } from '../protocol/cipher-suites.js';
import { passwordKey } from '../protocol/crypto.js';

export interface IpmiSessionOptions {
  host: string;
  /** UDP port of the BMC; default 623. */
  port?: number;
  username: string;
  password: string | Buffer;
  /** BMC key K_G for two-key logins; default none (K_UID is used). */
  kg?: string | Buffer;
  /** RMCP+ cipher suite id; default: ask the BMC (Get Channel Cipher Suites, short timeout), else 3. */
  cipherSuite?: number;
  /** Session privilege; default ADMINISTRATOR (needed for chassis control and for kicking other SOL sessions). */
  privLevel?: PrivilegeName | PrivilegeLevel;
  /** Time to wait for each answer before resending; default 1000 ms. */
  timeoutMs?: number;
  /** Resends after the first attempt; default 2, so an unreachable BMC fails after 3 x timeoutMs. */
  retries?: number;
  /** How long to wait for Get Channel Cipher Suites when no suite is given; default 500 ms. */
  cipherSuiteProbeTimeoutMs?: number;
  /** Idle time after which a Get Device ID keeps the session alive; default 15000 ms, 0 = never. */
  keepaliveIntervalMs?: number;
}

export const DEFAULT_IPMI_PORT = 623;
export const DEFAULT_TIMEOUT_MS = 1000;
export const DEFAULT_RETRIES = 2;
export const DEFAULT_CIPHER_SUITE_PROBE_TIMEOUT_MS = 500;
/**
 * Keepalive: half of the shortest session inactivity timeout seen in practice (ipmi_sim closes idle
 * sessions after 30 s; the specification suggests 60 s), the same 15 s ipmitool's SOL uses.
 */
export const DEFAULT_KEEPALIVE_INTERVAL_MS = 15_000;

export interface ResolvedSessionOptions {
  host: string;
  port: number;
  username: Buffer;
  kuid: Buffer;
  kg: Buffer | undefined;
  cipherSuite: number | undefined;
  privilege: PrivilegeLevel;
  timeoutMs: number;
  retries: number;
  cipherSuiteProbeTimeoutMs: number;
  keepaliveIntervalMs: number;
}

const invalid = (message: string) => new IpmiError('INVALID_ARGUMENT', message);

/** Accepts ipmitool's names (case-insensitive, ADMIN for ADMINISTRATOR) and numbers 1-5. */
export function parsePrivilegeLevel(value: string | number): PrivilegeLevel {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 1 && value <= 5) return value as PrivilegeLevel;
    throw invalid(`privilege level ${value} is not 1-5`);
  }
  const name = value.trim().toUpperCase();
  if (name === 'ADMIN') return PrivilegeLevel.ADMINISTRATOR;
  if (name in PrivilegeLevel) return PrivilegeLevel[name as PrivilegeName];
  if (/^[1-5]$/.test(name)) return Number(name) as PrivilegeLevel;
  throw invalid(`unknown privilege level "${value}" (CALLBACK, USER, OPERATOR, ADMINISTRATOR, OEM)`);
}

function nonNegativeInt(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0 || !Number.isInteger(value)) throw invalid(`${what} must be a non-negative integer`);
  return value;
}

export function resolveSessionOptions(o: IpmiSessionOptions): ResolvedSessionOptions {
  if (!o.host || typeof o.host !== 'string') throw invalid('host is required');
  const port = o.port ?? DEFAULT_IPMI_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(`port ${port} is not 1-65535`);
  const username = Buffer.from(o.username ?? '', 'utf8');
  if (username.length > 16) throw invalid('IPMI user names are at most 16 bytes');
  if (o.cipherSuite !== undefined) cipherSuite(o.cipherSuite);
  const timeoutMs = nonNegativeInt(o.timeoutMs, DEFAULT_TIMEOUT_MS, 'timeoutMs');
  if (timeoutMs === 0) throw invalid('timeoutMs must be positive');
  const kg = o.kg === undefined ? undefined : typeof o.kg === 'string' ? Buffer.from(o.kg, 'utf8') : o.kg;
  if (kg && kg.length > 20) throw invalid('K_G is at most 20 bytes');
  return {
    host: o.host,
    port,
    username,
    kuid: passwordKey(o.password ?? ''),
    kg,
    cipherSuite: o.cipherSuite,
    privilege: o.privLevel === undefined ? PrivilegeLevel.ADMINISTRATOR : parsePrivilegeLevel(o.privLevel),
    timeoutMs,
    retries: nonNegativeInt(o.retries, DEFAULT_RETRIES, 'retries'),
    cipherSuiteProbeTimeoutMs: nonNegativeInt(o.cipherSuiteProbeTimeoutMs, DEFAULT_CIPHER_SUITE_PROBE_TIMEOUT_MS, 'cipherSuiteProbeTimeoutMs'),
    keepaliveIntervalMs: nonNegativeInt(o.keepaliveIntervalMs, DEFAULT_KEEPALIVE_INTERVAL_MS, 'keepaliveIntervalMs'),
  };
}

export interface SessionDescription {
  host: string;
  port: number;
  username: string;
  cipherSuite: number | 'auto';
  privLevel: string;
  timeoutMs: number;
  retries: number;
}

/**
 * A password-free description of a session for logs: host, port, user, cipher suite and privilege.
 * Pure; takes the same options object as `IpmiSession.open` and never reads `password` or `kg`.
 */
export function describeSessionFields(o: Pick<IpmiSessionOptions, 'host' | 'username'> & Partial<IpmiSessionOptions>): SessionDescription {
  let priv: string;
  try {
    priv = privilegeName(o.privLevel === undefined ? PrivilegeLevel.ADMINISTRATOR : parsePrivilegeLevel(o.privLevel));
  } catch {
    priv = 'invalid';
  }
  return {
    host: o.host,
    port: o.port ?? DEFAULT_IPMI_PORT,
    username: o.username,
    cipherSuite: o.cipherSuite ?? 'auto',
    privLevel: priv,
    timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    retries: o.retries ?? DEFAULT_RETRIES,
  };
}

/** One line: `lanplus admin@10.0.0.5:623 cipher=3 priv=ADMINISTRATOR` (no secret in it). */
export function describeSession(o: Pick<IpmiSessionOptions, 'host' | 'username'> & Partial<IpmiSessionOptions>): string {
  const d = describeSessionFields(o);
  const host = d.host.includes(':') ? `[${d.host}]` : d.host;
  return `lanplus ${encodeURIComponent(d.username)}@${host}:${d.port} cipher=${d.cipherSuite} priv=${d.privLevel}`;
}
