import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';
import { IpmiError } from '../errors.js';
import { PayloadType } from '../protocol/constants.js';
import { decodeIpmiResponse, encodeIpmiRequest, type IpmiResponse } from '../protocol/ipmi-message.js';
import { decodeV15Packet, decodeV2Packet, encodeV15Packet, encodeV2Packet, peekPacket, type PeekedPacket, V2_PAYLOAD_OFFSET } from '../protocol/rmcp.js';
import { setupReplyConsoleSessionId } from '../protocol/rakp.js';

/** Where a BMC is: a resolved IP address (never a host name) and UDP port. */
export interface Endpoint {
  address: string;
  port: number;
  family: 4 | 6;
}

export const endpointKey = (e: Pick<Endpoint, 'address' | 'port'>) => `${e.address}|${e.port}`;

/** What the transport hands a session: the raw datagram plus its already-peeked header. */
export interface PacketSink {
  onPacket(buf: Buffer, head: Extract<PeekedPacket, { kind: 'v2' }>): void;
}

export interface IpmiTransportOptions {
  /** Local address to bind the IPv4 socket to (default: all). */
  bindAddress?: string;
  /** Kernel receive buffer per socket; large so a burst from thousands of BMCs is not dropped. */
  receiveBufferBytes?: number;
}

export interface SessionlessRequest {
  endpoint: Endpoint;
  netFn: number;
  cmd: number;
  data: Buffer;
  /** IPMI 1.5 framing (Get Channel Auth Caps, as every client sends it) or an RMCP+ packet with session id 0. */
  format: 'v15' | 'v2';
  timeoutMs: number;
  attempts: number;
}

interface SessionlessWaiter {
  cmd: number;
  resolve(r: IpmiResponse): void;
}

/**
 * One UDP socket per address family shared by any number of sessions. Incoming datagrams are routed
 * by the console session id we chose (in the session header once a session is open, in the payload
 * for Open Session Response / RAKP 2 / RAKP 4), and sessionless replies by BMC endpoint + rqSeq.
 * This is the only module of the client that does I/O; everything it decodes goes to pure code.
 */
export class IpmiTransport {
  private sock4: Socket | undefined;
  private sock6: Socket | undefined;
  private readonly sinks = new Map<number, PacketSink>();
  /** Sessions in set-up per endpoint: fallback routing for replies too short to name a session. */
  private readonly setup = new Map<string, Set<PacketSink>>();
  private readonly sessionless = new Map<string, SessionlessWaiter>();
  private sessionlessSeq = randomInt(64);
  private closed = false;
  /** Datagrams that could not be routed or decoded (for diagnostics and tests). */
  dropped = 0;

  constructor(private readonly opts: IpmiTransportOptions = {}) {}

  static async create(opts: IpmiTransportOptions = {}): Promise<IpmiTransport> {
    const t = new IpmiTransport(opts);
    await t.socket(4);
    return t;
  }

  get sessionCount(): number {
    return this.sinks.size;
  }

  private async socket(family: 4 | 6): Promise<Socket> {
    if (this.closed) throw new IpmiError('SESSION_CLOSED', 'the IPMI transport is closed');
    const existing = family === 4 ? this.sock4 : this.sock6;
    if (existing) return existing;
    const sock = createSocket({ type: family === 4 ? 'udp4' : 'udp6', lookup: literalLookup });
    if (family === 4) this.sock4 = sock;
    else this.sock6 = sock;
    sock.on('message', (buf, rinfo) => this.onMessage(buf, rinfo));
    sock.on('error', () => {
      /* per-datagram send errors surface as timeouts; a socket error must not crash the process */
    });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ port: 0, address: family === 4 ? this.opts.bindAddress : undefined, exclusive: true }, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    try {
      sock.setRecvBufferSize(this.opts.receiveBufferBytes ?? 4 * 1024 * 1024);
    } catch {
      /* capped by net.core.rmem_max: keep the kernel default */
    }
    return sock;
  }

  /** Make sure the socket for this family exists (sessions call it once before sending). */
  async prepare(family: 4 | 6): Promise<void> {
    await this.socket(family);
  }

  send(buf: Buffer, to: Endpoint): void {
    const sock = to.family === 4 ? this.sock4 : this.sock6;
    if (!sock || this.closed) return;
    // No callback: Node then owes us no completion tick per datagram. A failed send (ICMP error, full
    // buffer) reaches the socket's 'error' listener, and the caller's retry/timeout logic handles it.
    sock.send(buf, to.port, to.address);
  }

  /** Register a session and give it a fresh, non-zero console session id that is unique here. */
  register(sink: PacketSink): number {
    for (;;) {
      const id = randomInt(1, 0xffffffff);
      if (!this.sinks.has(id)) {
        this.sinks.set(id, sink);
        return id;
      }
    }
  }

  unregister(consoleSessionId: number): void {
    this.sinks.delete(consoleSessionId);
  }

  beginSetup(endpoint: Endpoint, sink: PacketSink): void {
    const key = endpointKey(endpoint);
    let set = this.setup.get(key);
    if (!set) this.setup.set(key, (set = new Set()));
    set.add(sink);
  }

  endSetup(endpoint: Endpoint, sink: PacketSink): void {
    const key = endpointKey(endpoint);
    const set = this.setup.get(key);
    if (!set) return;
    set.delete(sink);
    if (set.size === 0) this.setup.delete(key);
  }

  /**
   * Send a request outside any session, retrying `attempts` times; resolves with the response or
   * null when nothing came back (the caller decides whether that means UNREACHABLE).
   */
  async sessionlessRequest(rq: SessionlessRequest): Promise<IpmiResponse | null> {
    await this.socket(rq.endpoint.family);
    const base = endpointKey(rq.endpoint);
    let rqSeq = -1;
    for (let i = 0; i < 64; i++) {
      const candidate = (this.sessionlessSeq = (this.sessionlessSeq + 1) % 64);
      if (!this.sessionless.has(`${base}|${candidate}`)) {
        rqSeq = candidate;
        break;
      }
    }
    if (rqSeq < 0) throw new IpmiError('SESSION_LIMIT', 'too many concurrent sessionless requests to one BMC');
    const key = `${base}|${rqSeq}`;
    const message = encodeIpmiRequest({ netFn: rq.netFn, cmd: rq.cmd, rqSeq, data: rq.data });
    const packet =
      rq.format === 'v15' ? encodeV15Packet(message) : encodeV2Packet({ payloadType: PayloadType.IPMI, sessionId: 0, sequence: 0, payload: message });
    try {
      for (let attempt = 0; attempt < rq.attempts; attempt++) {
        const response = await new Promise<IpmiResponse | null>((resolve) => {
          const timer = setTimeout(() => {
            this.sessionless.delete(key);
            resolve(null);
          }, rq.timeoutMs);
          this.sessionless.set(key, {
            cmd: rq.cmd,
            resolve: (r) => {
              clearTimeout(timer);
              this.sessionless.delete(key);
              resolve(r);
            },
          });
          this.send(packet, rq.endpoint);
        });
        if (response) return response;
        if (this.closed) return null;
      }
      return null;
    } finally {
      this.sessionless.delete(key);
    }
  }

  private onMessage(buf: Buffer, rinfo: RemoteInfo): void {
    try {
      const head = peekPacket(buf);
      if (head.kind === 'asf') return;
      if (head.kind === 'v15') {
        if (head.sessionId === 0) this.onSessionless(decodeV15Packet(buf).message, rinfo);
        else this.dropped++;
        return;
      }
      if (head.sessionId !== 0) {
        const sink = this.sinks.get(head.sessionId);
        if (sink) sink.onPacket(buf, head);
        else this.dropped++;
        return;
      }
      if (head.payloadType === PayloadType.IPMI) {
        this.onSessionless(decodeV2Packet(buf, null).payload, rinfo);
        return;
      }
      if (
        head.payloadType === PayloadType.OPEN_SESSION_RESPONSE ||
        head.payloadType === PayloadType.RAKP2 ||
        head.payloadType === PayloadType.RAKP4
      ) {
        const id = setupReplyConsoleSessionId(buf.subarray(V2_PAYLOAD_OFFSET));
        const sink = id !== undefined ? this.sinks.get(id) : undefined;
        if (sink) {
          sink.onPacket(buf, head);
          return;
        }
        // An error reply cut short after its status byte: offer it to the sessions in set-up with
        // that BMC; each checks the message tag.
        const set = this.setup.get(endpointKey({ address: rinfo.address, port: rinfo.port }));
        if (set) for (const s of [...set]) s.onPacket(buf, head);
        else this.dropped++;
        return;
      }
      this.dropped++;
    } catch {
      this.dropped++; // malformed datagram: never let it reach, or crash, anyone
    }
  }

  private onSessionless(message: Buffer, rinfo: RemoteInfo): void {
    const response = decodeIpmiResponse(message);
    const waiter = this.sessionless.get(`${endpointKey({ address: rinfo.address, port: rinfo.port })}|${response.rqSeq}`);
    if (waiter && waiter.cmd === response.cmd) waiter.resolve(response);
    else this.dropped++;
  }

  /** Close the sockets. Sessions still registered simply stop hearing from their BMCs. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const socks = [this.sock4, this.sock6].filter((s): s is Socket => !!s);
    this.sock4 = this.sock6 = undefined;
    await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/**
 * dgram resolves every send's address through `lookup`; Node's default (dns.lookup) answers even an
 * IP literal a tick later, which costs a deferred callback per datagram. Endpoints are resolved IP
 * addresses (resolveEndpoint), so answer those at once; anything else still goes to dns.lookup.
 */
function literalLookup(address: string, options: LookupOneOptions, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const family = isIP(address);
  if (family) callback(null, address, family);
  else dnsLookup(address, options, callback);
}

let shared: { transport: Promise<IpmiTransport>; refs: number } | undefined;

/**
 * The process-wide default transport, reference-counted: created by the first session that needs
 * it and closed when the last one releases it, so a CLI process can exit on its own.
 */
export function acquireSharedTransport(): Promise<IpmiTransport> {
  if (!shared) {
    const transport = IpmiTransport.create();
    shared = { transport, refs: 0 };
    transport.catch(() => {
      if (shared?.transport === transport) shared = undefined;
    });
  }
  shared.refs++;
  return shared.transport;
}

export async function releaseSharedTransport(): Promise<void> {
  if (!shared) return;
  if (--shared.refs > 0) return;
  const t = shared.transport;
  shared = undefined;
  await (await t).close();
}
