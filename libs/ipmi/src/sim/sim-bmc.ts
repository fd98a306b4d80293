import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { randomBytes, randomInt } from 'node:crypto';
import { monotonicMs } from '#libs/common';
import {
  ActivatePayloadCc,
  ChassisControlAction,
  CloseSessionCc,
  Cmd,
  CompletionCode,
  ConfAlg,
  DeactivatePayloadCc,
  IntegrityAlg,
  NetFn,
  PayloadType,
  PrivilegeLevel,
  ROLE_NAME_ONLY_LOOKUP,
  GetSolConfigCc,
  SetSessionPrivilegeCc,
} from '../protocol/constants.js';
import { cipherSuite, encodeCipherSuiteRecords, type CipherSuite } from '../protocol/cipher-suites.js';
import { encodeActivatePayloadResponse, encodeDeviceId, SolParameter } from '../protocol/commands.js';
import {
  codesEqual,
  deriveSessionKeys,
  passwordKey,
  rakp2AuthCode,
  rakp3AuthCode,
  rakp4Icv,
  type RakpParams,
} from '../protocol/crypto.js';
import { decodeIpmiRequest, encodeIpmiResponse, type IpmiRequest } from '../protocol/ipmi-message.js';
import {
  decodeOpenSessionRequest,
  decodeRakp1,
  decodeRakp3,
  encodeOpenSessionResponse,
  encodeRakp2,
  encodeRakp4,
} from '../protocol/rakp.js';
import { decodeV15Packet, decodeV2Packet, encodeV15Packet, encodeV2Packet, peekPacket, type SessionSecurity } from '../protocol/rmcp.js';
import { SolEndpoint } from '../protocol/sol-endpoint.js';
import { decodeSolPacket, encodeSolPacket, SolOperation, SolStatus } from '../protocol/sol-packet.js';
import { SimSerialLine, type SerialBehaviour } from './serial-line.js';

export interface SimUser {
  name: string;
  password: string;
  /** Highest privilege this user may reach; default ADMINISTRATOR. */
  privilege?: PrivilegeLevel;
}

export interface SimBmcOptions {
  index: number;
  name: string;
  address: string;
  /** 0 = let the kernel pick. */
  port: number;
  users: SimUser[];
  cipherSuites: number[];
  /** Idle time after which an established session is closed (spec default-ish: 60 s). */
  sessionTimeoutMs: number;
  /** Half-open sessions (no RAKP 3 yet) are dropped after this. */
  setupTimeoutMs: number;
  maxSessions: number;
  serial: SerialBehaviour;
  /** Reported to consoles in Activate Payload; the largest SOL packet (header included) we take. */
  solInboundPayloadSize: number;
  /** BMC-side SOL retransmission (the SOL "retry interval"/"retry count" parameters). */
  solRetryIntervalMs: number;
  solRetries: number;
  /** Delay before a power cycle turns the node back on. */
  powerCycleDelayMs: number;
}

export type SolEndReason = 'deactivated' | 'taken-over' | 'session-closed' | 'session-timeout' | 'bmc-stopped';

/** One SOL activation: which session held the payload, from when to when. */
export interface SolActivation {
  bmcSessionId: number;
  consoleSessionId: number;
  remote: string;
  user: string;
  activatedAt: number;
  deactivatedAt: number | null;
  endReason: SolEndReason | null;
  /** taken-over: the session that deactivated it (its remote, when that session was opened, whether it had activated SOL before). */
  takenOverBy?: { remote: string; sessionOpenedAt: number; user: string };
}

type SessionState = 'open' | 'rakp2-sent' | 'active';

interface SimSession {
  bmcSessionId: number;
  /** Wall-clock time of its Open Session request. */
  openedAt: number;
  consoleSessionId: number;
  remote: RemoteInfo;
  state: SessionState;
  suite: CipherSuite;
  requestedPrivilege: number;
  user: SimUser | null;
  /** Limit for Set Session Privilege Level: min(requested in RAKP 1, the user's maximum). */
  maxPrivilege: number;
  privilege: number;
  params: RakpParams | null;
  security: SessionSecurity | null;
  txSequence: number;
  rxHighest: number;
  lastActivity: number;
  rakp2: Buffer | null;
  rakp4: Buffer | null;
}

interface SolState {
  owner: SimSession;
  endpoint: SolEndpoint;
  record: SolActivation;
  timer: NodeJS.Timeout | null;
  timerAt: number;
}

const EMPTY = Buffer.alloc(0);
const {
  OK: CC_OK,
  INVALID_COMMAND: CC_INVALID_COMMAND,
  REQUEST_DATA_LENGTH_INVALID: CC_REQUEST_LENGTH,
  INVALID_DATA_FIELD: CC_INVALID_FIELD,
  INSUFFICIENT_PRIVILEGE: CC_PRIVILEGE,
  NOT_SUPPORTED_IN_PRESENT_STATE: CC_NOT_IN_PRESENT_STATE,
} = CompletionCode;

interface Reply {
  cc: number;
  data?: Buffer;
  after?: () => void;
}

/**
 * One simulated BMC: a UDP socket speaking IPMI v2.0 / RMCP+ as a server (the same protocol code as
 * the client, the other way round), with users, a power state, a serial line and one SOL payload
 * instance. It answers Get Channel Authentication Capabilities and Get Channel Cipher Suites,
 * refuses a second SOL activation with "payload already active", closes idle sessions, and records
 * every SOL activation so tests can check that no two sessions ever held the console at once.
 */
export class SimBmc {
  readonly index: number;
  readonly name: string;
  readonly address: string;
  readonly serial: SimSerialLine;
  readonly guid = randomBytes(16);
  port = 0;
  power: 'on' | 'off' = 'off';
  solEnabled = true;
  /** Every SOL activation in order (the current one last, with deactivatedAt null). */
  readonly solHistory: SolActivation[] = [];
  /** Activate Payload requests refused because another session held SOL. */
  solActivationsRefused = 0;
  /** Sessions ever established (RAKP 4 sent). */
  sessionsOpened = 0;
  /** Packets that failed integrity or decryption, or came for unknown sessions. */
  packetsDropped = 0;
  /** Test switch: while true the BMC ignores every packet, as a hung or unplugged BMC would. */
  unresponsive = false;
  /**
   * Test switch: while true the BMC leaves IPMI requests in established sessions unanswered but
   * carries on with SOL, as a path that loses some datagrams (a congested receive queue) looks.
   */
  ignoreIpmiRequests = false;
  private socket: Socket | undefined;
  private readonly sessions = new Map<number, SimSession>();
  private readonly suites: CipherSuite[];
  private sol: SolState | null = null;
  private cycleTimer: NodeJS.Timeout | null = null;

  constructor(private readonly o: SimBmcOptions) {
    this.index = o.index;
    this.name = o.name;
    this.address = o.address;
    this.suites = o.cipherSuites.map((id) => cipherSuite(id));
    this.serial = new SimSerialLine(o.name, o.serial);
  }

  get users(): readonly SimUser[] {
    return this.o.users;
  }

  get cipherSuites(): number[] {
    return this.suites.map((s) => s.id);
  }

  /** Shorthands for tests: what the node received through SOL, and printing on its serial port. */
  get received(): string {
    return this.serial.received;
  }

  print(text: string | Buffer): void {
    this.serial.print(text);
  }

  waitReceived(text: string, timeoutMs?: number): Promise<void> {
    return this.serial.waitReceived(text, timeoutMs);
  }

  /** SOL activations so far: a test takes a mark, lets N viewers work, and expects mark + 1. */
  get solActivations(): number {
    return this.solHistory.length;
  }

  get activeSessions(): number {
    return [...this.sessions.values()].filter((s) => s.state === 'active').length;
  }

  /** The session currently holding SOL, if any. */
  get solOwner(): { bmcSessionId: number; consoleSessionId: number; remote: string } | null {
    return this.sol ? { bmcSessionId: this.sol.record.bmcSessionId, consoleSessionId: this.sol.record.consoleSessionId, remote: this.sol.record.remote } : null;
  }

  /** The largest number of SOL activations that overlapped in time (computed from the history). */
  get maxConcurrentSolSessions(): number {
    const events: Array<[number, number]> = [];
    for (const h of this.solHistory) {
      events.push([h.activatedAt, 1]);
      if (h.deactivatedAt !== null) events.push([h.deactivatedAt, -1]);
    }
    // at equal times, ends before starts: a hand-over is not an overlap
    events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let current = 0;
    let max = 0;
    for (const [, d] of events) max = Math.max(max, (current += d));
    return max;
  }

  async listen(): Promise<void> {
    const sock = createSocket('udp4');
    this.socket = sock;
    sock.on('message', (buf, rinfo) => {
      if (this.unresponsive) return;
      try {
        this.onMessage(buf, rinfo);
      } catch {
        this.packetsDropped++; // a simulator bug or hostile input must not take the fleet down
      }
    });
    sock.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ port: this.o.port, address: this.o.address, exclusive: true }, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    this.port = sock.address().port;
  }

  async close(): Promise<void> {
    if (this.cycleTimer) clearTimeout(this.cycleTimer);
    this.cycleTimer = null;
    this.endSol('bmc-stopped', false);
    this.sessions.clear();
    const sock = this.socket;
    this.socket = undefined;
    if (sock) await new Promise<void>((r) => sock.close(() => r()));
  }

  /** Close idle and half-open sessions (called by the fleet about once a second). */
  sweep(now: number): void {
    for (const s of [...this.sessions.values()]) {
      const limit = s.state === 'active' ? this.o.sessionTimeoutMs : this.o.setupTimeoutMs;
      if (now - s.lastActivity > limit) this.closeSession(s, 'session-timeout');
    }
  }

  setPower(state: 'on' | 'off'): void {
    if (this.cycleTimer) clearTimeout(this.cycleTimer); // an explicit on/off wins over a pending cycle
    this.cycleTimer = null;
    if (state === this.power) return;
    this.power = state;
    if (state === 'on') this.serial.print(`\r\n${this.name} booting\r\n\r\n${this.serial.prompt}`);
  }

  // ---------------------------------------------------------------- packets in

  private send(buf: Buffer, to: RemoteInfo): void {
    this.socket?.send(buf, to.port, to.address, () => undefined);
  }

  private onMessage(buf: Buffer, rinfo: RemoteInfo): void {
    const head = peekPacket(buf);
    if (head.kind === 'asf') return;
    if (head.kind === 'v15') {
      if (head.sessionId !== 0) return void this.packetsDropped++; // no IPMI 1.5 sessions here
      const rq = decodeIpmiRequest(decodeV15Packet(buf).message);
      const r = this.sessionless(rq);
      this.send(encodeV15Packet(encodeIpmiResponse(rq, r.cc, r.data)), rinfo);
      return;
    }
    if (head.sessionId === 0) {
      const payload = decodeV2Packet(buf, null).payload;
      switch (head.payloadType) {
        case PayloadType.IPMI: {
          const rq = decodeIpmiRequest(payload);
          const r = this.sessionless(rq);
          this.sendSetup(PayloadType.IPMI, encodeIpmiResponse(rq, r.cc, r.data), rinfo);
          return;
        }
        case PayloadType.OPEN_SESSION_REQUEST:
          return this.onOpenSession(payload, rinfo);
        case PayloadType.RAKP1:
          return this.onRakp1(payload, rinfo);
        case PayloadType.RAKP3:
          return this.onRakp3(payload, rinfo);
        default:
          this.packetsDropped++;
          return;
      }
    }
    const s = this.sessions.get(head.sessionId);
    if (!s || s.state !== 'active' || !s.security) return void this.packetsDropped++;
    let decoded;
    try {
      decoded = decodeV2Packet(buf, s.security);
    } catch {
      return void this.packetsDropped++;
    }
    // Session sequence window: anything newer, or up to 16 behind the highest seen (replays refused).
    if (decoded.sequence === 0 || decoded.sequence <= s.rxHighest - 16) return void this.packetsDropped++;
    if (decoded.sequence > s.rxHighest) s.rxHighest = decoded.sequence;
    s.lastActivity = monotonicMs();
    if (s.remote.address !== rinfo.address || s.remote.port !== rinfo.port) s.remote = rinfo;
    if (decoded.payloadType === PayloadType.IPMI) {
      if (this.ignoreIpmiRequests) return;
      const rq = decodeIpmiRequest(decoded.payload);
      const r = this.command(s, rq);
      this.sendInSession(s, PayloadType.IPMI, encodeIpmiResponse(rq, r.cc, r.data));
      r.after?.();
    } else if (decoded.payloadType === PayloadType.SOL) {
      this.onSol(s, decoded.payload);
    }
  }

  private sendSetup(payloadType: number, payload: Buffer, to: RemoteInfo): void {
    this.send(encodeV2Packet({ payloadType, sessionId: 0, sequence: 0, payload }), to);
  }

  private sendInSession(s: SimSession, payloadType: number, payload: Buffer): void {
    if (!s.security) return;
    const sequence = s.txSequence;
    s.txSequence = sequence >= 0xffffffff ? 1 : sequence + 1;
    this.send(encodeV2Packet({ payloadType, sessionId: s.consoleSessionId, sequence, payload }, s.security), s.remote);
  }

  // ---------------------------------------------------------------- session establishment

  private onOpenSession(payload: Buffer, rinfo: RemoteInfo): void {
    const rq = decodeOpenSessionRequest(payload);
    const fail = (status: number) =>
      this.sendSetup(
        PayloadType.OPEN_SESSION_RESPONSE,
        encodeOpenSessionResponse({ tag: rq.tag, status, maxPrivilege: 0, consoleSessionId: rq.consoleSessionId, bmcSessionId: 0, auth: 0, integrity: 0, confidentiality: 0 }),
        rinfo,
      );
    if (rq.consoleSessionId === 0) return fail(0x02);
    const privilege = rq.requestedMaxPrivilege || PrivilegeLevel.ADMINISTRATOR;
    if (privilege > PrivilegeLevel.OEM) return fail(0x09);
    // Wildcards (algorithm payload length 0) take the value of the first suite that fits the rest.
    const fits = (s: CipherSuite) =>
      (rq.auth === undefined || s.auth === rq.auth) &&
      (rq.integrity === undefined || s.integrity === rq.integrity) &&
      (rq.confidentiality === undefined || s.confidentiality === rq.confidentiality);
    const suite = this.suites.find(fits);
    if (!suite) {
      if (rq.auth !== undefined && !this.suites.some((s) => s.auth === rq.auth)) return fail(0x04);
      if (rq.integrity !== undefined && !this.suites.some((s) => s.integrity === rq.integrity)) return fail(0x05);
      if (rq.confidentiality !== undefined && !this.suites.some((s) => s.confidentiality === rq.confidentiality)) return fail(0x10);
      return fail(0x11);
    }
    if (this.sessions.size >= this.o.maxSessions) return fail(0x01);
    let bmcSessionId: number;
    do bmcSessionId = randomInt(1, 0xffffffff);
    while (this.sessions.has(bmcSessionId));
    const s: SimSession = {
      bmcSessionId,
      openedAt: Date.now(),
      consoleSessionId: rq.consoleSessionId,
      remote: rinfo,
      state: 'open',
      suite,
      requestedPrivilege: privilege,
      user: null,
      maxPrivilege: 0,
      privilege: 0,
      params: null,
      security: null,
      txSequence: 1,
      rxHighest: 0,
      lastActivity: monotonicMs(),
      rakp2: null,
      rakp4: null,
    };
    this.sessions.set(bmcSessionId, s);
    this.sendSetup(
      PayloadType.OPEN_SESSION_RESPONSE,
      encodeOpenSessionResponse({
        tag: rq.tag,
        status: 0,
        maxPrivilege: privilege,
        consoleSessionId: rq.consoleSessionId,
        bmcSessionId,
        auth: suite.auth,
        integrity: suite.integrity,
        confidentiality: suite.confidentiality,
      }),
      rinfo,
    );
  }

  private onRakp1(payload: Buffer, rinfo: RemoteInfo): void {
    const m = decodeRakp1(payload);
    const s = this.sessions.get(m.bmcSessionId);
    if (!s) return void this.packetsDropped++;
    if (s.state === 'rakp2-sent' && s.rakp2 && s.params?.consoleRandom.equals(m.consoleRandom)) {
      this.sendSetup(PayloadType.RAKP2, s.rakp2, rinfo); // our RAKP 2 was lost: same answer again
      return;
    }
    if (s.state !== 'open') return void this.packetsDropped++;
    s.lastActivity = monotonicMs();
    const refuse = (status: number) => {
      this.sendSetup(
        PayloadType.RAKP2,
        encodeRakp2({ tag: m.tag, status, consoleSessionId: s.consoleSessionId, bmcRandom: EMPTY, bmcGuid: EMPTY, authCode: EMPTY }),
        rinfo,
      );
      this.sessions.delete(s.bmcSessionId);
    };
    const requested = m.role & 0x0f;
    if (requested < PrivilegeLevel.CALLBACK || requested > PrivilegeLevel.OEM) return refuse(0x09);
    const name = m.username.toString('utf8');
    const user = this.o.users.find((u) => u.name === name);
    if (!user) return refuse(0x0d);
    const userMax = user.privilege ?? PrivilegeLevel.ADMINISTRATOR;
    // Username/privilege lookup (bit 4 clear) must match both; name-only lookup caps at the user's maximum.
    if (!(m.role & ROLE_NAME_ONLY_LOOKUP) && requested > userMax) return refuse(0x0d);
    s.user = user;
    s.maxPrivilege = Math.min(requested, userMax);
    s.params = {
      auth: s.suite.auth,
      consoleSessionId: s.consoleSessionId,
      bmcSessionId: s.bmcSessionId,
      consoleRandom: Buffer.from(m.consoleRandom),
      bmcRandom: randomBytes(16),
      bmcGuid: this.guid,
      role: m.role,
      username: Buffer.from(m.username),
    };
    s.rakp2 = encodeRakp2({
      tag: m.tag,
      status: 0,
      consoleSessionId: s.consoleSessionId,
      bmcRandom: s.params.bmcRandom,
      bmcGuid: this.guid,
      authCode: rakp2AuthCode(s.params, passwordKey(user.password)),
    });
    s.state = 'rakp2-sent';
    this.sendSetup(PayloadType.RAKP2, s.rakp2, rinfo);
  }

  private onRakp3(payload: Buffer, rinfo: RemoteInfo): void {
    const m = decodeRakp3(payload);
    const s = this.sessions.get(m.bmcSessionId);
    if (!s) return void this.packetsDropped++;
    if (s.state === 'active' && s.rakp4) {
      this.sendSetup(PayloadType.RAKP4, s.rakp4, rinfo); // our RAKP 4 was lost
      return;
    }
    if (s.state !== 'rakp2-sent' || !s.params || !s.user) return void this.packetsDropped++;
    if (m.status !== 0) {
      this.sessions.delete(s.bmcSessionId); // the console rejected our RAKP 2 (wrong password)
      return;
    }
    const kuid = passwordKey(s.user.password);
    if (!codesEqual(m.authCode, rakp3AuthCode(s.params, kuid))) {
      this.sendSetup(PayloadType.RAKP4, encodeRakp4({ tag: m.tag, status: 0x0f, consoleSessionId: s.consoleSessionId, icv: EMPTY }), rinfo);
      this.sessions.delete(s.bmcSessionId);
      return;
    }
    const keys = deriveSessionKeys(s.params, kuid);
    s.security = { integrity: s.suite.integrity, k1: keys.k1, confidentiality: s.suite.confidentiality, k2: keys.k2 };
    s.privilege = Math.min(PrivilegeLevel.USER, s.maxPrivilege); // sessions start at User level
    s.state = 'active';
    s.lastActivity = monotonicMs();
    s.remote = rinfo;
    s.rakp4 = encodeRakp4({ tag: m.tag, status: 0, consoleSessionId: s.consoleSessionId, icv: rakp4Icv(s.params, keys.sik) });
    this.sessionsOpened++;
    this.sendSetup(PayloadType.RAKP4, s.rakp4, rinfo);
  }

  private closeSession(s: SimSession, reason: SolEndReason): void {
    if (this.sol?.owner === s) this.endSol(reason, false);
    this.sessions.delete(s.bmcSessionId);
  }

  // ---------------------------------------------------------------- commands

  private channelAuthCapabilities(data: Buffer): Reply {
    if (data.length < 2) return { cc: CC_REQUEST_LENGTH };
    const channel = data[0]! & 0x0f;
    if (channel !== 0x0e && channel !== 1) return { cc: CC_INVALID_FIELD };
    const v2 = (data[0]! & 0x80) !== 0;
    // RMCP+ only: no IPMI 1.5 authentication types; non-null user names; IPMI v2.0 supported.
    return { cc: CC_OK, data: Buffer.from([1, v2 ? 0x80 : 0x00, 0x04, v2 ? 0x02 : 0x00, 0, 0, 0, 0]) };
  }

  private channelCipherSuites(data: Buffer): Reply {
    if (data.length < 3) return { cc: CC_REQUEST_LENGTH };
    if ((data[1]! & 0x3f) !== PayloadType.IPMI) return { cc: CC_INVALID_FIELD };
    const index = data[2]! & 0x3f;
    const records = encodeCipherSuiteRecords(this.suites);
    return { cc: CC_OK, data: Buffer.concat([Buffer.from([1]), records.subarray(index * 16, index * 16 + 16)]) };
  }

  private deviceId(): Reply {
    return { cc: CC_OK, data: encodeDeviceId({ deviceId: 0x20, firmwareMajor: 1, firmwareMinor: 0, manufacturerId: 0, productId: this.index & 0xffff }) };
  }

  /** Commands a BMC answers outside any session. */
  private sessionless(rq: Required<IpmiRequest>): Reply {
    if (rq.netFn === NetFn.APP) {
      if (rq.cmd === Cmd.GET_CHANNEL_AUTH_CAPABILITIES) return this.channelAuthCapabilities(rq.data);
      if (rq.cmd === Cmd.GET_CHANNEL_CIPHER_SUITES) return this.channelCipherSuites(rq.data);
      if (rq.cmd === Cmd.GET_DEVICE_ID) return this.deviceId();
      if (rq.cmd === Cmd.GET_SYSTEM_GUID) return { cc: CC_OK, data: this.guid };
    }
    return { cc: CC_NOT_IN_PRESENT_STATE };
  }

  private command(s: SimSession, rq: Required<IpmiRequest>): Reply {
    const need = (level: number): Reply | null => (s.privilege < level ? { cc: CC_PRIVILEGE } : null);
    const d = rq.data;
    if (rq.netFn === NetFn.APP) {
      switch (rq.cmd) {
        case Cmd.GET_DEVICE_ID:
          return this.deviceId();
        case Cmd.GET_SYSTEM_GUID:
          return { cc: CC_OK, data: this.guid };
        case Cmd.GET_CHANNEL_AUTH_CAPABILITIES:
          return this.channelAuthCapabilities(d);
        case Cmd.GET_CHANNEL_CIPHER_SUITES:
          return this.channelCipherSuites(d);
        case Cmd.SET_SESSION_PRIVILEGE_LEVEL: {
          if (d.length < 1) return { cc: CC_REQUEST_LENGTH };
          const level = d[0]! & 0x0f;
          if (level !== 0) {
            if (level > s.maxPrivilege) return { cc: SetSessionPrivilegeCc.LEVEL_EXCEEDS_LIMIT };
            if (level < PrivilegeLevel.CALLBACK || level > PrivilegeLevel.OEM) return { cc: CC_INVALID_FIELD };
            s.privilege = level;
          }
          return { cc: CC_OK, data: Buffer.from([s.privilege]) };
        }
        case Cmd.CLOSE_SESSION: {
          const id = d.length >= 4 ? d.readUInt32LE(0) : 0;
          if (id === 0 || id === s.bmcSessionId) return { cc: CC_OK, after: () => this.closeSession(s, 'session-closed') };
          const other = this.sessions.get(id);
          if (!other) return { cc: CloseSessionCc.INVALID_SESSION_ID };
          if (s.privilege < PrivilegeLevel.ADMINISTRATOR) return { cc: CC_PRIVILEGE };
          this.closeSession(other, 'session-closed');
          return { cc: CC_OK };
        }
        case Cmd.ACTIVATE_PAYLOAD:
          return need(PrivilegeLevel.USER) ?? this.activateSol(s, d);
        case Cmd.DEACTIVATE_PAYLOAD:
          return need(PrivilegeLevel.USER) ?? this.deactivateSol(s, d);
        case Cmd.GET_PAYLOAD_ACTIVATION_STATUS:
          if (d.length < 1) return { cc: CC_REQUEST_LENGTH };
          if ((d[0]! & 0x3f) !== PayloadType.SOL) return { cc: CC_OK, data: Buffer.from([0, 0, 0]) };
          return { cc: CC_OK, data: Buffer.from([1, this.sol ? 1 : 0, 0]) };
        case Cmd.GET_PAYLOAD_INSTANCE_INFO: {
          if (d.length < 2) return { cc: CC_REQUEST_LENGTH };
          const out = Buffer.alloc(12);
          if ((d[0]! & 0x3f) === PayloadType.SOL && (d[1]! & 0x0f) === 1 && this.sol) out.writeUInt32LE(this.sol.owner.bmcSessionId, 0);
          return { cc: CC_OK, data: out };
        }
        default:
          return { cc: CC_INVALID_COMMAND };
      }
    }
    if (rq.netFn === NetFn.CHASSIS) {
      if (rq.cmd === Cmd.GET_CHASSIS_STATUS) return { cc: CC_OK, data: Buffer.from([this.power === 'on' ? 0x01 : 0x00, 0x00, 0x00]) };
      if (rq.cmd === Cmd.CHASSIS_CONTROL) return need(PrivilegeLevel.OPERATOR) ?? this.chassisControl(d);
      return { cc: CC_INVALID_COMMAND };
    }
    if (rq.netFn === NetFn.TRANSPORT) {
      if (rq.cmd === Cmd.GET_SOL_CONFIGURATION_PARAMETERS) return this.getSolParameter(d);
      if (rq.cmd === Cmd.SET_SOL_CONFIGURATION_PARAMETERS) return need(PrivilegeLevel.ADMINISTRATOR) ?? this.setSolParameter(d);
      return { cc: CC_INVALID_COMMAND };
    }
    return { cc: CC_INVALID_COMMAND };
  }

  private chassisControl(d: Buffer): Reply {
    if (d.length < 1) return { cc: CC_REQUEST_LENGTH };
    switch (d[0]! & 0x0f) {
      case ChassisControlAction.POWER_DOWN:
      case ChassisControlAction.SOFT_SHUTDOWN:
        this.setPower('off');
        return { cc: CC_OK };
      case ChassisControlAction.POWER_UP:
        this.setPower('on');
        return { cc: CC_OK };
      case ChassisControlAction.POWER_CYCLE:
        // The specification recommends D5h when the system is off (IPMI v2.0 table 28-4).
        if (this.power === 'off') return { cc: CC_NOT_IN_PRESENT_STATE };
        this.setPower('off');
        this.cycleTimer = setTimeout(() => {
          this.cycleTimer = null;
          this.setPower('on');
        }, this.o.powerCycleDelayMs);
        return { cc: CC_OK };
      case ChassisControlAction.HARD_RESET:
        if (this.power === 'on') this.serial.print(`\r\n${this.name} booting\r\n\r\n${this.serial.prompt}`);
        return { cc: CC_OK };
      case ChassisControlAction.DIAGNOSTIC_INTERRUPT:
        return { cc: CC_OK };
      default:
        return { cc: CC_INVALID_FIELD };
    }
  }

  private getSolParameter(d: Buffer): Reply {
    if (d.length < 4) return { cc: CC_REQUEST_LENGTH };
    const revision = Buffer.from([0x11]);
    if (d[0]! & 0x80) return { cc: CC_OK, data: revision };
    let value: Buffer;
    switch (d[1]) {
      case SolParameter.SET_IN_PROGRESS:
        value = Buffer.from([0]);
        break;
      case SolParameter.ENABLE:
        value = Buffer.from([this.solEnabled ? 1 : 0]);
        break;
      case SolParameter.AUTHENTICATION:
        value = Buffer.from([PrivilegeLevel.USER]);
        break;
      case SolParameter.CHARACTER_ACCUMULATE:
        value = Buffer.from([1, 96]);
        break;
      case SolParameter.RETRY:
        value = Buffer.from([Math.min(7, this.o.solRetries), Math.min(255, Math.round(this.o.solRetryIntervalMs / 10))]);
        break;
      case SolParameter.NON_VOLATILE_BIT_RATE:
      case SolParameter.VOLATILE_BIT_RATE:
        value = Buffer.from([0x0a]);
        break;
      case SolParameter.PAYLOAD_CHANNEL:
        value = Buffer.from([1]);
        break;
      case SolParameter.PAYLOAD_PORT:
        value = Buffer.alloc(2);
        value.writeUInt16LE(this.port, 0);
        break;
      default:
        return { cc: GetSolConfigCc.PARAMETER_NOT_SUPPORTED };
    }
    return { cc: CC_OK, data: Buffer.concat([revision, value]) };
  }

  private setSolParameter(d: Buffer): Reply {
    if (d.length < 3) return { cc: CC_REQUEST_LENGTH };
    if (d[1] === SolParameter.ENABLE) this.solEnabled = (d[2]! & 1) === 1;
    return { cc: CC_OK };
  }

  // ---------------------------------------------------------------- SOL

  private activateSol(s: SimSession, d: Buffer): Reply {
    if (d.length < 6) return { cc: CC_REQUEST_LENGTH };
    if ((d[0]! & 0x3f) !== PayloadType.SOL || (d[1]! & 0x0f) !== 1) return { cc: CC_INVALID_FIELD };
    if (!this.solEnabled) return { cc: ActivatePayloadCc.TYPE_DISABLED };
    if (this.sol) {
      this.solActivationsRefused++;
      return { cc: ActivatePayloadCc.ALREADY_ACTIVE };
    }
    if (d[2]! & 0x80 && s.suite.confidentiality === ConfAlg.NONE) return { cc: ActivatePayloadCc.CANNOT_ACTIVATE_WITH_ENCRYPTION };
    if (d[2]! & 0x40 && s.suite.integrity === IntegrityAlg.NONE) return { cc: CC_INVALID_FIELD };
    const record: SolActivation = {
      bmcSessionId: s.bmcSessionId,
      consoleSessionId: s.consoleSessionId,
      remote: `${s.remote.address}:${s.remote.port}`,
      user: s.user?.name ?? '',
      activatedAt: Date.now(),
      deactivatedAt: null,
      endReason: null,
    };
    const state: SolState = {
      owner: s,
      record,
      timer: null,
      timerAt: 0,
      endpoint: new SolEndpoint({
        maxCharsPerPacket: 255,
        retryIntervalMs: this.o.solRetryIntervalMs,
        maxRetries: this.o.solRetries,
        maxQueuedBytes: 64 * 1024,
        send: (p) => this.sendInSession(s, PayloadType.SOL, encodeSolPacket(p)),
        deliver: (data) => this.serial.input(Buffer.from(data)),
      }),
    };
    this.sol = state;
    this.solHistory.push(record);
    this.serial.sink = (data) => {
      if (this.sol !== state) return;
      state.endpoint.write(data, monotonicMs());
      this.armSolTimer(state);
    };
    const response = encodeActivatePayloadResponse({
      aux: 0,
      inboundPayloadSize: this.o.solInboundPayloadSize,
      outboundPayloadSize: 255 + 4,
      port: this.port,
      vlan: 0xffff,
    });
    return { cc: CC_OK, data: response };
  }

  private deactivateSol(s: SimSession, d: Buffer): Reply {
    if (d.length < 2) return { cc: CC_REQUEST_LENGTH };
    if ((d[0]! & 0x3f) !== PayloadType.SOL || (d[1]! & 0x0f) !== 1) return { cc: CC_INVALID_FIELD };
    if (!this.sol) return { cc: DeactivatePayloadCc.ALREADY_DEACTIVATED };
    const own = this.sol.owner === s;
    if (!own && s.privilege < PrivilegeLevel.ADMINISTRATOR) return { cc: CC_PRIVILEGE };
    if (!own) this.sol.record.takenOverBy = { remote: `${s.remote.address}:${s.remote.port}`, sessionOpenedAt: s.openedAt, user: s.user?.name ?? '' };
    this.endSol(own ? 'deactivated' : 'taken-over', !own);
    return { cc: CC_OK };
  }

  /** End the SOL payload; `tellOwner` sends the old owner a "SOL deactivating" status packet. */
  private endSol(reason: SolEndReason, tellOwner: boolean): void {
    const sol = this.sol;
    if (!sol) return;
    this.sol = null;
    this.serial.sink = null;
    if (sol.timer) clearTimeout(sol.timer);
    sol.endpoint.clear();
    sol.record.deactivatedAt = Date.now();
    sol.record.endReason = reason;
    if (tellOwner && this.sessions.get(sol.owner.bmcSessionId) === sol.owner) {
      this.sendInSession(
        sol.owner,
        PayloadType.SOL,
        encodeSolPacket({ sequence: 0, ackSequence: 0, acceptedCount: 0, flags: SolStatus.DEACTIVATING | SolStatus.NACK, data: EMPTY }),
      );
    }
  }

  private onSol(s: SimSession, payload: Buffer): void {
    const sol = this.sol;
    if (!sol || sol.owner !== s) return void this.packetsDropped++;
    const p = decodeSolPacket(payload);
    const op = sol.endpoint.receive(p, monotonicMs());
    if (op & SolOperation.GENERATE_BREAK) this.serial.sendBreak();
    if (op & SolOperation.FLUSH_OUTBOUND) sol.endpoint.clear();
    this.armSolTimer(sol);
  }

  private armSolTimer(sol: SolState): void {
    const deadline = sol.endpoint.nextDeadline;
    if (deadline === null) {
      if (sol.timer) clearTimeout(sol.timer);
      sol.timer = null;
      return;
    }
    if (sol.timer && sol.timerAt === deadline) return;
    if (sol.timer) clearTimeout(sol.timer);
    sol.timerAt = deadline;
    sol.timer = setTimeout(() => {
      sol.timer = null;
      if (this.sol !== sol) return;
      // A console that stops acknowledging loses those characters, as on a real BMC; we carry on.
      if (!sol.endpoint.onTimer(monotonicMs())) sol.endpoint.dropInFlight(monotonicMs());
      this.armSolTimer(sol);
    }, Math.max(0, deadline - monotonicMs()));
  }
}
