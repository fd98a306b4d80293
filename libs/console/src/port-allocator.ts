import { createServer } from 'node:net';
import { SolgateError } from '#libs/common';

/**
 * Console ports: a node's fixed `ipmi_terminal_port` wins; otherwise the port it had before (so a
 * restarted console keeps its URL), otherwise the next free one in SOLGATE_PORT_RANGE (STOP
 * exclusive). "Free" is proven by binding it, as Ironic does; socat may still lose a race for it,
 * and the caller then asks again with that port excluded.
 */
export class PortAllocator {
  private readonly inUse = new Set<number>();
  /** Ports another process held when we last tried them: skipped for a while, so a crowded range costs one bind per port, not one per start. */
  private readonly busyUntil = new Map<number, number>();
  private next: number;

  constructor(
    private readonly address: string,
    private readonly range: { start: number; stop: number },
  ) {
    this.next = range.start;
  }

  async allocate(preferred?: number, fixed = false, exclude: ReadonlySet<number> = new Set()): Promise<number> {
    if (preferred !== undefined && !this.inUse.has(preferred) && !exclude.has(preferred) && (await canBind(preferred, this.address))) {
      this.inUse.add(preferred);
      return preferred;
    }
    if (fixed) throw new SolgateError('CONFLICT', `console port ${preferred} (ipmi_terminal_port) is in use on ${this.address}`);
    const size = this.range.stop - this.range.start;
    const now = Date.now();
    for (let i = 0; i < size; i++) {
      const port = this.range.start + ((this.next - this.range.start + i) % size);
      if (this.inUse.has(port) || exclude.has(port) || (this.busyUntil.get(port) ?? 0) > now) continue;
      if (await canBind(port, this.address)) {
        this.busyUntil.delete(port);
        this.inUse.add(port);
        this.next = port + 1 >= this.range.stop ? this.range.start : port + 1;
        return port;
      }
      this.busyUntil.set(port, now + 30_000);
    }
    throw new SolgateError('UNAVAILABLE', `no free console port in ${this.range.start}:${this.range.stop} on ${this.address}`);
  }

  release(port: number | undefined): void {
    if (port !== undefined) this.inUse.delete(port);
  }

}

export function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}
