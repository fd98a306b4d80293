import type { Redis } from 'ioredis';
import { parseConnectionName } from './member.model.js';

export interface NamedConnection {
  prefix: string;
  memberId: string;
  incarnation: string;
  role: string;
  addr: string;
}

/** Redis connections that carry a solgate connection name (CLIENT LIST TYPE normal). */
export async function listSolgateConnections(redis: Redis, prefix: string): Promise<NamedConnection[]> {
  return parseClientList((await redis.call('CLIENT', 'LIST', 'TYPE', 'normal')) as string, prefix);
}

/** The pure part: CLIENT LIST's text → the connections named for `prefix`. */
export function parseClientList(list: string, prefix: string): NamedConnection[] {
  const out: NamedConnection[] = [];
  for (const line of list.split('\n')) {
    const name = /(?:^| )name=(\S*)/.exec(line)?.[1];
    const p = name ? parseConnectionName(name) : undefined;
    if (p && p.prefix === prefix) out.push({ ...p, addr: /(?:^| )addr=(\S*)/.exec(line)?.[1] ?? '' });
  }
  return out;
}
