import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { waitFor } from '../../support/wait.js';

/**
 * A minimal RFC 6455 WebSocket client — what a browser's noVNC/xterm.js does against
 * nova-serialproxy — for the end-to-end test (Node 20 has no WebSocket without a flag, and the
 * project has no ws dependency). Binary frames, client-side masking, ping → pong, close.
 */
export class WebSocketClient {
  received = Buffer.alloc(0);
  closed = false;
  private pending = Buffer.alloc(0);

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  /** Open ws://host:port/path, offering the `binary` subprotocol as nova-serialproxy's clients do. */
  static connect(url: string, timeoutMs = 5000): Promise<WebSocketClient> {
    const u = new URL(url);
    const key = randomBytes(16).toString('base64');
    return new Promise((resolve, reject) => {
      const req = request({
        host: u.hostname,
        port: Number(u.port),
        path: u.pathname + u.search,
        headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Protocol': 'binary' },
        timeout: timeoutMs,
      });
      req.on('upgrade', (res, socket, head) => {
        if (res.statusCode !== 101) return reject(new Error(`websocket upgrade refused: ${res.statusCode}`));
        const c = new WebSocketClient(socket);
        if (head.length) c.onData(head);
        resolve(c);
      });
      req.on('response', (res) => reject(new Error(`websocket upgrade refused: HTTP ${res.statusCode}`)));
      req.on('timeout', () => req.destroy(new Error('websocket connect timed out')));
      req.on('error', reject);
      req.end();
    });
  }

  private frame(opcode: number, payload: Buffer): Buffer {
    const mask = randomBytes(4);
    const len = payload.length;
    const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff]);
    if (len > 0xffff) throw new Error('frame too large for this test client');
    const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
    return Buffer.concat([head, mask, body]);
  }

  send(data: string | Buffer): void {
    this.socket.write(this.frame(0x2, Buffer.isBuffer(data) ? data : Buffer.from(data, 'latin1')));
  }

  private onData(d: Buffer): void {
    this.pending = Buffer.concat([this.pending, d]);
    for (;;) {
      if (this.pending.length < 2) return;
      const opcode = this.pending[0] & 0x0f;
      let len = this.pending[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.pending.length < 4) return;
        len = this.pending.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.pending.length < 10) return;
        len = Number(this.pending.readBigUInt64BE(2));
        off = 10;
      }
      if (this.pending.length < off + len) return;
      const payload = this.pending.subarray(off, off + len);
      this.pending = this.pending.subarray(off + len);
      if (opcode === 0x1 || opcode === 0x2 || opcode === 0x0) this.received = Buffer.concat([this.received, payload]);
      else if (opcode === 0x9) this.socket.write(this.frame(0xa, Buffer.from(payload)));
      else if (opcode === 0x8) this.socket.end();
    }
  }

  get text(): string {
    return this.received.toString('latin1');
  }

  async waitFor(text: string, timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.text.includes(text), { timeoutMs, intervalMs: 10, what: `websocket to receive ${JSON.stringify(text)} (got ${JSON.stringify(this.text.slice(-200))})` });
  }

  close(): void {
    if (!this.closed) this.socket.write(this.frame(0x8, Buffer.from([0x03, 0xe8])));
    this.socket.end();
    this.socket.destroySoon?.();
  }
}
