/**
 * A node as solgate stores it: the user's intent. Observed console state lives apart
 * (console-state.model.ts) and is written only by the conductor that owns the node.
 */
export const CONSOLE_INTERFACES = ['ipmitool-socat', 'native-ipmi-socat', 'ipmitool-shellinabox', 'no-console'] as const;
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
  /** The Nova instance deployed on the node (unique across nodes, as in Ironic), or null. */
  instance_uuid: string | null;
  /** What the node's user (Nova) records about its deployment; secrets masked on the way out. */
  instance_info: Record<string, unknown>;
  /** Operator's maintenance flag and why. solgate never sets it itself: consoles keep running. */
  maintenance: boolean;
  maintenance_reason: string | null;
  /** Nova's flavor match (Placement resource class), Ironic 1.21. */
  resource_class: string | null;
  /** Projects that own (1.50) and lease (1.65) the node. */
  owner: string | null;
  lessee: string | null;
  /** Placement traits (1.37): CUSTOM_* or standard trait names. */
  traits: string[];
  /** Ironic 1.82's shard key (Nova's `[ironic] shard` lists nodes by it). */
  shard: string | null;
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
  /** Bumped on every write (compare-and-set for updates). */
  rev: number;
  /**
   * Bumped only when a field a console is built from changes (CONSOLE_SPEC_FIELDS): owners restart a
   * running console for these, never for Nova writing instance_info or an operator's maintenance flag.
   */
  console_rev: number;
  /**
   * The node's console port, allocated once cluster-wide (allocateConsolePort-6.lua) and kept for as
   * long as the node exists; null until its console first starts (or its ipmi_terminal_port is set).
   */
  allocated_port?: number | null;
  /**
   * Set only on the stand-in for a stored record that cannot be read (NodeRepository.get): why,
   * shown as the node's last_error. Such a node can be shown and deleted, never run or patched.
   */
  record_error?: string;
}

/** The console port a node fixes with driver_info.ipmi_terminal_port, if any. */
export function fixedConsolePort(node: Pick<NodeRecord, 'driver_info'>): number | undefined {
  const v = node.driver_info.ipmi_terminal_port;
  return v === undefined || v === null || v === '' ? undefined : Number(v);
}

/** The fields a user may set on create (POST) and change with PATCH. */
export const WRITABLE_FIELDS = [
  'uuid',
  'name',
  'driver',
  'console_interface',
  'driver_info',
  'conductor_group',
  'description',
  'extra',
  'properties',
  'instance_uuid',
  'instance_info',
  'maintenance',
  'maintenance_reason',
  'resource_class',
  'owner',
  'lessee',
  'traits',
  'shard',
] as const;

/** The Ironic fields a node has until someone sets them (also what older records read as); fresh objects each call. */
export function nodeFieldDefaults(): Pick<NodeRecord, 'instance_uuid' | 'instance_info' | 'maintenance' | 'maintenance_reason' | 'resource_class' | 'owner' | 'lessee' | 'traits' | 'shard'> {
  return { instance_uuid: null, instance_info: {}, maintenance: false, maintenance_reason: null, resource_class: null, owner: null, lessee: null, traits: [], shard: null };
}

/** The fields a running console is built from (or placed by): a change restarts it. */
export const CONSOLE_SPEC_FIELDS = ['driver', 'console_interface', 'driver_info', 'conductor_group'] as const;

/**
 * Ironic node fields solgate shows with Ironic's defaults but does not manage (no provisioning, power,
 * BIOS... here): writing one is refused with a message that says so, not as an unknown field.
 */
export const UNMANAGED_FIELDS = [
  'automated_clean',
  'bios_interface',
  'boot_interface',
  'boot_mode',
  'chassis_uuid',
  'deploy_interface',
  'inspect_interface',
  'management_interface',
  'network_data',
  'network_interface',
  'power_interface',
  'protected',
  'protected_reason',
  'raid_interface',
  'rescue_interface',
  'retired',
  'retired_reason',
  'secure_boot',
  'storage_interface',
  'vendor_interface',
] as const;

/** Ironic 21.4's fault values (ironic/common/faults.py); solgate never sets one, the filter still validates. */
export const FAULTS = ['power failure', 'clean failure', 'rescue abort failure'] as const;

/** Ironic's bound on traits per node. */
export const MAX_TRAITS_PER_NODE = 50;

/** What masks a secret in every response, as Ironic does. */
export const SECRET_MASK = '******';

/** Any driver_info key that carries a secret (Ironic masks keys containing "password"). */
export const isSecretKey = (key: string) => /password|_kg_key$|secret|token/i.test(key);

/** driver_info with every secret replaced by the mask: the only form that leaves the process. */
export function maskDriverInfo(info: DriverInfo): DriverInfo {
  // fromEntries defines own properties: a key named "__proto__" stays a key (an assignment would set the prototype)
  return Object.fromEntries(Object.entries(info).map(([k, v]) => [k, isSecretKey(k) && v !== null && v !== undefined ? SECRET_MASK : v])) as DriverInfo;
}

/** Keys Ironic masks in instance_info: oslo's mask_dict_password words (matched inside a key), and image_url. */
const isInstanceSecretKey = (key: string) =>
  key === 'image_url' || /pass|pswd|secret|token|configdrive|private_key|encrypted_key|fernetkey|sslkey|cephxkey|pskey|keyphrase/i.test(key);

/** instance_info as Ironic shows it without the show_instance_secrets policy: secrets masked, at any depth. */
export function maskInstanceInfo(info: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(info)) {
    if (isInstanceSecretKey(k) && v !== null && v !== undefined && v !== '') out[k] = SECRET_MASK;
    else if (v && typeof v === 'object' && !Array.isArray(v)) out[k] = maskInstanceInfo(v as Record<string, unknown>);
    else out[k] = v;
  }
  return out;
}
