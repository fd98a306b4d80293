import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { ConsoleStatusRepository } from '#libs/nodes';
import type { ViewerInfo } from '#libs/console-protocol';
import { BaseHandle, type AttachRequest, type ConsoleHandle, type LocalConsoles } from './console-backend.js';

/**
 * Attaches a client to a console this conductor runs through its TCP port, exactly as Nova's
 * serial proxy does: for consoles without an in-process broker. The port serves one client at a
 * time, so this client writes whenever it is connected; lock and who requests are answered with a
 * notice.
 */
export class ConsolePortConsoles implements LocalConsoles {
  constructor(
    private readonly statuses: ConsoleStatusRepository,
    private readonly me: () => { id: string; incarnation: string },
  ) {}

  async attach(req: AttachRequest): Promise<ConsoleHandle | undefined> {
    const st = await this.statuses.get(req.uuid);
    const me = this.me();
    const m = st.url ? /^tcp:\/\/\[?([^\]]+?)\]?:(\d+)$/.exec(st.url) : null;
    if (st.state !== 'running' || st.conductor !== me.id || st.incarnation !== me.incarnation || !m) return undefined;
    const socket = connect({ host: m[1], port: Number(m[2]) });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    }).catch(() => undefined);
    if (socket.destroyed || !socket.remoteAddress) {
      socket.destroy();
      return undefined;
    }
    return new PortHandle(socket, req);
  }
}

class PortHandle extends BaseHandle {
  readonly id = `web-${randomUUID().slice(0, 8)}`;
  readonly writer: boolean;
  readonly replayBytes = 0;
  private readonly since = Date.now();

  constructor(
    private readonly socket: Socket,
    private readonly req: AttachRequest,
  ) {
    super();
    this.writer = !req.readOnly;
    socket.setNoDelay(true);
    socket.on('data', (d) => this.emit('data', d));
    socket.on('error', () => undefined);
    socket.on('close', () => this.closeOnce('ended'));
  }

  write(data: Buffer): void {
    if (this.writer) this.socket.write(data);
  }

  takeWrite(): void {
    this.emit('notice', 'this console has no shared session: the write lock does not apply');
  }

  releaseWrite(): void {
    this.takeWrite();
  }

  sendBreak(): void {
    this.emit('notice', 'this console cannot send a serial break');
  }

  who(): ViewerInfo[] {
    return [{ id: this.id, via: this.req.via, address: this.req.address, since: this.since, writer: this.writer, you: true }];
  }

  detach(): void {
    this.socket.destroy();
  }
}
