import { isIP } from 'node:net';
import { CONDUCTOR_GROUP_RULE, invalidInput, isUuid, isValidGroup, newUuid, normalizeGroup, ownEntry, SolgateError } from '#libs/common';
import {
  CONSOLE_INTERFACES,
  DEFAULT_CONSOLE_INTERFACE,
  DRIVERS,
  LEGACY_DRIVERS,
  MAX_TRAITS_PER_NODE,
  PRIV_LEVELS,
  UNMANAGED_FIELDS,
  WRITABLE_FIELDS,
  type ConsoleInterface,
  type Driver,
  type DriverInfo,
  type NodeRecord,
} from './node.model.js';

/**
 * Validation at the edge: everything that may later reach a command line is checked here on write
 * (and the argv builder checks again on use). Error messages name the field and the rule.
 */

const HOST_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOSTNAME_RE = new RegExp(`^(?=.{1,253}$)${HOST_LABEL}(?:\\.${HOST_LABEL})*\\.?$`);
/** IPMI user names are at most 16 bytes; we also refuse anything but plain characters. */
export const IPMI_USERNAME_RE = /^[A-Za-z0-9_.@+-]{1,16}$/;
/** Ironic's logical names: RFC 3986 unreserved characters. */
const NAME_RE = /^[A-Za-z0-9\-._~]{1,255}$/;
/** Placement trait names: CUSTOM_* or a standard (os-traits) name; both are upper case, digits and underscores. */
const TRAIT_RE = /^[A-Z][A-Z0-9_]{0,254}$/;
const MAX_JSON_BYTES = 64 * 1024;

export function isValidHost(value: string): boolean {
  if (isIP(value) !== 0) return true;
  const bare = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  if (isIP(bare) === 6) return true;
  return HOSTNAME_RE.test(value) && !/^\d+(\.\d+)*$/.test(value);
}

function port(field: string, value: unknown): number | string {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw invalidInput(`Invalid ${field} ${JSON.stringify(value)}: must be an integer port between 1 and 65535.`);
  return value as number | string; // keep the JSON type as sent, as Ironic does
}

/** Validate driver_info; returns a copy (null values removed, ipmi_priv_level upper-cased). */
export function validateDriverInfo(value: unknown): DriverInfo {
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidInput('Invalid driver_info: must be an object.');
  const info = { ...(value as Record<string, unknown>) } as DriverInfo;
  for (const [k, v] of Object.entries(info)) {
    if (v === null) {
      delete info[k];
      continue;
    }
    switch (k) {
      case 'ipmi_address':
        if (typeof v !== 'string' || !isValidHost(v))
          throw invalidInput(`Invalid ipmi_address ${JSON.stringify(v)}: must be a host name or an IPv4/IPv6 address.`);
        break;
      case 'ipmi_port':
      case 'ipmi_terminal_port':
        port(k, v);
        break;
      case 'ipmi_username':
        if (typeof v !== 'string' || (v !== '' && !IPMI_USERNAME_RE.test(v)))
          throw invalidInput(`Invalid ipmi_username ${JSON.stringify(v)}: at most 16 characters from A-Z a-z 0-9 _ . @ + -.`);
        break;
      case 'ipmi_password':
        if (typeof v !== 'string') throw invalidInput('Invalid ipmi_password: must be a string.');
        if (Buffer.byteLength(v) > 20 || /[\0\r\n]/.test(v))
          throw invalidInput('Invalid ipmi_password: IPMI 2.0 passwords are at most 20 bytes, without NUL or line breaks.');
        break;
      case 'ipmi_priv_level':
        if (typeof v !== 'string' || !PRIV_LEVELS.includes(v.toUpperCase() as never))
          throw invalidInput(`Invalid ipmi_priv_level ${JSON.stringify(v)}: one of ${PRIV_LEVELS.join(', ')}.`);
        info[k] = v.toUpperCase() as DriverInfo['ipmi_priv_level'];
        break;
      case 'ipmi_cipher_suite': {
        const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,2}$/.test(v) ? Number(v) : NaN;
        if (!Number.isInteger(n) || n < 0 || n > 17) throw invalidInput(`Invalid ipmi_cipher_suite ${JSON.stringify(v)}: an integer from 0 to 17.`);
        break;
      }
      case 'solgate_console_capture':
        if (v !== 'on-demand' && v !== 'always') throw invalidInput(`Invalid solgate_console_capture ${JSON.stringify(v)}: on-demand or always.`);
        break;
      default:
        if (!/^[A-Za-z0-9_.-]{1,64}$/.test(k)) throw invalidInput(`Invalid driver_info key ${JSON.stringify(k)}.`);
    }
  }
  if (Buffer.byteLength(JSON.stringify(info)) > MAX_JSON_BYTES) throw invalidInput('Invalid driver_info: larger than 64 KiB.');
  return info;
}

function jsonObject(field: string, value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidInput(`Invalid ${field}: must be an object.`);
  if (Buffer.byteLength(JSON.stringify(value)) > MAX_JSON_BYTES) throw invalidInput(`Invalid ${field}: larger than 64 KiB.`);
  return value as Record<string, unknown>;
}

export function validateName(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string' || !NAME_RE.test(value) || isUuid(value))
    throw invalidInput(`Invalid name ${JSON.stringify(value)}: 1-255 characters from A-Z a-z 0-9 - . _ ~, and not a UUID.`);
  return value;
}

/** Resolve `driver` (legacy names included) and `console_interface` together. */
export function resolveDriver(driver: unknown, consoleInterface: unknown): { driver: Driver; console_interface: ConsoleInterface } {
  if (typeof driver !== 'string' || driver === '') throw invalidInput('Invalid driver: a driver is required.');
  const legacy = ownEntry(LEGACY_DRIVERS, driver);
  if (!legacy && !DRIVERS.includes(driver as Driver))
    throw invalidInput(`Invalid driver ${JSON.stringify(driver)}: supported are ${[...DRIVERS, ...Object.keys(LEGACY_DRIVERS)].join(', ')}.`);
  const resolved = legacy ?? { driver: driver as Driver, console_interface: DEFAULT_CONSOLE_INTERFACE };
  if (consoleInterface === undefined || consoleInterface === null) return resolved;
  if (typeof consoleInterface !== 'string' || !CONSOLE_INTERFACES.includes(consoleInterface as ConsoleInterface))
    throw invalidInput(`Invalid console_interface ${JSON.stringify(consoleInterface)}: one of ${CONSOLE_INTERFACES.join(', ')}.`);
  return { driver: resolved.driver, console_interface: consoleInterface as ConsoleInterface };
}

function stringOrNull(field: string, value: unknown, max = 255): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length > max) throw invalidInput(`Invalid ${field}: a string of at most ${max} characters.`);
  return value;
}

function group(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string' || !isValidGroup(value)) throw invalidInput(`Invalid conductor_group ${JSON.stringify(value)}: ${CONDUCTOR_GROUP_RULE}.`);
  return normalizeGroup(value);
}

/** Ironic's instance_uuid check (args.uuid), stored lower-case. */
export function validateInstanceUuid(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || !isUuid(value)) throw invalidInput(`Expected UUID for instance_uuid: ${String(value)}`);
  return value.toLowerCase();
}

export function validateTraits(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidInput('Invalid traits: must be a list of trait names.');
  const out: string[] = [];
  for (const t of value) {
    if (typeof t !== 'string' || !TRAIT_RE.test(t))
      throw invalidInput(`Invalid trait ${JSON.stringify(t)}: a CUSTOM_* or standard trait name (A-Z, 0-9 and _, at most 255 characters).`);
    if (!out.includes(t)) out.push(t);
  }
  if (out.length > MAX_TRAITS_PER_NODE) throw invalidInput(`Invalid traits: a node may have at most ${MAX_TRAITS_PER_NODE} traits, ${out.length} given.`);
  return out.sort(); // Ironic keeps them sorted
}

export type WritableNodeFields = Pick<NodeRecord, (typeof WRITABLE_FIELDS)[number]>;

/** Refuse Ironic fields this service shows with defaults but does not manage, saying so (not "unknown field"). */
export function assertManagedFields(fields: string[]): void {
  const unmanaged = fields.filter((k) => (UNMANAGED_FIELDS as readonly string[]).includes(k));
  if (unmanaged.length > 0)
    throw invalidInput(
      `Setting ${unmanaged.map((k) => `'${k}'`).join(', ')} is not supported by this service: solgate keeps Ironic's node records for serial consoles and shows ${unmanaged.length === 1 ? 'this field' : 'these fields'} with Ironic's defaults only.`,
    );
}

/** Fields of a POST body or of a patched node, validated and normalized. */
export function validateNodeFields(body: unknown): WritableNodeFields {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalidInput('Schema error for node: the body must be a JSON object.');
  const obj = body as Record<string, unknown>;
  assertManagedFields(Object.keys(obj));
  const unknown = Object.keys(obj).filter((k) => !(WRITABLE_FIELDS as readonly string[]).includes(k));
  if (unknown.length > 0)
    throw invalidInput(
      `Schema error for node: Additional properties are not allowed (${unknown.map((k) => `'${k}'`).join(', ')} ${unknown.length === 1 ? 'was' : 'were'} unexpected)`,
    );
  let uuid = obj.uuid;
  if (uuid === undefined || uuid === null) uuid = newUuid();
  if (typeof uuid !== 'string' || !isUuid(uuid)) throw invalidInput(`Invalid uuid ${JSON.stringify(uuid)}: must be a UUID.`);
  const { driver, console_interface } = resolveDriver(obj.driver, obj.console_interface);
  const maintenance = obj.maintenance === undefined || obj.maintenance === null ? false : parseIronicBoolean('maintenance', obj.maintenance);
  return {
    uuid: uuid.toLowerCase(),
    name: validateName(obj.name),
    driver,
    console_interface,
    driver_info: validateDriverInfo(obj.driver_info),
    conductor_group: group(obj.conductor_group),
    description: stringOrNull('description', obj.description, 4096),
    extra: jsonObject('extra', obj.extra),
    properties: jsonObject('properties', obj.properties),
    instance_uuid: validateInstanceUuid(obj.instance_uuid),
    instance_info: jsonObject('instance_info', obj.instance_info),
    maintenance,
    // Ironic clears the reason whenever maintenance is off (conductor's update_node).
    maintenance_reason: maintenance ? stringOrNull('maintenance_reason', obj.maintenance_reason, 4096) : null,
    resource_class: stringOrNull('resource_class', obj.resource_class, 80),
    owner: stringOrNull('owner', obj.owner),
    lessee: stringOrNull('lessee', obj.lessee),
    traits: validateTraits(obj.traits),
    shard: stringOrNull('shard', obj.shard),
  };
}

/** Which fixed console ports (`ipmi_terminal_port`) a node may ask for: the conductors' settings. */
export interface TerminalPortPolicy {
  /** SOLGATE_PORT_RANGE, STOP exclusive. */
  range: { start: number; stop: number };
  /** SOLGATE_ALLOW_PORTS_OUTSIDE_RANGE */
  allowOutsideRange: boolean;
  /** SOLGATE_ALLOW_PRIVILEGED_PORTS */
  allowPrivileged: boolean;
}

/**
 * A node's fixed console port is bound by its conductor — often root, who may bind anything: a
 * privileged port (below 1024: sshd's, a web server's) or one outside the range the operator set
 * aside for consoles is refused unless the conductors are configured to allow it.
 */
export function checkTerminalPort(value: unknown, policy: TerminalPortPolicy): void {
  if (value === undefined || value === null || value === '') return;
  const port = Number(value);
  if (!Number.isInteger(port)) return; // validateDriverInfo reports it
  if (port < 1024 && !policy.allowPrivileged)
    throw invalidInput(
      `Invalid ipmi_terminal_port ${port}: a privileged port (below 1024) is refused unless the conductors run with SOLGATE_ALLOW_PRIVILEGED_PORTS=true.`,
    );
  const { start, stop } = policy.range;
  if ((port < start || port >= stop) && !policy.allowOutsideRange && !(port < 1024 && policy.allowPrivileged))
    throw invalidInput(
      `Invalid ipmi_terminal_port ${port}: outside the console port range ${start}:${stop} (SOLGATE_PORT_RANGE); refused unless the conductors run with SOLGATE_ALLOW_PORTS_OUTSIDE_RANGE=true.`,
    );
}

/** What a console needs before it can be enabled (Ironic checks this when the console starts; we check on PUT). */
export function assertConsoleStartable(node: NodeRecord): void {
  if (node.console_interface === 'no-console')
    throw new SolgateError('CONSOLE_NOT_SUPPORTED', `Driver ${node.driver} does not support console (disabled or not implemented).`);
  const missing = ['ipmi_address'].filter((k) => node.driver_info[k] === undefined || node.driver_info[k] === '');
  if (missing.length > 0) throw invalidInput(`Missing the following IPMI credentials in node's driver_info: ${missing.join(', ')}.`);
}

/** Ironic's accepted spellings for a boolean `enabled`. */
export function parseIronicBoolean(field: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  const accepted = ['0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'];
  const s = typeof value === 'string' || typeof value === 'number' ? String(value).toLowerCase() : undefined;
  if (s === undefined || !accepted.includes(s))
    throw invalidInput(`Invalid ${field}: Unrecognized value '${String(value)}', acceptable values are: ${accepted.map((a) => `'${a}'`).join(', ')}`);
  return ['1', 't', 'true', 'y', 'yes', 'on'].includes(s);
}
