import { protocolError } from '../errors.js';
import { ByteReader } from './bytes.js';
import { ChassisControlAction, CURRENT_CHANNEL, PayloadType } from './constants.js';

/**
 * Request/response data of the IPMI commands this library sends or (in the simulator) serves.
 * Each `encode*Request` builds the request data bytes; each `decode*Response` reads the response
 * data that follows the completion code.
 */

// --- Get Channel Authentication Capabilities (App 0x38, section 22.13) ---

export function encodeGetChannelAuthCapabilitiesRequest(privilege: number, channel = CURRENT_CHANNEL, ipmi2 = true): Buffer {
  return Buffer.from([(ipmi2 ? 0x80 : 0) | (channel & 0x0f), privilege & 0x0f]);
}

export interface ChannelAuthCapabilities {
  channel: number;
  /** Bit mask of IPMI 1.5 authentication types (bit 0 none, 1 MD2, 2 MD5, 4 password/key). */
  authTypes: number;
  /** Bit 7 of byte 2: the BMC returned IPMI v2.0 extended capabilities. */
  extendedCapabilities: boolean;
  kgSet: boolean;
  perMessageAuthDisabled: boolean;
  userLevelAuthDisabled: boolean;
  nonNullUsers: boolean;
  nullUsers: boolean;
  anonymousLogin: boolean;
  supportsIpmi15: boolean;
  supportsIpmi20: boolean;
  oemIana: number;
  oemAux: number;
}

export function decodeChannelAuthCapabilities(data: Buffer): ChannelAuthCapabilities {
  const r = new ByteReader(data, 'Get Channel Authentication Capabilities response');
  const channel = r.u8();
  const auth = r.u8();
  const status = r.u8();
  const ext = r.u8();
  const oemIana = data.length >= 7 ? r.bytes(3).readUIntLE(0, 3) : 0;
  const oemAux = r.remaining >= 1 ? r.u8() : 0;
  return {
    channel,
    authTypes: auth & 0x3f,
    extendedCapabilities: (auth & 0x80) !== 0,
    kgSet: (status & 0x20) !== 0,
    perMessageAuthDisabled: (status & 0x10) !== 0,
    userLevelAuthDisabled: (status & 0x08) !== 0,
    nonNullUsers: (status & 0x04) !== 0,
    nullUsers: (status & 0x02) !== 0,
    anonymousLogin: (status & 0x01) !== 0,
    supportsIpmi15: (ext & 0x01) !== 0,
    supportsIpmi20: (ext & 0x02) !== 0,
    oemIana,
    oemAux,
  };
}

// --- Get Channel Cipher Suites (App 0x54, section 22.15) ---

/** `listIndex` 0..63; bit 7 asks for the list by cipher suite (rather than supported algorithms). */
export function encodeGetChannelCipherSuitesRequest(listIndex: number, channel = CURRENT_CHANNEL): Buffer {
  return Buffer.from([channel & 0x0f, PayloadType.IPMI, 0x80 | (listIndex & 0x3f)]);
}

export function decodeChannelCipherSuitesResponse(data: Buffer): { channel: number; recordData: Buffer } {
  const r = new ByteReader(data, 'Get Channel Cipher Suites response');
  const channel = r.u8();
  const recordData = r.rest();
  if (recordData.length > 16) throw protocolError(`Get Channel Cipher Suites: ${recordData.length} record bytes > 16`);
  return { channel, recordData };
}

// --- Set Session Privilege Level (App 0x3B) / Close Session (App 0x3C) ---

export const encodeSetSessionPrivilegeRequest = (privilege: number) => Buffer.from([privilege & 0x0f]);

export function decodeSetSessionPrivilegeResponse(data: Buffer): number {
  return new ByteReader(data, 'Set Session Privilege Level response').u8() & 0x0f;
}

export function encodeCloseSessionRequest(bmcSessionId: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(bmcSessionId >>> 0, 0);
  return b;
}

// --- Get Device ID (App 0x01) ---

export interface DeviceId {
  deviceId: number;
  deviceRevision: number;
  firmwareMajor: number;
  firmwareMinor: number;
  ipmiVersion: string;
  manufacturerId: number;
  productId: number;
}

export function decodeDeviceId(data: Buffer): DeviceId {
  const r = new ByteReader(data, 'Get Device ID response');
  const deviceId = r.u8();
  const deviceRevision = r.u8() & 0x0f;
  const firmwareMajor = r.u8() & 0x7f;
  const fwMinorBcd = r.u8();
  const ver = r.u8();
  r.skip(1);
  const manufacturerId = r.bytes(3).readUIntLE(0, 3) & 0x0fffff;
  const productId = r.u16();
  return {
    deviceId,
    deviceRevision,
    firmwareMajor,
    firmwareMinor: (fwMinorBcd >> 4) * 10 + (fwMinorBcd & 0x0f),
    ipmiVersion: `${ver & 0x0f}.${ver >> 4}`,
    manufacturerId,
    productId,
  };
}

export function encodeDeviceId(d: { deviceId: number; firmwareMajor: number; firmwareMinor: number; manufacturerId: number; productId: number }): Buffer {
  const out = Buffer.alloc(15);
  out[0] = d.deviceId;
  out[1] = 0x01;
  out[2] = d.firmwareMajor & 0x7f;
  out[3] = ((Math.floor(d.firmwareMinor / 10) % 10) << 4) | (d.firmwareMinor % 10);
  out[4] = 0x02; // IPMI 2.0
  out[5] = 0x81; // chassis device, SDR repository: what a plain server BMC claims
  out.writeUIntLE(d.manufacturerId & 0x0fffff, 6, 3);
  out.writeUInt16LE(d.productId, 9);
  return out;
}

// --- Activate / Deactivate Payload (App 0x48 / 0x49, sections 24.1-24.2) ---

export interface ActivatePayloadOptions {
  instance?: number;
  encrypt: boolean;
  authenticate: boolean;
}

/**
 * SOL auxiliary request byte 1 (table 24-2), 0xC6 as ipmitool has sent it for years: bit 7 activate
 * with encryption, bit 6 with authentication, bits 3:2 = 01 serial/modem alerts deferred while SOL is
 * active, bit 1 = 1 startup handshake: CTS/DCD/DSR are asserted once the console is really there.
 */
export function encodeActivateSolRequest(o: ActivatePayloadOptions): Buffer {
  const aux = (o.encrypt ? 0x80 : 0) | (o.authenticate ? 0x40 : 0) | 0x04 | 0x02;
  return Buffer.from([PayloadType.SOL, o.instance ?? 1, aux, 0, 0, 0]);
}

export interface ActivatePayloadResponse {
  aux: number;
  inboundPayloadSize: number;
  outboundPayloadSize: number;
  port: number;
  vlan: number;
}

export function decodeActivatePayloadResponse(data: Buffer): ActivatePayloadResponse {
  const r = new ByteReader(data, 'Activate Payload response');
  const aux = r.u32();
  return { aux, inboundPayloadSize: r.u16(), outboundPayloadSize: r.u16(), port: r.u16(), vlan: r.u16() };
}

export function encodeActivatePayloadResponse(m: ActivatePayloadResponse): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt32LE(m.aux >>> 0, 0);
  out.writeUInt16LE(m.inboundPayloadSize, 4);
  out.writeUInt16LE(m.outboundPayloadSize, 6);
  out.writeUInt16LE(m.port, 8);
  out.writeUInt16LE(m.vlan, 10);
  return out;
}

export const encodeDeactivateSolRequest = (instance = 1) => Buffer.from([PayloadType.SOL, instance, 0, 0, 0, 0]);

// --- Get Payload Activation Status (App 0x4A) ---

export function decodePayloadActivationStatus(data: Buffer): { capacity: number; activeInstances: number[] } {
  const r = new ByteReader(data, 'Get Payload Activation Status response');
  const capacity = r.u8() & 0x0f;
  const mask = r.u16();
  const activeInstances: number[] = [];
  for (let i = 0; i < 16; i++) if (mask & (1 << i)) activeInstances.push(i + 1);
  return { capacity, activeInstances };
}

// --- Chassis (NetFn 0x00) ---

export interface ChassisStatus {
  powerOn: boolean;
  powerOverload: boolean;
  powerInterlock: boolean;
  powerFault: boolean;
  powerControlFault: boolean;
  /** 0 stay off, 1 restore previous, 2 always on, 3 unknown. */
  powerRestorePolicy: number;
  lastPowerEvent: number;
  miscChassisState: number;
}

export function decodeChassisStatus(data: Buffer): ChassisStatus {
  const r = new ByteReader(data, 'Get Chassis Status response');
  const p = r.u8();
  const lastPowerEvent = r.u8();
  const miscChassisState = r.u8();
  return {
    powerOn: (p & 0x01) !== 0,
    powerOverload: (p & 0x02) !== 0,
    powerInterlock: (p & 0x04) !== 0,
    powerFault: (p & 0x08) !== 0,
    powerControlFault: (p & 0x10) !== 0,
    powerRestorePolicy: (p >> 5) & 0x03,
    lastPowerEvent,
    miscChassisState,
  };
}

export const encodeChassisControlRequest = (action: ChassisControlAction) => Buffer.from([action & 0x0f]);

// --- SOL configuration parameters (Transport 0x22, section 26.3) ---

export const SolParameter = {
  SET_IN_PROGRESS: 0,
  ENABLE: 1,
  AUTHENTICATION: 2,
  CHARACTER_ACCUMULATE: 3,
  RETRY: 4,
  NON_VOLATILE_BIT_RATE: 5,
  VOLATILE_BIT_RATE: 6,
  PAYLOAD_CHANNEL: 7,
  PAYLOAD_PORT: 8,
} as const;

export function encodeGetSolConfigRequest(parameter: number, channel = CURRENT_CHANNEL): Buffer {
  return Buffer.from([channel & 0x0f, parameter, 0, 0]);
}

/** Response data: parameter revision, then the parameter's bytes. */
export function decodeGetSolConfigResponse(data: Buffer): { revision: number; value: Buffer } {
  const r = new ByteReader(data, 'Get SOL Configuration Parameters response');
  return { revision: r.u8(), value: r.rest() };
}
