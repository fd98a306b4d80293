/**
 * What a full console log costs Redis, per entry size: the broker's trim rule (keep the newest
 * entries whose counted cost fits SOLGATE_CONSOLE_LOG_BYTES, `MINID ~` on the same append) run
 * through ConsoleLogRepository against a real redis-server, once with the old count (data + 64 B
 * per entry) and once with consoleLogEntryCost, in the same process; `MEMORY USAGE … SAMPLES 0`
 * of each stream divided by the budget.
 *
 * Usage: node dist/bench/console-log-memory.js [budgetBytes=131072]
 */
import { Redis } from 'ioredis';
import { consoleLogEntryCost, ConsoleLogRepository } from '#libs/nodes';
import { Keys } from '#libs/redis';
import { RedisServer } from '../test/support/redis-server.js';
import { table } from './stats.js';

const budget = Number(process.argv[2] ?? 131072);
const SIZES: Array<number | 'mixed'> = [16, 64, 256, 576, 1024, 2048, 4000, 16000, 32768, 'mixed'];
const MIXED = [40, 300, 1500, 2100, 80, 5000];
const MODELS: Array<[string, (n: number) => number]> = [
  ['data + 64 B (before)', (n) => n + 64],
  ['consoleLogEntryCost (now)', consoleLogEntryCost],
];

const server = await RedisServer.start();
const redis = new Redis(server.url);
try {
  const rows: string[][] = [];
  for (const [model, cost] of MODELS) {
    const keys = new Keys(`bench-log-${model.length}`);
    const repo = new ConsoleLogRepository(redis, keys);
    const row = [model];
    for (const size of SIZES) {
      const uuid = `00000000-0000-4000-8000-${String(SIZES.indexOf(size)).padStart(12, '0')}`;
      const kept: Array<{ id: string; cost: number }> = [];
      let total = 0;
      let written = 0;
      for (let i = 0; written < budget * 3 || i < 100; i++) {
        const n = size === 'mixed' ? MIXED[i % MIXED.length]! : size;
        const c = cost(n);
        let t = total + c;
        let drop = 0;
        while (drop < kept.length && t > budget) t -= kept[drop++]!.cost;
        const from = kept[drop];
        const id = await repo.append(uuid, written, Buffer.alloc(n, 0x78), from ? { minId: from.id } : { maxLen: 1 });
        kept.splice(0, drop);
        kept.push({ id, cost: c });
        total = t;
        written += n;
      }
      const memory = Number(await redis.call('MEMORY', 'USAGE', keys.consoleLog(uuid), 'SAMPLES', '0'));
      row.push((memory / budget).toFixed(2));
    }
    rows.push(row);
  }
  process.stdout.write(`\nRedis memory of a full console log ÷ its budget (${budget} bytes), by entry size (MEMORY USAGE … SAMPLES 0)\n`);
  process.stdout.write(`${table(['budget counts', ...SIZES.map((s) => (s === 'mixed' ? 'mixed' : `${s} B`))], rows)}\n`);
  process.stdout.write(`${(await redis.info('server')).match(/redis_version:\S+/)?.[0] ?? ''}\n`);
} finally {
  redis.disconnect();
  await server.stop();
}
