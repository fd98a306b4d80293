import { Redis } from 'ioredis';
import { LocalCluster } from '../test/support/cluster.js';
import { listeningSockets, urlListens } from '../test/support/net.js';

/**
 * After a kill -9 of a conductor, which goes first: its console listeners, or its Redis connections?
 * The API hands out a console URL only while the reporting conductor's heartbeat connection is in
 * Redis, so the listeners must go last. The kernel sends the launcher its parent-death signal when
 * the conductor's main thread exits, but closes the conductor's sockets only when its last thread
 * has: the launcher therefore waits for its IPC channel to close before killing the consoles.
 * Usage: node dist/bench/crash-order.js [runs=5]
 */
const runs = Number(process.argv[2] ?? 5);

async function once(run: number): Promise<void> {
  const cluster = await LocalCluster.start({ name: 'ko', conductors: 2, dummyNodes: 20, env: { SOLGATE_LOG_LEVEL: 'warn' } });
  const redis = new Redis(cluster.redis.url);
  try {
    await cluster.enableAll();
    const urls = (await cluster.waitAllServing()).filter((x) => x.conductor === 'c2').map((x) => x.url!);
    const t0 = performance.now();
    let listenersGone = 0;
    let connectionsGone = 0;
    void cluster.conductor('c2').kill9();
    while ((!listenersGone || !connectionsGone) && performance.now() - t0 < 5000) {
      const sockets = listeningSockets();
      if (!listenersGone && urls.every((u) => !urlListens(u, sockets))) listenersGone = performance.now() - t0;
      if (!connectionsGone && !((await redis.call('CLIENT', 'LIST')) as string).includes(':c2:')) connectionsGone = performance.now() - t0;
    }
    const order = connectionsGone <= listenersGone ? 'in order' : 'LISTENERS FIRST';
    console.log(`run ${run}: Redis connections gone ${connectionsGone.toFixed(1)} ms, every listener gone ${listenersGone.toFixed(1)} ms after kill -9 (${order})`);
  } finally {
    redis.disconnect();
    await cluster.stop();
  }
}

for (let run = 1; run <= runs; run++) await once(run);
