import type { Redis } from 'ioredis';
import { isNodeUuid, type Keys, type RecordProblem } from '#libs/redis';
import { readNodeHash } from './node.repository.js';

/** What a full audit found: unreadable records (`fail`) and harmless leftovers (`warn`). */
export interface RecordAudit {
  unreadable: RecordProblem[];
  leftovers: RecordProblem[];
  nodesChecked: number;
}

const BATCH = 1000;

/**
 * Every record under the prefix that the node repositories read, checked the way they read it
 * (`solgate doctor`): the index keys hold the expected Redis types and only node uuids; every
 * `node:<uuid>` hash parses as a node; console-state and claim keys are hashes; nothing else lives
 * under `node:`. Reads only (SCAN, TYPE, HGETALL in pipelines); never prints a record's content.
 */
export async function auditNodeRecords(redis: Redis, keys: Keys): Promise<RecordAudit> {
  const unreadable: RecordProblem[] = [];
  const leftovers: RecordProblem[] = [];
  const bad = (key: string, uuid: string | null, problem: string) => unreadable.push({ key, uuid, problem });

  // the indexes
  const indexTypes: [string, string[]][] = [
    [keys.nodes(), ['zset']],
    [keys.nodeNames(), ['hash']],
    [keys.consoleEnabled(), ['set']],
    [keys.nodesVersion(), ['string']],
    [keys.claimEpoch(), ['string']],
  ];
  const types = await pipelined(redis, indexTypes.map(([k]) => ['type', k]));
  const usable = new Set<string>();
  indexTypes.forEach(([key, expected], i) => {
    const t = String(types[i]);
    if (t === 'none' || expected.includes(t)) usable.add(key);
    else bad(key, null, `an index key holds a ${t}, not a ${expected.join(' or ')}`);
  });

  const indexed = usable.has(keys.nodes()) ? await redis.zrange(keys.nodes(), '0', '-1') : [];
  for (const m of indexed) if (!isNodeUuid(m)) bad(keys.nodes(), null, `member ${JSON.stringify(m.slice(0, 80))} is not a node uuid`);
  if (usable.has(keys.consoleEnabled()))
    for (const m of await redis.smembers(keys.consoleEnabled())) if (!isNodeUuid(m)) bad(keys.consoleEnabled(), null, `member ${JSON.stringify(m.slice(0, 80))} is not a node uuid`);
  if (usable.has(keys.nodeNames())) {
    const names = await redis.hgetall(keys.nodeNames());
    for (const [name, uuid] of Object.entries(names)) if (!isNodeUuid(uuid)) bad(keys.nodeNames(), null, `name ${JSON.stringify(name.slice(0, 80))} maps to ${JSON.stringify(uuid.slice(0, 80))}, not a node uuid`);
  }

  // every key under <prefix>:node:
  const prefix = `${keys.prefix}:node:`;
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', BATCH);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  const nodeKeys: { key: string; uuid: string }[] = [];
  for (let i = 0; i < found.length; i += BATCH) {
    const slice = found.slice(i, i + BATCH);
    const t = await pipelined(redis, slice.map((k) => ['type', k]));
    slice.forEach((key, j) => {
      const rest = key.slice(prefix.length);
      const m = /^([^:]*)(?::(console|claim))?$/.exec(rest);
      if (!m || !isNodeUuid(m[1])) return leftovers.push({ key, uuid: null, problem: 'an unexpected key under node: (not a node, console state or claim)' });
      if (t[j] !== 'hash') return bad(key, m[1], `the key holds a ${String(t[j])}, not a hash`);
      if (!m[2]) nodeKeys.push({ key, uuid: m[1] });
    });
  }
  const present = new Set(nodeKeys.map((n) => n.uuid));
  for (let i = 0; i < nodeKeys.length; i += BATCH) {
    const slice = nodeKeys.slice(i, i + BATCH);
    const hashes = await pipelined(redis, slice.map((n) => ['hgetall', n.key]));
    slice.forEach((n, j) => {
      const r = readNodeHash(hashes[j] as Record<string, string>, n.uuid);
      if (r && 'problem' in r) bad(n.key, n.uuid, r.problem);
    });
  }
  const indexedSet = new Set(indexed);
  for (const m of indexed) if (isNodeUuid(m) && !present.has(m)) leftovers.push({ key: keys.nodes(), uuid: m, problem: 'indexed, but its node record does not exist' });
  for (const n of nodeKeys) if (!indexedSet.has(n.uuid) && usable.has(keys.nodes())) leftovers.push({ key: n.key, uuid: n.uuid, problem: `a node record missing from the index ${keys.nodes()} (not listed)` });
  return { unreadable, leftovers, nodesChecked: nodeKeys.length };
}

async function pipelined(redis: Redis, commands: string[][]): Promise<unknown[]> {
  if (commands.length === 0) return [];
  const res = (await redis.pipeline(commands).exec()) ?? [];
  return res.map(([err, v]) => (err ? `error: ${(err as Error).message.split(' ')[0]}` : v));
}
