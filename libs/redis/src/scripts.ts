import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { packageRoot } from '#libs/common';

/**
 * Lua scripts live one per file in libs/redis/lua, named `<verb><Noun>-<nKeys>.lua` (BullMQ style).
 * Each is registered on a client as a command of the same name (without the key count), so
 * repositories call `client.heartbeatMember(...)` and ioredis handles EVALSHA/EVAL fallback.
 * `-N` names a script that takes any number of keys (one per node of a batch); runScript passes the count.
 */
export interface LuaScript {
  name: string;
  /** undefined: any number of keys (`-N`). */
  numberOfKeys: number | undefined;
  lua: string;
}

let cache: LuaScript[] | undefined;

export function loadLuaScripts(): LuaScript[] {
  if (cache) return cache;
  const dir = join(packageRoot(), 'libs', 'redis', 'lua');
  cache = readdirSync(dir)
    .filter((f) => f.endsWith('.lua'))
    .sort()
    .map((file) => {
      const m = /^([A-Za-z]+)-(\d+|N)\.lua$/.exec(file);
      if (!m) throw new Error(`bad Lua script file name ${file}: expected <verbNoun>-<nKeys>.lua (or -N)`);
      return { name: m[1], numberOfKeys: m[2] === 'N' ? undefined : Number(m[2]), lua: readFileSync(join(dir, file), 'utf8') };
    });
  return cache;
}

/** Register every script on a client (idempotent). */
export function registerLuaScripts(client: Redis): void {
  for (const s of loadLuaScripts()) {
    if (typeof (client as unknown as Record<string, unknown>)[s.name] === 'function') continue;
    client.defineCommand(s.name, { numberOfKeys: s.numberOfKeys, lua: s.lua });
  }
}

/** Call a registered script by name with typed keys/args. */
export async function runScript<T = unknown>(client: Redis, name: string, keys: string[], args: (string | number | Buffer)[]): Promise<T> {
  const fn = (client as unknown as Record<string, (...a: (string | number | Buffer)[]) => Promise<T>>)[name];
  if (typeof fn !== 'function') throw new Error(`Lua script ${name} is not registered on this client`);
  if (loadLuaScripts().find((s) => s.name === name)?.numberOfKeys === undefined) return fn.call(client, keys.length, ...keys, ...args);
  return fn.call(client, ...keys, ...args);
}
