import type { Request } from 'express';

/**
 * Base URL for links and Location headers: the Host the client used (as Ironic does), when it is
 * a plain host[:port]; otherwise this conductor's advertised API URL.
 */
export function baseUrl(req: Request, fallback: string): string {
  const host = req.header('Host');
  if (host && /^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host)) return `${req.protocol}://${host}`;
  return fallback;
}
