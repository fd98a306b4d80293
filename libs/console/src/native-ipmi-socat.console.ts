import { errorMessage, invalidInput } from '#libs/common';
import { IpmiSession, IpmiTransport, isIpmiError, resolveSessionOptions, type IpmiSessionOptions } from '#libs/ipmi';
import type { Logger } from '#libs/logging';
import type { DriverInfo, NodeRecord } from '#libs/nodes';
import { ipmitoolTarget, type SocatPeer } from './argv.js';
import type { ConsoleDriver } from './console-driver.js';
import type { PidDirectory } from './pid-dir.js';
import { SolBridge, type SolSessionOpener } from './sol-bridge.js';

/** sockaddr_un.sun_path holds 108 bytes including the terminating NUL. */
const MAX_UNIX_SOCKET_PATH_BYTES = 107;

/**
 * IPMI session options from driver_info, validated like the ipmitool driver's (INVALID_INPUT naming
 * the bad field). No cipher suite means libs/ipmi picks one (Get Channel Cipher Suites, else 3).
 */
export function nativeSessionTarget(info: DriverInfo): IpmiSessionOptions {
  const t = ipmitoolTarget(info);
  const target: IpmiSessionOptions = {
    host: t.address,
    port: t.port,
    username: t.username ?? '',
    password: info.ipmi_password ?? '',
    cipherSuite: t.cipherSuite,
    privLevel: t.privLevel as IpmiSessionOptions['privLevel'],
  };
  try {
    resolveSessionOptions(target); // e.g. cipher suites libs/ipmi does not implement (MD5, xRC4)
  } catch (e) {
    throw invalidInput(`Invalid driver_info for the native-ipmi-socat console: ${errorMessage(e)}`);
  }
  return target;
}

export interface NativeIpmiSocatOptions {
  /** The conductor's lease (MembershipService.leaseValid): checked for every connection. */
  leaseValid: () => boolean;
  /** How sessions are opened (tests); default IpmiSession.open on the driver's shared transport. */
  open?: SolSessionOpener;
  /** How long cleanup waits for a session to end on the BMC; default 3000 ms. */
  closeTimeoutMs?: number;
}

/**
 * `native-ipmi-socat` (Ironic's NativeIPMISocatConsole): socat still owns the TCP port Nova talks to
 * (same URL, supervision, claims and takeover as ipmitool-socat) but connects each client to
 * `UNIX-CONNECT:<pid dir>/<uuid>.sock`, a SOL bridge inside the conductor (sol-bridge.ts) that holds
 * the IPMI session in-process: no ipmitool, no shell per client, one UDP socket for every session
 * of this conductor.
 */
export class NativeIpmiSocatConsole implements ConsoleDriver {
  readonly name = 'native-ipmi-socat' as const;
  onSessionError?: (uuid: string, message: string) => void;
  private readonly bridges = new Map<string, SolBridge>();
  private transport: Promise<IpmiTransport> | undefined;
  private closed = false;
  private readonly open: SolSessionOpener;

  constructor(
    private readonly pidDir: PidDirectory,
    private readonly log: Logger,
    private readonly opts: NativeIpmiSocatOptions,
  ) {
    this.open = opts.open ?? (async (target) => IpmiSession.open({ ...target, transport: await this.sharedTransport() }));
  }

  /** The conductor's one IPMI transport (UDP socket), created with the first session. */
  private sharedTransport(): Promise<IpmiTransport> {
    if (this.closed) return Promise.reject(new Error('the native console driver is closed'));
    if (!this.transport) {
      const t = IpmiTransport.create();
      this.transport = t;
      t.catch(() => {
        if (this.transport === t) this.transport = undefined;
      });
    }
    return this.transport;
  }

  /** Number of nodes with a bridge (tests, metrics). */
  get bridgeCount(): number {
    return this.bridges.size;
  }

  async prepare(node: NodeRecord): Promise<SocatPeer> {
    if (this.closed) throw new Error('the native console driver is closed');
    const target = nativeSessionTarget(node.driver_info);
    const path = this.pidDir.socketPath(node.uuid);
    if (Buffer.byteLength(path) > MAX_UNIX_SOCKET_PATH_BYTES)
      throw invalidInput(`the console socket path ${path} is longer than ${MAX_UNIX_SOCKET_PATH_BYTES} bytes: use a shorter SOLGATE_TERMINAL_PID_DIR`);
    const existing = this.bridges.get(node.uuid);
    if (existing && (await existing.intact())) {
      // socat restarted (same node): keep the bridge and any session on it, take the new parameters
      existing.retarget(target);
      return { unixSocket: path };
    }
    if (existing) await existing.close();
    const bridge = new SolBridge({
      uuid: node.uuid,
      socketPath: path,
      target,
      leaseValid: this.opts.leaseValid,
      open: this.open,
      log: this.log,
      onSessionError: (uuid, message) => this.onSessionError?.(uuid, message),
      closeTimeoutMs: this.opts.closeTimeoutMs,
    });
    this.bridges.set(node.uuid, bridge);
    try {
      await bridge.listen();
    } catch (e) {
      if (this.bridges.get(node.uuid) === bridge) this.bridges.delete(node.uuid);
      await bridge.close();
      throw new Error(`cannot listen on ${path}: ${errorMessage(e)}`);
    }
    return { unixSocket: path };
  }

  /** After socat is gone: end the node's SOL session (deactivate + close), stop its bridge, remove its files. */
  async cleanup(node: NodeRecord): Promise<void> {
    const bridge = this.bridges.get(node.uuid);
    this.bridges.delete(node.uuid);
    try {
      await bridge?.close();
    } catch (e) {
      this.log.warn({ node: node.uuid, err: errorMessage(e) }, 'closing the SOL bridge failed');
    } finally {
      await this.pidDir.removeNodeFiles(node.uuid);
    }
  }

  /** Conductor shutdown: every bridge and session closed, then the transport. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const bridges = [...this.bridges.entries()];
    this.bridges.clear();
    await Promise.all(
      bridges.map(async ([uuid, b]) => {
        try {
          await b.close();
        } catch (e) {
          this.log.warn({ node: uuid, err: isIpmiError(e) ? e.code : errorMessage(e) }, 'closing the SOL bridge failed');
        }
      }),
    );
    const t = this.transport;
    this.transport = undefined;
    if (t) await (await t.catch(() => undefined))?.close();
  }
}
