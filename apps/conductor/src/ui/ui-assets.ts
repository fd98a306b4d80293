import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Request, Response } from 'express';
import { packageRoot } from '#libs/common';

/**
 * The web console's files (built by apps/web/build.mjs into dist/web), read into memory once: a few
 * hundred KB. Hashed assets are served with a one-year immutable cache, pages with `no-cache`;
 * the pre-compressed .gz variant goes to browsers that accept gzip.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  // xterm.js writes its renderer's <style> elements at run time and has no nonce support; scripts
  // stay strict (no inline script, no eval), which is what protects the page.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  body: Buffer;
  gzip?: Buffer;
  type: string;
}

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.html': 'text/html; charset=utf-8' };

export class UiAssets {
  private readonly pages = new Map<string, Asset>();
  private readonly assets = new Map<string, Asset>();

  constructor(readonly dir = join(packageRoot(), 'dist', 'web')) {
    if (!existsSync(join(dir, 'console.html'))) return; // not built: every /ui page answers 503 saying so
    const load = (path: string): Asset => {
      const ext = path.slice(path.lastIndexOf('.'));
      return { body: readFileSync(path), gzip: existsSync(`${path}.gz`) ? readFileSync(`${path}.gz`) : undefined, type: TYPES[ext] ?? 'application/octet-stream' };
    };
    for (const page of ['nodes', 'console']) this.pages.set(page, load(join(dir, `${page}.html`)));
    for (const f of readdirSync(join(dir, 'assets'))) if (!f.endsWith('.gz')) this.assets.set(f, load(join(dir, 'assets', f)));
  }

  get built(): boolean {
    return this.pages.size > 0;
  }

  sendPage(req: Request, res: Response, page: 'nodes' | 'console'): void {
    const a = this.pages.get(page);
    securityHeaders(res);
    if (!a) {
      res.status(503).type('text/plain').send('The web console is not built: run `npm run build`.\n');
      return;
    }
    res.setHeader('Cache-Control', 'no-cache');
    send(req, res, a);
  }

  sendAsset(req: Request, res: Response, name: string): void {
    const a = this.assets.get(name);
    securityHeaders(res);
    if (!a) {
      res.status(404).type('text/plain').send('Not found\n');
      return;
    }
    res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
    send(req, res, a);
  }
}

export function securityHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
}

function send(req: Request, res: Response, a: Asset): void {
  const gzip = a.gzip && /\bgzip\b/.test(req.header('Accept-Encoding') ?? '');
  const body = gzip ? a.gzip! : a.body;
  res.setHeader('Content-Type', a.type);
  res.setHeader('Vary', 'Accept-Encoding');
  if (gzip) res.setHeader('Content-Encoding', 'gzip');
  res.setHeader('Content-Length', body.length);
  res.status(200).end(req.method === 'HEAD' ? undefined : body);
}
