import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { waitFor } from './wait.js';

/**
 * A shellinabox console client speaking the protocol of shellinabox's own page (ShellInABox.js):
 * a POST with the terminal size and the root URL opens a session; POSTs with the session id
 * long-poll for output, and with `keys` (hex of the UTF-8 bytes) send keystrokes. Same surface as
 * ConsoleClient (received, write, waitFor, waitSession, close), so a test reads the same for both.
 * https with a self-signed certificate is accepted (the tests make their own).
 */
export class ShellinaboxClient {
  received = '';
  closed = false;
  /** HTTP status that ended the session (shellinaboxd answers 400 once the session's command exited). */
  endStatus: number | undefined;
  private stopped = false;
  private polling: Promise<void> | undefined;

  private constructor(
    readonly url: string,
    readonly session: string,
  ) {}

  static async connect(url: string, timeoutMs = 5000): Promise<ShellinaboxClient> {
    if (!/^https?:\/\//.test(url)) throw new Error(`not an http(s):// URL: ${url}`);
    const r = await post(url, `width=80&height=24&rooturl=${encodeURIComponent(`${url}/`)}`, timeoutMs);
    if (r.status !== 200) throw new Error(`shellinabox refused a session: HTTP ${r.status} ${r.body}`);
    const body = JSON.parse(r.body) as { session: string; data: string };
    const c = new ShellinaboxClient(url, body.session);
    c.received += body.data ?? '';
    c.polling = c.poll();
    return c;
  }

  /** The page that loads shellinabox's terminal (what a browser gets first). */
  static async page(url: string): Promise<{ status: number; body: string }> {
    return get(url);
  }

  private async poll(): Promise<void> {
    while (!this.stopped) {
      const r = await post(this.url, `width=80&height=24&session=${encodeURIComponent(this.session)}`, 60_000).catch(() => ({ status: 0, body: '' }));
      if (this.stopped) break;
      if (r.status !== 200) {
        this.endStatus = r.status;
        this.closed = true;
        break;
      }
      try {
        this.received += (JSON.parse(r.body) as { data?: string }).data ?? '';
      } catch {
        /* an empty answer to a poll that timed out */
      }
    }
  }

  write(text: string): void {
    const keys = Buffer.from(text, 'utf8').toString('hex').toUpperCase();
    void post(this.url, `width=80&height=24&session=${encodeURIComponent(this.session)}&keys=${keys}`, 10_000).catch(() => undefined);
  }

  async waitFor(text: string, timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.received.includes(text), { timeoutMs, intervalMs: 10, what: `shellinabox client to see ${JSON.stringify(text)} (got ${JSON.stringify(this.received.slice(-300))})` });
  }

  /** Wait until the broker's SOL session is up (ipmitool's banner, relayed). */
  async waitSession(timeoutMs = 10_000): Promise<void> {
    await this.waitFor('SOL Session operational', timeoutMs);
  }

  /** As ConsoleClient.primeIpmiSim: a sacrificial byte for ipmi_sim's first-packet bug. */
  async primeIpmiSim(): Promise<void> {
    this.write('z');
    await new Promise((r) => setTimeout(r, 150));
  }

  /** Stop polling (the session itself ends when the relay ends, as when a browser tab closes). */
  async close(): Promise<void> {
    this.stopped = true;
    // end this session's command: ~. is the broker's disconnect escape
    this.write('\r~.');
    await Promise.race([this.polling, new Promise((r) => setTimeout(r, 1000))]);
  }
}

interface Reply {
  status: number;
  body: string;
}

function send(method: 'GET' | 'POST', url: string, body: string | undefined, timeoutMs: number): Promise<Reply> {
  const u = new URL(url);
  const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
    {
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: Number(u.port),
      path: u.pathname === '' ? '/' : u.pathname,
      method,
      rejectUnauthorized: false,
      agent: false,
      headers: body === undefined ? {} : { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8', 'Content-Length': Buffer.byteLength(body) },
    },
  );
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => req.destroy(new Error(`${method} ${url} timed out`)), timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(t);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
    req.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    req.end(body);
  });
}

const post = (url: string, body: string, timeoutMs: number) => send('POST', url, body, timeoutMs);
const get = (url: string) => send('GET', url, undefined, 5000);
