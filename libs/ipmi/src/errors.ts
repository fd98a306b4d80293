/**
 * Typed errors of the IPMI library. Every failure a caller can see is an `IpmiError` with a stable
 * `code`; decoders never throw anything else (a property test holds them to it).
 */
export type IpmiErrorCode =
  | 'BAD_PASSWORD' // RAKP 2 HMAC mismatch, or the BMC rejected our RAKP 3 (wrong password or K_G)
  | 'UNKNOWN_USER' // the BMC does not know the user name (RAKP 2 status, or no RAKP 2 at all)
  | 'UNSUPPORTED_CIPHER_SUITE' // the BMC refused the proposed algorithms, or we do not implement the suite
  | 'PRIVILEGE' // the requested privilege level is not available to this user / channel
  | 'SESSION_LIMIT' // the BMC has no free session slot
  | 'UNREACHABLE' // no answer at all from the BMC (nothing came back to the very first request)
  | 'TIMEOUT' // the BMC answered earlier but stopped answering (request, SOL packet or keepalive)
  | 'PAYLOAD_ALREADY_ACTIVE' // SOL is already active on another session
  | 'PAYLOAD_DISABLED' // SOL is disabled on the BMC (or, for some BMCs, the host is powered off)
  | 'SOL_DEACTIVATED' // the BMC ended our SOL payload (another session took it, or it shut down)
  | 'COMPLETION_CODE' // an IPMI command answered with a non-zero completion code
  | 'SESSION_CLOSED' // the session was closed (by us, or lost) before or while a request ran
  | 'INVALID_ARGUMENT' // a caller error: bad option value
  | 'PROTOCOL'; // a malformed, truncated or unauthenticated packet, or an unexpected answer

export interface IpmiErrorDetails {
  completionCode?: number;
  rmcpStatus?: number;
  host?: string;
  port?: number;
  [key: string]: unknown;
}

export class IpmiError extends Error {
  constructor(
    readonly code: IpmiErrorCode,
    message: string,
    readonly details: IpmiErrorDetails = {},
  ) {
    super(message);
    this.name = 'IpmiError';
  }
}

export const isIpmiError = (e: unknown): e is IpmiError => e instanceof IpmiError;

export const protocolError = (message: string, details?: IpmiErrorDetails) => new IpmiError('PROTOCOL', message, details);

/** Generic completion codes (IPMI v2.0 table 5-2). Command-specific codes (0x80-0xBE) are mapped by callers. */
export const COMPLETION_CODE_TEXT: Readonly<Record<number, string>> = {
  0x00: 'Command completed normally',
  0xc0: 'Node busy',
  0xc1: 'Invalid command',
  0xc2: 'Command invalid for given LUN',
  0xc3: 'Timeout while processing command',
  0xc4: 'Out of space',
  0xc5: 'Reservation cancelled or invalid',
  0xc6: 'Request data truncated',
  0xc7: 'Request data length invalid',
  0xc8: 'Request data field length limit exceeded',
  0xc9: 'Parameter out of range',
  0xca: 'Cannot return number of requested data bytes',
  0xcb: 'Requested sensor, data, or record not present',
  0xcc: 'Invalid data field in request',
  0xcd: 'Command illegal for specified sensor or record type',
  0xce: 'Command response could not be provided',
  0xcf: 'Cannot execute duplicated request',
  0xd0: 'SDR repository in update mode',
  0xd1: 'Device in firmware update mode',
  0xd2: 'BMC initialization in progress',
  0xd3: 'Destination unavailable',
  0xd4: 'Insufficient privilege level',
  0xd5: 'Command not supported in present state',
  0xd6: 'Cannot execute command, command disabled',
  0xff: 'Unspecified error',
};

export function completionCodeText(cc: number): string {
  return COMPLETION_CODE_TEXT[cc] ?? `Completion code 0x${cc.toString(16).padStart(2, '0')}`;
}

/** RMCP+ and RAKP message status codes (IPMI v2.0 table 13-15). */
export const RMCPP_STATUS_TEXT: Readonly<Record<number, string>> = {
  0x00: 'no errors',
  0x01: 'insufficient resources to create a session',
  0x02: 'invalid session ID',
  0x03: 'invalid payload type',
  0x04: 'invalid authentication algorithm',
  0x05: 'invalid integrity algorithm',
  0x06: 'no matching authentication payload',
  0x07: 'no matching integrity payload',
  0x08: 'inactive session ID',
  0x09: 'invalid role',
  0x0a: 'unauthorized role or privilege level requested',
  0x0b: 'insufficient resources to create a session at the requested role',
  0x0c: 'invalid name length',
  0x0d: 'unauthorized name',
  0x0e: 'unauthorized GUID',
  0x0f: 'invalid integrity check value',
  0x10: 'invalid confidentiality algorithm',
  0x11: 'no cipher suite match with proposed security algorithms',
  0x12: 'illegal or unrecognized parameter',
};

export function rmcpStatusText(status: number): string {
  return RMCPP_STATUS_TEXT[status] ?? `RMCP+ status 0x${status.toString(16).padStart(2, '0')}`;
}
