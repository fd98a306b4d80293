import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';

/**
 * A small JSON-over-HTTP(S) client on node:http/https rather than fetch: OpenStack clouds often
 * use a private CA (clouds.yaml `cacert`) or `verify: false`, which Node 20's global fetch cannot
 * take per request without the undici package. Secrets (tokens, passwords) travel in headers or
 * bodies only and never appear in an error message: errors name the method, the URL without its
 * query, and the status.
 */
export interface HttpOptions {
  /** PEM file of the CA that signed the server certificates (clouds.yaml `cacert`). */
  caFile?: string;
  /** Skip TLS verification (clouds.yaml `verify: false`). */
  insecure?: boolean;
  /** Per-request timeout. */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body as JSON, or undefined when it is empty or not JSON. */
  json: unknown;
}

export class HttpError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** A URL for messages: scheme, host, path; no credentials, no query. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '<invalid URL>';
  }
}

export class HttpClient {
  private ca: Buffer | undefined;

  constructor(private readonly opts: HttpOptions = {}) {
    if (opts.caFile) this.ca = readFileSync(opts.caFile);
  }

  request(method: string, url: string, { headers = {}, body }: { headers?: Record<string, string>; body?: unknown } = {}): Promise<HttpResponse> {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return Promise.reject(new HttpError(`not a URL: ${JSON.stringify(url)}`));
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return Promise.reject(new HttpError(`not an http(s) URL: ${safeUrl(url)}`));
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const timeoutMs = this.opts.timeoutMs ?? 30_000;
    const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(
        u,
        {
          method,
          headers: {
            Accept: 'application/json',
            ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {}),
            ...headers,
          },
          ...(u.protocol === 'https:' ? { ca: this.ca, rejectUnauthorized: !this.opts.insecure } : {}),
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (e) => reject(new HttpError(`${method} ${safeUrl(url)}: ${e.message}`)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (e) => reject(new HttpError(`${method} ${safeUrl(url)}: ${e.message}`)));
      req.end(payload);
    });
  }
}

/**
 * The message of an OpenStack error body: Ironic's `{"error_message": "<JSON with faultstring>"}`,
 * Keystone's `{"error": {"message": ...}}`, or the start of the text.
 */
export function openstackErrorMessage(res: HttpResponse): string {
  const body = res.json as Record<string, unknown> | undefined;
  if (body && typeof body.error_message === 'string') {
    try {
      const inner = JSON.parse(body.error_message) as { faultstring?: string };
      if (inner.faultstring) return inner.faultstring;
    } catch {
      return body.error_message;
    }
  }
  const err = body?.error as { message?: string } | undefined;
  if (err && typeof err.message === 'string') return err.message;
  return res.text.replace(/\s+/g, ' ').trim().slice(0, 200) || `HTTP ${res.status}`;
}
