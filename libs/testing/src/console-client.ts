import { createConnection, type Socket } from 'node:net';
import { waitFor } from './wait.js';

/** A TCP console client, as nova-serialproxy would be: connect to tcp://host:port, read and type. */
export class ConsoleClient {
  received = '';
  closed = false;
  private constructor(readonly socket: Socket) {
    socket.on('data', (d) => (this.received += d.toString('latin1')));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  /** Connect to a `tcp://host:port` console URL, or to a UNIX socket path (a native console's bridge). */
  static connect(target: string, timeoutMs = 2000): Promise<ConsoleClient> {
    let options: { path: string } | { host: string; port: number };
    if (target.startsWith('/')) options = { path: target };
    else {
      const m = /^tcp:\/\/\[?([^\]]+?)\]?:(\d+)$/.exec(target);
      if (!m) throw new Error(`not a tcp:// URL or a socket path: ${target}`);
      options = { host: m[1], port: Number(m[2]) };
    }
    return new Promise((resolve, reject) => {
      const s = createConnection(options);
      const t = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect to ${target} timed out`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(t);
        resolve(new ConsoleClient(s));
      });
      s.once('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
  }

  /** Wait for a condition, reporting what the client received if it times out. */
  async until(check: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
    await waitFor(check, { timeoutMs, intervalMs: 5, what: `${what} (client got ${JSON.stringify(this.received)})` });
  }

  write(text: string): void {
    this.socket.write(text);
  }

  async waitFor(text: string, timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.received.includes(text), { timeoutMs, intervalMs: 10, what: `console client to see ${JSON.stringify(text)} (got ${JSON.stringify(this.received.slice(-200))})` });
  }

  /** Wait until the SOL session is up (ipmitool's banner), then let the pty settle into raw mode. */
  async waitSession(timeoutMs = 10_000): Promise<void> {
    await this.waitFor('SOL Session operational', timeoutMs);
  }

  /**
   * ipmi_sim drops the first SOL packet of a session when its sequence number equals the last one
   * acked in the previous session (ipmitool always starts at 1; bmc-sim pitfall 3, an upstream
   * bug): send a sacrificial byte first so what a test types next is not lost to that bug.
   */
  async primeIpmiSim(): Promise<void> {
    this.write('z');
    await new Promise((r) => setTimeout(r, 150));
  }

  close(): Promise<void> {
    return new Promise((r) => {
      if (this.closed) return r();
      this.socket.once('close', () => r());
      this.socket.end();
      setTimeout(() => {
        this.socket.destroy();
        r();
      }, 500).unref();
    });
  }
}
