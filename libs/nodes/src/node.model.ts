/**
 * A node as solgate stores it: the user's intent. Observed console state lives apart
 * (console-state.model.ts) and is written only by the conductor that owns the node.
 */
export const CONSOLE_INTERFACES = ['ipmitool-socat', 'native-ipmi-socat', 'no-console'] as const;
export type ConsoleInterface = (typeof CONSOLE_INTERFACES)[number];

/** Hardware types we implement, and the legacy classic-driver names that map onto them. */
export const DRIVERS = ['ipmi'] as const;
export type Driver = (typeof DRIVERS)[number];
export const LEGACY_DRIVERS: Record<string, { driver: Driver; console_interface: ConsoleInterface }> = {
  pxe_ipmitool_socat: { driver: 'ipmi', console_interface: 'ipmitool-socat' },
  agent_ipmitool_socat: { driver: 'ipmi', console_interface: 'ipmitool-socat' },
};
export const DEFAULT_CONSOLE_INTERFACE: ConsoleInterface = 'ipmitool-socat';

/** driver_info as stored: known IPMI keys validated; other keys kept as given (never used on a command line). */
export type DriverInfo = Record<string, unknown> & {
  ipmi_address?: string;
  ipmi_port?: number | string;
  ipmi_username?: string;
  ipmi_password?: string;
  ipmi_priv_level?: PrivLevel;
  ipmi_cipher_suite?: number | string;
  ipmi_terminal_port?: number | string;
};

export const PRIV_LEVELS = ['ADMINISTRATOR', 'OPERATOR', 'USER', 'CALLBACK'] as const;
export type PrivLevel = (typeof PRIV_LEVELS)[number];

export interface NodeRecord {
  uuid: string;
  name: string | null;
  driver: Driver;
  console_interface: ConsoleInterface;
  driver_info: DriverInfo;
  conductor_group: string;
  description: string | null;
  extra: Record<string, unknown>;
  properties: Record<string, unknown>;
  /** The user's intent; only the API and the CLI change it. A failure never flips it. */
  console_enabled: boolean;
  /**
   * Bumped on every disabled→enabled transition, so an owner restarts a console that a quick
   * disable→enable (Nova's console reset) asked for, even if it never saw the disabled state.
   */
  console_generation: number;
  provision_state: string;
  created_at: number;
  updated_at: number | null;
  /** Bumped on every write; owners restart a running console when the spec it runs changes. */
  rev: number;
}

/** The fields a user may set on create (POST) and change with PATCH. */
export const WRITABLE_FIELDS = ['uuid', 'name', 'driver', 'console_interface', 'driver_info', 'conductor_group', 'description', 'extra', 'properties'] as const;

/** What masks a secret in every response, as Ironic does. */
export const SECRET_MASK = '******';

/** Any driver_info key that carries a secret (Ironic masks keys containing "password"). */
export const isSecretKey = (key: string) => /password|_kg_key$|secret|token/i.test(key);

/** driver_info with every secret replaced by the mask: the only form that leaves the process. */
export function maskDriverInfo(info: DriverInfo): DriverInfo {
  // fromEntries defines own properties: a key named "__proto__" stays a key (an assignment would set the prototype)
  return Object.fromEntries(Object.entries(info).map(([k, v]) => [k, isSecretKey(k) && v !== null && v !== undefined ? SECRET_MASK : v])) as DriverInfo;
}
