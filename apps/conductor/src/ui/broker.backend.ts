import type { ViewerInfo as WireViewer } from '#libs/console-protocol';
import type { ConsoleBrokerRegistry, ConsoleViewer, LockChange as BrokerLockChange, ViewerCloseReason, ViewerInfo } from '#libs/console';
import { BaseHandle, type AttachRequest, type ConsoleHandle, type DetachReason, type LocalConsoles } from './console-backend.js';

/** What each broker close reason means to a web or CLI client. */
const DETACH: Record<ViewerCloseReason, DetachReason> = {
  disabled: 'disabled',
  deleted: 'disabled',
  handover: 'moving',
  shutdown: 'moving',
  fenced: 'moving',
  stale: 'moving',
  restart: 'moving',
  failed: 'unavailable',
  'session-failed': 'unavailable',
  full: 'unavailable',
  slow: 'unavailable',
  idle: 'ended',
  detached: 'ended',
};

export const toWireViewer = (v: ViewerInfo): WireViewer => ({ id: v.id, name: v.name, via: v.via, address: v.address, since: v.attachedAt, writer: v.writer });

/**
 * Clients attached in-process to the node's console broker (libs/console/src/broker): one more
 * viewer of the one BMC session, with its history replay, write lock, break and who list.
 */
export class BrokerConsoles implements LocalConsoles {
  constructor(private readonly registry: () => ConsoleBrokerRegistry | undefined) {}

  async attach(req: AttachRequest): Promise<ConsoleHandle | undefined> {
    const broker = this.registry()?.get(req.uuid);
    if (!broker) return undefined;
    const replayBytes = broker.replay().length;
    const viewer = broker.attach({ name: req.name, address: req.address, via: req.via, readOnly: req.readOnly, forceWrite: req.forceWrite });
    return new BrokerHandle(viewer, replayBytes);
  }
}

class BrokerHandle extends BaseHandle {
  constructor(
    private readonly viewer: ConsoleViewer,
    readonly replayBytes: number,
  ) {
    super();
    viewer.on('data', (d) => this.emit('data', d));
    // the broker's notices read "[solgate: …]"; the clients add that frame themselves
    viewer.on('notice', (line) => this.emit('notice', /^\[solgate: (.*)\]$/.exec(line)?.[1] ?? line));
    viewer.on('lock', (c: BrokerLockChange) =>
      this.emit('lock', { holder: c.writer?.id ?? null, holderLabel: c.writer ? `${c.writer.name} (${c.writer.via})` : null, forced: c.forced, by: c.forced ? (c.writer?.name ?? null) : null }),
    );
    viewer.on('close', (reason) => this.closeOnce(DETACH[reason] ?? 'ended'));
  }

  get id(): string {
    return this.viewer.info.id;
  }

  get writer(): boolean {
    return this.viewer.info.writer;
  }

  write(data: Buffer): void {
    this.viewer.write(data);
  }

  takeWrite(force: boolean): void {
    if (!this.viewer.takeWrite(force)) this.emit('notice', this.viewer.info.readOnly ? 'attached read-only: reconnect without read-only to write' : 'the write lock is held by another client (use Force write)');
  }

  releaseWrite(): void {
    this.viewer.releaseWrite();
  }

  sendBreak(): void {
    const r = this.viewer.sendBreak();
    if (r === 'not-writer') this.emit('notice', 'only the client holding the write lock can send a break');
    else if (r === 'no-session') this.emit('notice', 'no BMC session: the break was not sent');
  }

  who(): WireViewer[] {
    return this.viewer.who().map(toWireViewer);
  }

  detach(): void {
    this.viewer.detach();
  }
}

/** The broker when this conductor has one for the node, else the console's TCP port. */
export class FirstOf implements LocalConsoles {
  constructor(private readonly backends: LocalConsoles[]) {}

  async attach(req: AttachRequest): Promise<ConsoleHandle | undefined> {
    for (const b of this.backends) {
      const h = await b.attach(req);
      if (h) return h;
    }
    return undefined;
  }
}
