import { EventEmitter } from 'node:events';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { randomBytes, randomInt } from 'node:crypto';
import { monotonicMs } from '#libs/common';
import { completionCodeText, IpmiError, type IpmiErrorCode, rmcpStatusText } from '../errors.js';
import {
  ActivatePayloadCc,
  ChassisControlAction,
  Cmd,
  CompletionCode,
  ConfAlg,
  CURRENT_CHANNEL,
  DeactivatePayloadCc,
  IntegrityAlg,
  NetFn,
  PayloadType,
  PrivilegeLevel,
  privilegeName,
  ROLE_NAME_ONLY_LOOKUP,
  SetSessionPrivilegeCc,
} from '../protocol/constants.js';
import { cipherSuite, FALLBACK_CIPHER_SUITE, parseCipherSuiteRecords, pickCipherSuite, type CipherSuite } from '../protocol/cipher-suites.js';
import {
  decodeActivatePayloadResponse,
  decodeChannelAuthCapabilities,
  decodeChannelCipherSuitesResponse,
  decodeChassisStatus,
  decodeDeviceId,
  decodeGetSolConfigResponse,
  decodePayloadActivationStatus,
  decodeSetSessionPrivilegeResponse,
  encodeActivateSolRequest,
  encodeChassisControlRequest,
  encodeCloseSessionRequest,
  encodeDeactivateSolRequest,
  encodeGetChannelAuthCapabilitiesRequest,
  encodeGetChannelCipherSuitesRequest,
  encodeGetSolConfigRequest,
  encodeSetSessionPrivilegeRequest,
  SolParameter,
  type ChassisStatus,
  type DeviceId,
} from '../protocol/commands.js';
import { codesEqual, deriveSessionKeys, rakp2AuthCode, rakp3AuthCode, rakp4Icv, type RakpParams } from '../protocol/crypto.js';
import { decodeIpmiResponse, encodeIpmiRequest, type IpmiResponse } from '../protocol/ipmi-message.js';
import {
  decodeOpenSessionResponse,
  decodeRakp2,
  decodeRakp4,
  encodeOpenSessionRequest,
  encodeRakp1,
  encodeRakp3,
} from '../protocol/rakp.js';
import { decodeV2Packet, encodeV2Packet, type PeekedPacket, type SessionSecurity } from '../protocol/rmcp.js';
import { type IpmiSessionOptions, type ResolvedSessionOptions, resolveSessionOptions, describeSession } from './options.js';
import { SolConsole, type SolSessionHooks } from './sol-console.js';
import { acquireSharedTransport, type Endpoint, endpointKey, IpmiTransport, type PacketSink, releaseSharedTransport } from './transport.js';

export interface OpenSessionExtras {
  /** Share this transport (UDP socket) instead of the process-wide default. */
  transport?: IpmiTransport;
}

export interface ActivateSolOptions {
  /**
   * When another session holds the SOL payload: deactivate it (which ends that session's console,
   * as `ipmitool sol deactivate` would) and activate again, once. Default false: fail with
   * PAYLOAD_ALREADY_ACTIVE.
   */
  forceDeactivate?: boolean;
  instance?: number;
  /**
   * First SOL sequence number (1-15). Default: one past where the previous session of this process
   * to this BMC stopped, else random (see SolConsole). Tests use it to provoke ipmi_sim's stale match.
   */
  initialSequence?: number;
}

export interface SolConfiguration {
  enabled?: boolean;
  forceEncryption?: boolean;
  forceAuthentication?: boolean;
  privilegeLevel?: string;
  characterAccumulateMs?: number;
  characterSendThreshold?: number;
  retryCount?: number;
  retryIntervalMs?: number;
  nonVolatileBitRateKbps?: number | 'serial';
  volatileBitRateKbps?: number | 'serial';
  payloadChannel?: number;
  payloadPort?: number;
}

export type PowerState = 'on' | 'off';

interface PendingRequest {
  cmd: number;
  resolve(r: IpmiResponse): void;
}

interface SetupWaiter {
  payloadType: number;
  tag: number;
  resolve(payload: Buffer): void;
}

type State = 'opening' | 'active' | 'closing' | 'closed';

const EMPTY = Buffer.alloc(0);
const BIT_RATES: Record<number, number> = { 6: 9.6, 7: 19.2, 8: 38.4, 9: 57.6, 10: 115.2 };

/** Cipher suites learnt from Get Channel Cipher Suites, per BMC endpoint (10 minutes). */
const suiteCache = new Map<string, { suite: number; at: number }>();
const SUITE_CACHE_MS = 10 * 60_000;

/**
 * One IPMI v2.0 / RMCP+ ("lanplus") session with a BMC. Open it with `IpmiSession.open()`; use
 * `chassis` for power, `activateSol()` for the serial console; `close()` deactivates SOL and sends
 * Close Session. Many sessions share one UDP socket (`IpmiTransport`); per-session state is a few
 * small buffers, one keepalive timer, and the SOL console when active.
 *
 * Events: 'close' (error: IpmiError | null) once, when closed by us (null) or lost (TIMEOUT).
 */
export class IpmiSession extends EventEmitter implements PacketSink, SolSessionHooks {
  readonly chassis: ChassisControl;
  readonly endpointKey: string;
  consoleSessionId = 0;
  bmcSessionId = 0;
  /** The cipher suite in use once open. */
  cipherSuite = 0;
  /** Why the session ended, when it was lost rather than closed; null otherwise. */
  closeReason: IpmiError | null = null;
  private state: State = 'opening';
  private security: SessionSecurity | null = null;
  private suite: CipherSuite | undefined;
  private txSequence = 1;
  private rxSequenceHighest = 0;
  private rqSeq = randomInt(1, 64);
  private readonly pending = new Map<number, PendingRequest>();
  private queue: Promise<unknown> = Promise.resolve();
  private setupWaiter: SetupWaiter | null = null;
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private lastExchangeAt = monotonicMs();
  /** When the BMC last sent us an authenticated packet in this session (IPMI or SOL). */
  private lastHeardAt = monotonicMs();
  private sol: SolConsole | null = null;
  private solEarly: Buffer[] | null = null;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly o: ResolvedSessionOptions,
    private readonly endpoint: Endpoint,
    private readonly transport: IpmiTransport,
    private readonly ownsSharedTransport: boolean,
  ) {
    super();
    this.endpointKey = endpointKey(endpoint);
    this.chassis = new ChassisControl(this);
  }

  /**
   * Resolve the host, establish the session (Get Channel Authentication Capabilities, cipher suite
   * choice, Open Session, RAKP 1-4, Set Session Privilege Level) and start the keepalive.
   * Fails with a typed IpmiError: UNREACHABLE, BAD_PASSWORD, UNKNOWN_USER, UNSUPPORTED_CIPHER_SUITE,
   * PRIVILEGE, SESSION_LIMIT, TIMEOUT, INVALID_ARGUMENT or PROTOCOL.
   */
  static async open(options: IpmiSessionOptions & OpenSessionExtras): Promise<IpmiSession> {
    const o = resolveSessionOptions(options);
    const endpoint = await resolveEndpoint(o.host, o.port);
    const shared = !options.transport;
    const transport = options.transport ?? (await acquireSharedTransport());
    const session = new IpmiSession(o, endpoint, transport, shared);
    try {
      await transport.prepare(endpoint.family);
      await session.handshake();
    } catch (e) {
      await session.abandon();
      throw e;
    }
    return session;
  }

  get timeoutMs(): number {
    return this.o.timeoutMs;
  }

  get retries(): number {
    return this.o.retries;
  }

  get privilege(): PrivilegeLevel {
    return this.o.privilege;
  }

  get host(): string {
    return this.o.host;
  }

  get port(): number {
    return this.o.port;
  }

  /** True while requests can be sent. */
  get usable(): boolean {
    return (this.state === 'active' || this.state === 'closing') && this.security !== null;
  }

  get isOpen(): boolean {
    return this.state === 'active';
  }

  /** The SOL console of this session, if active. */
  get activeSol(): SolConsole | null {
    return this.sol;
  }

  describe(): string {
    return describeSession({
      host: this.o.host,
      port: this.o.port,
      username: this.o.username.toString('utf8'),
      cipherSuite: this.cipherSuite || this.o.cipherSuite,
      privLevel: this.o.privilege,
    });
  }

  // ---------------------------------------------------------------- session establishment

  private async handshake(): Promise<void> {
    const o = this.o;
    const attempts = o.retries + 1;
    const where = `${o.host}:${o.port}`;

    // 1. Get Channel Authentication Capabilities (IPMI 1.5 framing, as every client sends it): is
    //    anything there at all, and does it speak IPMI v2.0?
    let caps = await this.transport.sessionlessRequest({
      endpoint: this.endpoint,
      netFn: NetFn.APP,
      cmd: Cmd.GET_CHANNEL_AUTH_CAPABILITIES,
      data: encodeGetChannelAuthCapabilitiesRequest(o.privilege),
      format: 'v15',
      timeoutMs: o.timeoutMs,
      attempts,
    });
    if (!caps) {
      throw new IpmiError('UNREACHABLE', `no answer from the BMC at ${where} within ${attempts * o.timeoutMs} ms`, { host: o.host, port: o.port });
    }
    if (caps.completionCode !== 0) {
      // Some BMCs refuse the "IPMI v2.0 data" bit: ask again without it, as ipmitool does.
      caps =
        (await this.transport.sessionlessRequest({
          endpoint: this.endpoint,
          netFn: NetFn.APP,
          cmd: Cmd.GET_CHANNEL_AUTH_CAPABILITIES,
          data: encodeGetChannelAuthCapabilitiesRequest(o.privilege, CURRENT_CHANNEL, false),
          format: 'v15',
          timeoutMs: o.timeoutMs,
          attempts,
        })) ?? caps;
      if (caps.completionCode !== 0) {
        throw new IpmiError('PROTOCOL', `Get Channel Authentication Capabilities failed: ${completionCodeText(caps.completionCode)}`, {
          completionCode: caps.completionCode,
        });
      }
    }
    const capabilities = decodeChannelAuthCapabilities(caps.data);
    if (capabilities.extendedCapabilities && !capabilities.supportsIpmi20) {
      throw new IpmiError('PROTOCOL', `the BMC at ${where} does not support IPMI v2.0 / RMCP+`);
    }

    // 2. Cipher suite: the caller's, or the best one the BMC lists, or 3.
    this.suite = cipherSuite(o.cipherSuite ?? (await this.probeCipherSuite()));
    this.cipherSuite = this.suite.id;

    this.consoleSessionId = this.transport.register(this);
    this.transport.beginSetup(this.endpoint, this);
    try {
      await this.authenticate(this.suite);
    } finally {
      this.transport.endSetup(this.endpoint, this);
    }

    // 3. Sessions start at USER level; raise to what was asked for.
    if (o.privilege > PrivilegeLevel.USER) {
      const r = await this.rawCommand(NetFn.APP, Cmd.SET_SESSION_PRIVILEGE_LEVEL, encodeSetSessionPrivilegeRequest(o.privilege));
      if (r.completionCode !== 0) {
        throw new IpmiError('PRIVILEGE', `the BMC refused privilege ${privilegeName(o.privilege)} for this user: ${setPrivilegeText(r.completionCode)}`, {
          completionCode: r.completionCode,
        });
      }
      decodeSetSessionPrivilegeResponse(r.data);
    }
    this.state = 'active';
    this.scheduleKeepalive();
  }

  private async probeCipherSuite(): Promise<number> {
    const cached = suiteCache.get(this.endpointKey);
    if (cached && monotonicMs() - cached.at < SUITE_CACHE_MS) return cached.suite;
    let records = EMPTY;
    for (let index = 0; index < 8; index++) {
      const r = await this.transport.sessionlessRequest({
        endpoint: this.endpoint,
        netFn: NetFn.APP,
        cmd: Cmd.GET_CHANNEL_CIPHER_SUITES,
        data: encodeGetChannelCipherSuitesRequest(index),
        format: 'v2',
        timeoutMs: this.o.cipherSuiteProbeTimeoutMs,
        attempts: 1,
      });
      if (!r || r.completionCode !== 0) break;
      let chunk: Buffer;
      try {
        chunk = decodeChannelCipherSuitesResponse(r.data).recordData;
      } catch {
        break;
      }
      records = Buffer.concat([records, chunk]);
      if (chunk.length < 16) break;
    }
    let suite: number | undefined;
    try {
      suite = records.length ? pickCipherSuite(parseCipherSuiteRecords(records)) : undefined;
    } catch {
      suite = undefined;
    }
    if (suite === undefined) return FALLBACK_CIPHER_SUITE;
    suiteCache.set(this.endpointKey, { suite, at: monotonicMs() });
    return suite;
  }

  private async authenticate(suite: CipherSuite): Promise<void> {
    const o = this.o;
    const where = `${o.host}:${o.port}`;
    const tag = randomInt(0, 254);

    // Open Session
    const openReply = await this.setupExchange(
      PayloadType.OPEN_SESSION_REQUEST,
      encodeOpenSessionRequest({
        tag,
        requestedMaxPrivilege: o.privilege,
        consoleSessionId: this.consoleSessionId,
        auth: suite.auth,
        integrity: suite.integrity,
        confidentiality: suite.confidentiality,
      }),
      PayloadType.OPEN_SESSION_RESPONSE,
      tag,
    );
    if (!openReply) throw new IpmiError('TIMEOUT', `no Open Session Response from ${where}`, { host: o.host, port: o.port });
    const open = decodeOpenSessionResponse(openReply);
    if (open.status !== 0) throw openSessionError(open.status, suite.id);
    if (open.consoleSessionId !== this.consoleSessionId) throw new IpmiError('PROTOCOL', 'Open Session Response names another console session');
    if (open.auth !== suite.auth || open.integrity !== suite.integrity || open.confidentiality !== suite.confidentiality) {
      throw new IpmiError(
        'UNSUPPORTED_CIPHER_SUITE',
        `the BMC answered cipher suite ${suite.id} with other algorithms (auth ${open.auth}, integrity ${open.integrity}, confidentiality ${open.confidentiality})`,
        { cipherSuite: suite.id },
      );
    }
    if (open.bmcSessionId === 0) throw new IpmiError('PROTOCOL', 'Open Session Response with BMC session id 0');
    this.bmcSessionId = open.bmcSessionId;

    // RAKP 1 / 2
    const params: RakpParams = {
      auth: suite.auth,
      consoleSessionId: this.consoleSessionId,
      bmcSessionId: this.bmcSessionId,
      consoleRandom: randomBytes(16),
      bmcRandom: EMPTY,
      bmcGuid: EMPTY,
      role: ROLE_NAME_ONLY_LOOKUP | o.privilege,
      username: o.username,
    };
    const rakp2Reply = await this.setupExchange(
      PayloadType.RAKP1,
      encodeRakp1({ tag: (tag + 1) & 0xff, bmcSessionId: this.bmcSessionId, consoleRandom: params.consoleRandom, role: params.role, username: o.username }),
      PayloadType.RAKP2,
      (tag + 1) & 0xff,
    );
    if (!rakp2Reply) {
      // The BMC answered Open Session moments ago, so silence now is a rejected user name:
      // several BMCs (pyghmi, some vendor firmware) drop RAKP 1 for unknown users instead of answering.
      throw new IpmiError('UNKNOWN_USER', `no RAKP 2 from ${where}: the BMC most likely does not know user "${o.username.toString('utf8')}"`, {
        host: o.host,
        port: o.port,
        inferred: true,
      });
    }
    const rakp2 = decodeRakp2(rakp2Reply);
    if (rakp2.status !== 0) throw rakp2Error(rakp2.status, o.username.toString('utf8'));
    if (rakp2.bmcRandom.length !== 16 || rakp2.bmcGuid.length !== 16) throw new IpmiError('PROTOCOL', 'malformed RAKP 2');
    params.bmcRandom = Buffer.from(rakp2.bmcRandom);
    params.bmcGuid = Buffer.from(rakp2.bmcGuid);
    const expected = rakp2AuthCode(params, o.kuid);
    if (!codesEqual(rakp2.authCode.subarray(0, expected.length), expected) || rakp2.authCode.length < expected.length) {
      // Tell the BMC to drop the half-open session (status "invalid integrity check value").
      this.sendSetup(PayloadType.RAKP3, encodeRakp3({ tag: (tag + 2) & 0xff, status: 0x0f, bmcSessionId: this.bmcSessionId, authCode: EMPTY }));
      throw new IpmiError('BAD_PASSWORD', `wrong password for user "${o.username.toString('utf8')}" on ${where} (RAKP 2 authentication code mismatch)`, {
        host: o.host,
        port: o.port,
      });
    }

    // RAKP 3 / 4
    const rakp4Reply = await this.setupExchange(
      PayloadType.RAKP3,
      encodeRakp3({ tag: (tag + 2) & 0xff, status: 0, bmcSessionId: this.bmcSessionId, authCode: rakp3AuthCode(params, o.kuid) }),
      PayloadType.RAKP4,
      (tag + 2) & 0xff,
    );
    if (!rakp4Reply) throw new IpmiError('TIMEOUT', `no RAKP 4 from ${where}`, { host: o.host, port: o.port });
    const rakp4 = decodeRakp4(rakp4Reply);
    if (rakp4.status === 0x0f) throw new IpmiError('BAD_PASSWORD', `the BMC at ${where} rejected our RAKP 3 (wrong password or K_G)`);
    if (rakp4.status !== 0) throw rakp2Error(rakp4.status, o.username.toString('utf8'));
    const keys = deriveSessionKeys(params, o.kuid, o.kg);
    if (!codesEqual(rakp4.icv, rakp4Icv(params, keys.sik))) {
      throw new IpmiError('BAD_PASSWORD', `RAKP 4 integrity check failed on ${where} (wrong K_G?)`);
    }
    this.security = { integrity: suite.integrity, k1: keys.k1, confidentiality: suite.confidentiality, k2: keys.k2 };
    this.txSequence = 1;
  }

  private sendSetup(payloadType: number, payload: Buffer): void {
    this.transport.send(encodeV2Packet({ payloadType, sessionId: 0, sequence: 0, payload }), this.endpoint);
  }

  /** Send a session-setup message and wait for its reply (same tag), resending on timeout. */
  private async setupExchange(payloadType: number, payload: Buffer, replyType: number, tag: number): Promise<Buffer | null> {
    for (let attempt = 0; attempt <= this.o.retries; attempt++) {
      const reply = await new Promise<Buffer | null>((resolve) => {
        const timer = setTimeout(() => {
          this.setupWaiter = null;
          resolve(null);
        }, this.o.timeoutMs);
        this.setupWaiter = {
          payloadType: replyType,
          tag,
          resolve: (p) => {
            clearTimeout(timer);
            this.setupWaiter = null;
            resolve(p);
          },
        };
        this.sendSetup(payloadType, payload);
      });
      if (reply) return reply;
    }
    return null;
  }

  // ---------------------------------------------------------------- packets in

  onPacket(buf: Buffer, head: Extract<PeekedPacket, { kind: 'v2' }>): void {
    if (head.sessionId === 0) {
      const w = this.setupWaiter;
      if (!w || head.payloadType !== w.payloadType) return;
      try {
        const { payload } = decodeV2Packet(buf, null);
        if (payload.length >= 1 && payload[0] === w.tag) w.resolve(Buffer.from(payload));
      } catch {
        /* malformed: ignore, the timeout resends */
      }
      return;
    }
    if (!this.security || this.state === 'closed') return;
    let decoded;
    try {
      decoded = decodeV2Packet(buf, this.security, head);
    } catch {
      return; // forged, corrupted or not for this key: drop silently, as the spec asks
    }
    // Sliding window against replays: accept anything newer, or up to 16 behind the newest.
    const seq = decoded.sequence;
    if (seq === 0 || (this.rxSequenceHighest > 16 && seq <= this.rxSequenceHighest - 16)) return;
    if (seq > this.rxSequenceHighest) this.rxSequenceHighest = seq;
    this.lastHeardAt = monotonicMs();
    if (decoded.payloadType === PayloadType.IPMI) {
      let response: IpmiResponse;
      try {
        response = decodeIpmiResponse(decoded.payload);
      } catch {
        return;
      }
      const p = this.pending.get(response.rqSeq);
      if (p && p.cmd === response.cmd) p.resolve(response);
    } else if (decoded.payloadType === PayloadType.SOL) {
      if (this.sol) this.sol.onPayload(decoded.payload);
      else if (this.solEarly && this.solEarly.length < 16) this.solEarly.push(Buffer.from(decoded.payload));
    }
  }

  // ---------------------------------------------------------------- requests

  private nextSequence(): number {
    const s = this.txSequence;
    this.txSequence = s >= 0xffffffff ? 1 : s + 1;
    return s;
  }

  private sendSessionPayload(payloadType: number, payload: Buffer): void {
    if (!this.security) return;
    this.transport.send(encodeV2Packet({ payloadType, sessionId: this.bmcSessionId, sequence: this.nextSequence(), payload }, this.security), this.endpoint);
  }

  sendSolPayload(payload: Buffer): void {
    if (this.state === 'closed') return;
    this.sendSessionPayload(PayloadType.SOL, payload);
  }

  /**
   * Send an IPMI command in this session and return its completion code and data. Requests of one
   * session run one at a time (BMCs handle that best). After `retries` resends without an answer
   * the session is considered lost: it closes with TIMEOUT, and the promise rejects with it.
   */
  rawCommand(netFn: number, cmd: number, data: Buffer = EMPTY, attempts = this.o.retries + 1): Promise<{ completionCode: number; data: Buffer }> {
    const run = this.queue.then(() => this.exchange(netFn, cmd, data, attempts));
    this.queue = run.catch(() => undefined);
    return run.then((r) => ({ completionCode: r.completionCode, data: r.data }));
  }

  /** Like rawCommand, but a non-zero completion code throws COMPLETION_CODE. */
  async command(netFn: number, cmd: number, data: Buffer = EMPTY): Promise<Buffer> {
    const r = await this.rawCommand(netFn, cmd, data);
    if (r.completionCode !== 0) {
      throw new IpmiError('COMPLETION_CODE', `command netFn 0x${netFn.toString(16)} cmd 0x${cmd.toString(16)}: ${completionCodeText(r.completionCode)}`, {
        completionCode: r.completionCode,
      });
    }
    return r.data;
  }

  private exchange(netFn: number, cmd: number, data: Buffer, attempts: number, loseOnTimeout = true): Promise<IpmiResponse> {
    if (!this.usable && !(this.state === 'opening' && this.security)) {
      return Promise.reject(this.closeReason ?? new IpmiError('SESSION_CLOSED', 'the IPMI session is closed'));
    }
    let rqSeq = this.rqSeq;
    for (let i = 0; i < 63 && this.pending.has(rqSeq); i++) rqSeq = (rqSeq % 63) + 1;
    this.rqSeq = (rqSeq % 63) + 1;
    const message = encodeIpmiRequest({ netFn, cmd, rqSeq, data });
    return new Promise<IpmiResponse>((resolve, reject) => {
      let timer: NodeJS.Timeout | null = null;
      let tries = 0;
      const finish = () => {
        if (timer) clearTimeout(timer);
        this.pending.delete(rqSeq);
      };
      const attempt = () => {
        if (this.state === 'closed') {
          finish();
          reject(this.closeReason ?? new IpmiError('SESSION_CLOSED', 'the IPMI session is closed'));
          return;
        }
        if (tries++ >= attempts) {
          finish();
          const error = new IpmiError('TIMEOUT', `the BMC at ${this.o.host}:${this.o.port} stopped answering (${attempts} attempt(s), ${this.o.timeoutMs} ms each)`, {
            host: this.o.host,
            port: this.o.port,
          });
          reject(error);
          if (this.state === 'active' && loseOnTimeout) this.lose(error);
          return;
        }
        this.sendSessionPayload(PayloadType.IPMI, message);
        timer = setTimeout(attempt, this.o.timeoutMs);
      };
      this.pending.set(rqSeq, {
        cmd,
        resolve: (r) => {
          finish();
          this.lastExchangeAt = monotonicMs();
          resolve(r);
        },
      });
      attempt();
    });
  }

  // ---------------------------------------------------------------- keepalive

  private scheduleKeepalive(): void {
    if (this.keepaliveTimer) clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = null;
    const interval = this.o.keepaliveIntervalMs;
    if (!interval || this.state !== 'active') return;
    const due = Math.max(0, this.lastExchangeAt + interval - monotonicMs());
    this.keepaliveTimer = setTimeout(() => this.keepalive(), due);
    this.keepaliveTimer.unref();
  }

  /**
   * Keepalive: a Get Device ID when no IPMI request completed for `keepaliveIntervalMs`. An IPMI
   * request rather than an empty SOL packet because every BMC resets its inactivity timer on one,
   * and its answer doubles as a liveness check: no answer after the retries loses the session —
   * unless the BMC went on sending us authenticated packets in this session meanwhile (SOL output):
   * then it is alive and the answers were lost on the way (a receive queue that overflowed while
   * the conductor was busy), and losing the session would only add a reconnect to the load.
   */
  private keepalive(): void {
    this.keepaliveTimer = null;
    if (this.state !== 'active') return;
    if (monotonicMs() - this.lastExchangeAt < this.o.keepaliveIntervalMs) return this.scheduleKeepalive();
    const sentAt = monotonicMs();
    const run = this.queue.then(() => this.exchange(NetFn.APP, Cmd.GET_DEVICE_ID, EMPTY, this.o.retries + 1, false));
    this.queue = run.catch(() => undefined);
    run.then(
      () => this.scheduleKeepalive(),
      (e: unknown) => {
        if (this.state !== 'active') return;
        if (this.lastHeardAt > sentAt) {
          this.lastExchangeAt = monotonicMs(); // heard from it: next keepalive in a full interval
          this.scheduleKeepalive();
        } else this.lose(e instanceof IpmiError ? e : new IpmiError('TIMEOUT', String(e)));
      },
    );
  }

  // ---------------------------------------------------------------- device, chassis, SOL

  async getDeviceId(): Promise<DeviceId> {
    return decodeDeviceId(await this.command(NetFn.APP, Cmd.GET_DEVICE_ID));
  }

  /**
   * Activate the SOL payload and return it as a byte stream. PAYLOAD_ALREADY_ACTIVE when another
   * session holds it (unless `forceDeactivate`), PAYLOAD_DISABLED when the BMC has SOL off.
   */
  async activateSol(opts: ActivateSolOptions = {}): Promise<SolConsole> {
    if (this.sol) throw new IpmiError('PAYLOAD_ALREADY_ACTIVE', 'SOL is already active in this session');
    const instance = opts.instance ?? 1;
    const request = encodeActivateSolRequest({
      instance,
      encrypt: this.suite!.confidentiality !== ConfAlg.NONE,
      authenticate: this.suite!.integrity !== IntegrityAlg.NONE,
    });
    this.solEarly = [];
    try {
      let r = await this.rawCommand(NetFn.APP, Cmd.ACTIVATE_PAYLOAD, request);
      if (r.completionCode === ActivatePayloadCc.ALREADY_ACTIVE && opts.forceDeactivate) {
        await this.deactivateSol(instance);
        r = await this.rawCommand(NetFn.APP, Cmd.ACTIVATE_PAYLOAD, request);
      }
      if (r.completionCode !== 0) throw activatePayloadError(r.completionCode, `${this.o.host}:${this.o.port}`);
      const info = decodeActivatePayloadResponse(r.data);
      const sol = new SolConsole(this, {
        instance,
        inboundPayloadSize: info.inboundPayloadSize,
        outboundPayloadSize: info.outboundPayloadSize,
        payloadPort: info.port,
        initialSequence: opts.initialSequence,
      });
      this.sol = sol;
      for (const p of this.solEarly) sol.onPayload(p);
      return sol;
    } finally {
      this.solEarly = null;
    }
  }

  /** Deactivate the SOL payload, whichever session holds it. Returns false if it was not active. */
  async deactivateSol(instance = 1): Promise<boolean> {
    const r = await this.rawCommand(NetFn.APP, Cmd.DEACTIVATE_PAYLOAD, encodeDeactivateSolRequest(instance));
    if (r.completionCode === DeactivatePayloadCc.ALREADY_DEACTIVATED) return false;
    if (r.completionCode !== 0) {
      const code: IpmiErrorCode = r.completionCode === DeactivatePayloadCc.TYPE_DISABLED ? 'PAYLOAD_DISABLED' : r.completionCode === CompletionCode.INSUFFICIENT_PRIVILEGE ? 'PRIVILEGE' : 'COMPLETION_CODE';
      throw new IpmiError(code, `Deactivate Payload failed: ${completionCodeText(r.completionCode)}`, { completionCode: r.completionCode });
    }
    return true;
  }

  /** Instances of the SOL payload that are active on the BMC (by any session). */
  async solActivationStatus(): Promise<{ capacity: number; activeInstances: number[] }> {
    return decodePayloadActivationStatus(await this.command(NetFn.APP, Cmd.GET_PAYLOAD_ACTIVATION_STATUS, Buffer.from([PayloadType.SOL])));
  }

  /** The SOL configuration parameters the BMC supports (unsupported ones are left out). */
  async solConfiguration(): Promise<SolConfiguration> {
    const get = async (parameter: number): Promise<Buffer | undefined> => {
      const r = await this.rawCommand(NetFn.TRANSPORT, Cmd.GET_SOL_CONFIGURATION_PARAMETERS, encodeGetSolConfigRequest(parameter));
      if (r.completionCode !== 0) return undefined;
      try {
        return decodeGetSolConfigResponse(r.data).value;
      } catch {
        return undefined;
      }
    };
    const c: SolConfiguration = {};
    const enable = await get(SolParameter.ENABLE);
    if (enable?.length) c.enabled = (enable[0]! & 1) === 1;
    const auth = await get(SolParameter.AUTHENTICATION);
    if (auth?.length) {
      c.forceEncryption = (auth[0]! & 0x80) !== 0;
      c.forceAuthentication = (auth[0]! & 0x40) !== 0;
      c.privilegeLevel = privilegeName(auth[0]! & 0x0f);
    }
    const acc = await get(SolParameter.CHARACTER_ACCUMULATE);
    if (acc && acc.length >= 2) {
      c.characterAccumulateMs = acc[0]! * 5;
      c.characterSendThreshold = acc[1]!;
    }
    const retry = await get(SolParameter.RETRY);
    if (retry && retry.length >= 2) {
      c.retryCount = retry[0]! & 0x07;
      c.retryIntervalMs = retry[1]! * 10;
    }
    const rate = (b: Buffer | undefined) => (b?.length ? (BIT_RATES[b[0]! & 0x0f] ?? 'serial') : undefined);
    c.nonVolatileBitRateKbps = rate(await get(SolParameter.NON_VOLATILE_BIT_RATE));
    c.volatileBitRateKbps = rate(await get(SolParameter.VOLATILE_BIT_RATE));
    const channel = await get(SolParameter.PAYLOAD_CHANNEL);
    if (channel?.length) c.payloadChannel = channel[0]! & 0x0f;
    const port = await get(SolParameter.PAYLOAD_PORT);
    if (port && port.length >= 2) c.payloadPort = port.readUInt16LE(0);
    for (const k of Object.keys(c) as Array<keyof SolConfiguration>) if (c[k] === undefined) delete c[k];
    return c;
  }

  // SolSessionHooks
  async deactivateSolPayload(instance: number): Promise<void> {
    if (!this.usable) return;
    await this.rawCommand(NetFn.APP, Cmd.DEACTIVATE_PAYLOAD, encodeDeactivateSolRequest(instance), 1).catch(() => undefined);
  }

  solTimedOut(error: IpmiError): void {
    this.lose(error);
  }

  solClosed(sol: SolConsole): void {
    if (this.sol === sol) this.sol = null;
  }

  // ---------------------------------------------------------------- closing

  /**
   * Deactivate SOL (if active) and send Close Session, each tried once; then release everything.
   * Idempotent; never rejects.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    if (this.state === 'closed') return Promise.resolve();
    this.state = 'closing';
    this.closing = (async () => {
      if (this.keepaliveTimer) clearTimeout(this.keepaliveTimer);
      this.keepaliveTimer = null;
      try {
        if (this.sol) await this.sol.close();
        if (this.security) {
          await this.rawCommand(NetFn.APP, Cmd.CLOSE_SESSION, encodeCloseSessionRequest(this.bmcSessionId), 1).catch(() => undefined);
        }
      } finally {
        await this.release(null);
      }
    })();
    return this.closing;
  }

  /**
   * End SOL and the session here without a word to the BMC (no Deactivate Payload, no Close
   * Session): for a caller that may no longer act on the BMC, e.g. a console owner that lost its
   * lease while another one may hold the payload by now. The BMC times the session out. Never rejects.
   */
  drop(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    return this.release(null);
  }

  /** The BMC is gone: end SOL and the session without talking to it. */
  private lose(error: IpmiError): void {
    if (this.state === 'closed') return;
    void this.release(error);
  }

  /** Failed open: tell a half-open BMC session goodbye if we got that far, then release. */
  private async abandon(): Promise<void> {
    if (this.security && this.state !== 'closed') {
      this.state = 'closing';
      await this.rawCommand(NetFn.APP, Cmd.CLOSE_SESSION, encodeCloseSessionRequest(this.bmcSessionId), 1).catch(() => undefined);
    }
    await this.release(null, false);
  }

  private async release(error: IpmiError | null, emit = true): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (error) this.closeReason = error;
    if (this.keepaliveTimer) clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = null;
    this.setupWaiter = null;
    const sol = this.sol;
    this.sol = null;
    sol?.finish(error);
    if (this.consoleSessionId) this.transport.unregister(this.consoleSessionId);
    this.transport.endSetup(this.endpoint, this);
    this.security = null;
    if (this.ownsSharedTransport) await releaseSharedTransport();
    if (emit) this.emit('close', error);
  }
}

/** Power control and status (Get Chassis Status / Chassis Control). */
export class ChassisControl {
  constructor(private readonly session: IpmiSession) {}

  async status(): Promise<ChassisStatus> {
    return decodeChassisStatus(await this.session.command(NetFn.CHASSIS, Cmd.GET_CHASSIS_STATUS));
  }

  async powerStatus(): Promise<PowerState> {
    return (await this.status()).powerOn ? 'on' : 'off';
  }

  async control(action: ChassisControlAction): Promise<void> {
    const r = await this.session.rawCommand(NetFn.CHASSIS, Cmd.CHASSIS_CONTROL, encodeChassisControlRequest(action));
    if (r.completionCode === 0) return;
    const code: IpmiErrorCode = r.completionCode === CompletionCode.INSUFFICIENT_PRIVILEGE ? 'PRIVILEGE' : 'COMPLETION_CODE';
    throw new IpmiError(code, `Chassis Control failed: ${completionCodeText(r.completionCode)}`, { completionCode: r.completionCode });
  }

  powerOn = () => this.control(ChassisControlAction.POWER_UP);
  powerOff = () => this.control(ChassisControlAction.POWER_DOWN);
  powerCycle = () => this.control(ChassisControlAction.POWER_CYCLE);
  powerReset = () => this.control(ChassisControlAction.HARD_RESET);
  softShutdown = () => this.control(ChassisControlAction.SOFT_SHUTDOWN);
}

async function resolveEndpoint(host: string, port: number): Promise<Endpoint> {
  const literal = isIP(host);
  if (literal) return { address: host, port, family: literal as 4 | 6 };
  try {
    const r = await lookup(host);
    return { address: r.address, port, family: r.family === 6 ? 6 : 4 };
  } catch (e) {
    throw new IpmiError('UNREACHABLE', `cannot resolve BMC host "${host}": ${(e as Error).message}`, { host, port });
  }
}

function openSessionError(status: number, suite: number): IpmiError {
  const text = `Open Session refused: ${rmcpStatusText(status)}`;
  if ([0x04, 0x05, 0x06, 0x07, 0x10, 0x11].includes(status)) {
    return new IpmiError('UNSUPPORTED_CIPHER_SUITE', `${text} (cipher suite ${suite} is not supported by the BMC)`, { rmcpStatus: status, cipherSuite: suite });
  }
  if ([0x09, 0x0a, 0x0b].includes(status)) return new IpmiError('PRIVILEGE', text, { rmcpStatus: status });
  if (status === 0x01) return new IpmiError('SESSION_LIMIT', text, { rmcpStatus: status });
  return new IpmiError('PROTOCOL', text, { rmcpStatus: status });
}

function rakp2Error(status: number, user: string): IpmiError {
  const text = `the BMC refused the session: ${rmcpStatusText(status)}`;
  // ipmi_sim answers an unknown name with "illegal parameter", the specification with "unauthorized name".
  if (status === 0x0d || status === 0x12 || status === 0x0c) return new IpmiError('UNKNOWN_USER', `${text} (user "${user}")`, { rmcpStatus: status });
  if ([0x09, 0x0a, 0x0b].includes(status)) return new IpmiError('PRIVILEGE', text, { rmcpStatus: status });
  if (status === 0x01) return new IpmiError('SESSION_LIMIT', text, { rmcpStatus: status });
  if (status === 0x0f) return new IpmiError('BAD_PASSWORD', text, { rmcpStatus: status });
  return new IpmiError('PROTOCOL', text, { rmcpStatus: status });
}

function setPrivilegeText(cc: number): string {
  if (cc === SetSessionPrivilegeCc.LEVEL_NOT_AVAILABLE) return 'requested level not available for this user';
  if (cc === SetSessionPrivilegeCc.LEVEL_EXCEEDS_LIMIT) return 'requested level exceeds the channel or user limit';
  if (cc === SetSessionPrivilegeCc.CANNOT_DISABLE_USER_AUTH) return 'cannot disable user level authentication';
  return completionCodeText(cc);
}

function activatePayloadError(cc: number, where: string): IpmiError {
  switch (cc) {
    case ActivatePayloadCc.ALREADY_ACTIVE:
      return new IpmiError('PAYLOAD_ALREADY_ACTIVE', `SOL payload already active on another session (${where})`, { completionCode: cc });
    case ActivatePayloadCc.LIMIT_REACHED:
      return new IpmiError('PAYLOAD_ALREADY_ACTIVE', `SOL payload activation limit reached (${where})`, { completionCode: cc });
    case ActivatePayloadCc.TYPE_DISABLED:
      return new IpmiError('PAYLOAD_DISABLED', `SOL payload disabled (${where})`, { completionCode: cc });
    case ActivatePayloadCc.CANNOT_ACTIVATE_WITH_ENCRYPTION:
    case ActivatePayloadCc.CANNOT_ACTIVATE_WITHOUT_ENCRYPTION:
      return new IpmiError('UNSUPPORTED_CIPHER_SUITE', `the BMC cannot activate SOL ${cc === ActivatePayloadCc.CANNOT_ACTIVATE_WITH_ENCRYPTION ? 'with' : 'without'} encryption (${where})`, { completionCode: cc });
    case CompletionCode.INSUFFICIENT_PRIVILEGE:
      return new IpmiError('PRIVILEGE', `insufficient privilege to activate SOL (${where})`, { completionCode: cc });
    default:
      return new IpmiError('COMPLETION_CODE', `Activate Payload failed: ${completionCodeText(cc)} (${where})`, { completionCode: cc });
  }
}
