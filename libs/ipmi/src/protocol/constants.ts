/** Numbers from the IPMI v2.0 specification (rev. 1.1), named once. */

/** RMCP header for IPMI class messages: version 6, reserved, sequence 0xFF (no RMCP ack), class 7. */
export const RMCP_VERSION = 0x06;
export const RMCP_NO_ACK_SEQUENCE = 0xff;
export const RMCP_CLASS_IPMI = 0x07;
export const RMCP_CLASS_ASF = 0x06;

/** Session header "authentication type / format" byte. */
export const AUTH_TYPE_NONE = 0x00;
export const AUTH_TYPE_RMCP_PLUS = 0x06;

export const PayloadType = {
  IPMI: 0x00,
  SOL: 0x01,
  OEM_EXPLICIT: 0x02,
  OPEN_SESSION_REQUEST: 0x10,
  OPEN_SESSION_RESPONSE: 0x11,
  RAKP1: 0x12,
  RAKP2: 0x13,
  RAKP3: 0x14,
  RAKP4: 0x15,
} as const;

export const NetFn = {
  CHASSIS: 0x00,
  APP: 0x06,
  TRANSPORT: 0x0c,
} as const;

export const Cmd = {
  // App
  GET_DEVICE_ID: 0x01,
  GET_SYSTEM_GUID: 0x37,
  GET_CHANNEL_AUTH_CAPABILITIES: 0x38,
  SET_SESSION_PRIVILEGE_LEVEL: 0x3b,
  CLOSE_SESSION: 0x3c,
  ACTIVATE_PAYLOAD: 0x48,
  DEACTIVATE_PAYLOAD: 0x49,
  GET_PAYLOAD_ACTIVATION_STATUS: 0x4a,
  GET_PAYLOAD_INSTANCE_INFO: 0x4b,
  GET_CHANNEL_CIPHER_SUITES: 0x54,
  // Chassis
  GET_CHASSIS_STATUS: 0x01,
  CHASSIS_CONTROL: 0x02,
  // Transport
  SET_SOL_CONFIGURATION_PARAMETERS: 0x21,
  GET_SOL_CONFIGURATION_PARAMETERS: 0x22,
} as const;

/** The BMC's responder address and the software ID a remote console uses as requester. */
export const BMC_SLAVE_ADDRESS = 0x20;
export const REMOTE_CONSOLE_SWID = 0x81;

/** "This channel": the channel the request arrived on. */
export const CURRENT_CHANNEL = 0x0e;

export const PrivilegeLevel = {
  CALLBACK: 1,
  USER: 2,
  OPERATOR: 3,
  ADMINISTRATOR: 4,
  OEM: 5,
} as const;
export type PrivilegeLevel = (typeof PrivilegeLevel)[keyof typeof PrivilegeLevel];
export type PrivilegeName = keyof typeof PrivilegeLevel;

export function privilegeName(level: number): string {
  const entry = Object.entries(PrivilegeLevel).find(([, v]) => v === level);
  return entry ? entry[0] : `level ${level}`;
}

/** RAKP 1 "requested maximum privilege" byte: bit 4 set = look the user up by name only. */
export const ROLE_NAME_ONLY_LOOKUP = 0x10;

export const AuthAlg = { NONE: 0x00, HMAC_SHA1: 0x01, HMAC_MD5: 0x02, HMAC_SHA256: 0x03 } as const;
export type AuthAlg = (typeof AuthAlg)[keyof typeof AuthAlg];
export const IntegrityAlg = { NONE: 0x00, HMAC_SHA1_96: 0x01, HMAC_MD5_128: 0x02, MD5_128: 0x03, HMAC_SHA256_128: 0x04 } as const;
export type IntegrityAlg = (typeof IntegrityAlg)[keyof typeof IntegrityAlg];
export const ConfAlg = { NONE: 0x00, AES_CBC_128: 0x01, XRC4_128: 0x02, XRC4_40: 0x03 } as const;
export type ConfAlg = (typeof ConfAlg)[keyof typeof ConfAlg];

/**
 * Generic completion codes (table 5-2) that the client and the simulator both act on; their texts
 * are errors.ts's COMPLETION_CODE_TEXT. Command-specific codes (0x80-0xBE) follow per command.
 */
export const CompletionCode = {
  OK: 0x00,
  INVALID_COMMAND: 0xc1,
  REQUEST_DATA_LENGTH_INVALID: 0xc7,
  INVALID_DATA_FIELD: 0xcc,
  INSUFFICIENT_PRIVILEGE: 0xd4,
  NOT_SUPPORTED_IN_PRESENT_STATE: 0xd5,
} as const;

/** Set Session Privilege Level completion codes (table 22-21). */
export const SetSessionPrivilegeCc = { LEVEL_NOT_AVAILABLE: 0x80, LEVEL_EXCEEDS_LIMIT: 0x81, CANNOT_DISABLE_USER_AUTH: 0x82 } as const;

/** Close Session completion codes (table 22-22). */
export const CloseSessionCc = { INVALID_SESSION_ID: 0x87, INVALID_SESSION_HANDLE: 0x88 } as const;

/** Get SOL Configuration Parameters completion codes (table 26-4). */
export const GetSolConfigCc = { PARAMETER_NOT_SUPPORTED: 0x80 } as const;

/** Activate Payload completion codes (table 24-2). */
export const ActivatePayloadCc = {
  ALREADY_ACTIVE: 0x80,
  TYPE_DISABLED: 0x81,
  LIMIT_REACHED: 0x82,
  CANNOT_ACTIVATE_WITH_ENCRYPTION: 0x83,
  CANNOT_ACTIVATE_WITHOUT_ENCRYPTION: 0x84,
} as const;

/** Deactivate Payload completion codes (table 24-3). */
export const DeactivatePayloadCc = { ALREADY_DEACTIVATED: 0x80, TYPE_DISABLED: 0x81 } as const;

/** Chassis Control (table 28-4) data byte. */
export const ChassisControlAction = {
  POWER_DOWN: 0x00,
  POWER_UP: 0x01,
  POWER_CYCLE: 0x02,
  HARD_RESET: 0x03,
  DIAGNOSTIC_INTERRUPT: 0x04,
  SOFT_SHUTDOWN: 0x05,
} as const;
export type ChassisControlAction = (typeof ChassisControlAction)[keyof typeof ChassisControlAction];

/** The IPMI v2.0 "standard" record tag in Get Channel Cipher Suites data. */
export const CIPHER_SUITE_RECORD_STANDARD = 0xc0;
export const CIPHER_SUITE_RECORD_OEM = 0xc1;
