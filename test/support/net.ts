import { readFileSync } from 'node:fs';

/**
 * TCP ports in LISTEN state, from the kernel's socket table: lets a test see that a console
 * listens without connecting to it (a connection would start a SOL session).
 */
export function listeningSockets(): Set<string> {
  const out = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] !== '0A') continue;
      const [hexAddr, hexPort] = f[1].split(':');
      const port = parseInt(hexPort, 16);
      if (hexAddr.length === 8) {
        const b = hexAddr.match(/../g)!.map((x) => parseInt(x, 16)).reverse();
        out.add(`${b.join('.')}:${port}`);
      } else out.add(`[v6]:${port}`);
    }
  }
  return out;
}

/** Whether something listens on a tcp://host:port URL (no connection made). */
export function urlListens(url: string, sockets = listeningSockets()): boolean {
  const m = /^tcp:\/\/(.+):(\d+)$/.exec(url);
  return !!m && sockets.has(`${m[1]}:${m[2]}`);
}
