import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';

/**
 * TCP sockets in LISTEN state, from the kernel's tables (/proc/net/tcp, /proc/net/tcp6), as
 * "addr:port" ("[v6addr]:port" for IPv6). Lets the reconciler check that a console really listens
 * without connecting to it (a connection would start a SOL session).
 */
export function listeningSockets(): Set<string> {
  return parseTables(['/proc/net/tcp', '/proc/net/tcp6'].map((f) => tryRead(() => readFileSync(f, 'utf8'))));
}

/** The same, read off the event loop (the kernel takes a while to print a table of thousands of sockets). */
export async function readListeningSockets(): Promise<Set<string>> {
  return parseTables(await Promise.all(['/proc/net/tcp', '/proc/net/tcp6'].map((f) => readFile(f, 'utf8').catch(() => ''))));
}

function tryRead(read: () => string): string {
  try {
    return read();
  } catch {
    return '';
  }
}

function parseTables(tables: string[]): Set<string> {
  const out = new Set<string>();
  for (const text of tables) {
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] !== '0A') continue;
      const [hexAddr, hexPort] = f[1].split(':');
      const port = parseInt(hexPort, 16);
      if (hexAddr.length === 8) {
        out.add(`${hexAddr.match(/../g)!.map((x) => parseInt(x, 16)).reverse().join('.')}:${port}`);
      } else {
        // four little-endian 32-bit words
        const hex = hexAddr.match(/.{8}/g)!.map((w) => w.match(/../g)!.reverse().join('')).join('');
        out.add(`${canonicalV6(hex.match(/.{4}/g)!.join(':'))}:${port}`);
      }
    }
  }
  return out;
}

/** "[addr]" in the WHATWG URL parser's canonical form (compressed, lower case). */
function canonicalV6(address: string): string {
  return new URL(`http://[${address}]/`).hostname;
}

/** The key listeningSockets() uses for an address and port. */
export function socketKey(address: string, port: number): string {
  return isIP(address) === 6 ? `${canonicalV6(address)}:${port}` : `${address}:${port}`;
}
