import { errorMessage, invalidInput } from '#libs/common';
import { IpmiSession, IpmiTransport, isIpmiError, resolveSessionOptions, type IpmiSessionOptions } from '#libs/ipmi';
import type { DriverInfo, NodeRecord } from '#libs/nodes';
import { ipmitoolTarget } from './argv.js';
import { BrokeredConsoleDriver, type BrokerContext } from './broker/brokered-console.driver.js';
import { openNativeSolLink } from './broker/native-sol-link.js';
import type { SolLinkOpener } from './broker/ports.js';
import type { SolSessionOpener } from './sol-bridge.js';

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
  /** How sessions are opened (tests); default IpmiSession.open on the driver's shared transport. */
  open?: SolSessionOpener;
}

/**
 * `native-ipmi-socat` (Ironic's NativeIPMISocatConsole): socat owns the TCP port Nova talks to and
 * relays every client to the node's console broker in the conductor (broker/), which holds ONE
 * native IPMI SOL session per node (libs/ipmi) and fans it out: no ipmitool, no shell, one UDP
 * socket for every session of this conductor.
 */
export class NativeIpmiSocatConsole extends BrokeredConsoleDriver {
  readonly name = 'native-ipmi-socat' as const;
  private transport: Promise<IpmiTransport> | undefined;
  private readonly open: SolSessionOpener;

  constructor(ctx: BrokerContext, opts: NativeIpmiSocatOptions = {}) {
    super(ctx);
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

  protected validate(node: NodeRecord): void {
    nativeSessionTarget(node.driver_info);
  }

  protected opener(uuid: string, current: () => NodeRecord): SolLinkOpener {
    return () => openNativeSolLink({ target: nativeSessionTarget(current().driver_info), open: this.open, leaseValid: this.ctx.leaseValid, log: this.ctx.log, uuid });
  }

  /** Conductor shutdown: every broker and session closed, then the transport. Idempotent. */
  override async close(): Promise<void> {
    await super.close();
    const t = this.transport;
    this.transport = undefined;
    if (t) await (await t.catch(() => undefined))?.close().catch((e: unknown) => this.ctx.log.warn({ err: isIpmiError(e) ? e.code : errorMessage(e) }, 'closing the IPMI transport failed'));
  }
}
