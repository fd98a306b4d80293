import { EventEmitter } from 'node:events';
import { describeSession, isIpmiError, type IpmiSessionOptions } from '#libs/ipmi';
import type { Logger } from '#libs/logging';
import { sessionErrorMessage, sessionFailureLine, type SolSession, type SolSessionOpener, type SolStream } from '../sol-bridge.js';
import { SolLinkOpenError, type SolLink, type SolLinkEvents } from './ports.js';

/**
 * The native BMC session of a broker (native-ipmi-socat): an IPMI v2.0 session held in the
 * conductor (libs/ipmi) with SOL activated — kicking a payload a vanished session left behind, as
 * `sol deactivate` does for ipmitool. The lease is checked before the handshake and again right
 * before activation.
 */
export async function openNativeSolLink(opts: { target: IpmiSessionOptions; open: SolSessionOpener; leaseValid: () => boolean; log: Logger; uuid: string }): Promise<SolLink> {
  const where = describeSession(opts.target);
  const stale = () => new SolLinkOpenError('', 'the conductor’s lease is not valid', true);
  if (!opts.leaseValid()) throw stale();
  let session: SolSession;
  try {
    session = await opts.open(opts.target);
  } catch (e) {
    opts.log.warn({ node: opts.uuid, bmc: where, code: isIpmiError(e) ? e.code : undefined }, 'SOL session failed');
    throw new SolLinkOpenError(sessionFailureLine('open', e), sessionErrorMessage('open', e));
  }
  if (!opts.leaseValid()) {
    await session.close();
    throw stale();
  }
  let sol: SolStream;
  try {
    sol = await session.activateSol({ forceDeactivate: true });
  } catch (e) {
    await session.close();
    opts.log.warn({ node: opts.uuid, bmc: where, code: isIpmiError(e) ? e.code : undefined }, 'SOL session failed');
    throw new SolLinkOpenError(sessionFailureLine('activate', e), sessionErrorMessage('activate', e));
  }
  opts.log.info({ node: opts.uuid, bmc: where }, 'SOL session started');
  return new NativeSolLink(session, sol);
}

class NativeSolLink extends EventEmitter<SolLinkEvents> implements SolLink {
  private ended = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly session: SolSession,
    private readonly sol: SolStream,
  ) {
    super();
    sol.on('error', () => undefined);
    sol.on('data', (d: Buffer) => this.emit('data', d));
    sol.on('close', () => {
      const r = sol.closeReason;
      this.end(this.closing ? null : r ? `${r.message} (${r.code})` : 'the SOL payload ended');
      if (!this.closing) void session.close();
    });
  }

  write(data: Buffer): void {
    if (!this.sol.destroyed) this.sol.write(data);
  }

  sendBreak(): 'sent' {
    this.sol.sendBreak();
    return 'sent';
  }

  close(opts: { abandon?: boolean } = {}): Promise<void> {
    this.closing ??= (async () => {
      if (opts.abandon) await this.session.drop(); // no Deactivate Payload, no Close Session: the BMC times the session out
      else await this.session.close(); // deactivates SOL, then Close Session; never rejects
      this.end(null);
    })();
    return this.closing;
  }

  private end(error: string | null): void {
    if (this.ended) return;
    this.ended = true;
    this.emit('end', { error });
  }
}
