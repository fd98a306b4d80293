import { randomUUID } from 'node:crypto';
import { DEFAULT_RING_VNODES } from '#libs/config';
import { balance, movement, Ring } from '#libs/ring';
import { table } from './stats.js';

/**
 * Ring balance (max/mean load over members) and movement for the `hashring` package as solgate
 * uses it (sorted member ids, md5, `vnode count` × 4 points), over 100,000 node uuids and several
 * random key sets. This is how SOLGATE_RING_VNODES' default was chosen: the smallest count that
 * meets max/mean ≤ 1.10 at 10 members and ≤ 1.15 at 30 on every key set.
 * Usage: node dist/bench/ring-balance.js [keys=100000] [sets=3]
 */
const nKeys = Number(process.argv[2] ?? 100_000);
const sets = Number(process.argv[3] ?? 3);
const keySets = Array.from({ length: sets }, () => Array.from({ length: nKeys }, () => randomUUID()));
const ids = (n: number) => Array.from({ length: n }, (_, i) => `conductor-${i}`);

const rows: (string | number)[][] = [];
for (const members of [3, 10, 30]) {
  for (const vnodes of [40, 80, 160, 320]) {
    const t0 = performance.now();
    const ring = new Ring(ids(members), vnodes);
    const buildMs = performance.now() - t0;
    const ratios = keySets.map((keys) => balance(new Ring(ids(members), vnodes), keys).maxOverMean);
    const target = members === 10 ? 1.1 : members === 30 ? 1.15 : undefined;
    const worst = Math.max(...ratios);
    rows.push([members, vnodes, vnodes * 4, (ratios.reduce((a, b) => a + b, 0) / ratios.length).toFixed(3), worst.toFixed(3), target ? `≤ ${target.toFixed(2)}` : '', target ? (worst <= target ? 'met' : '—') : '', buildMs.toFixed(1), vnodes === DEFAULT_RING_VNODES ? '← default' : '']);
    void ring;
  }
}
console.log(`ring balance over ${nKeys} node uuids, ${sets} key sets (max/mean load; 1.000 is perfect)\n`);
console.log(table(['members', 'vnodes', 'points/member', 'mean max/mean', 'worst max/mean', 'target', '', 'build ms', ''], rows));

const mrows: (string | number)[][] = [];
for (const members of [3, 10, 30]) {
  const keys = keySets[0];
  const base = new Ring(ids(members), DEFAULT_RING_VNODES);
  const join = movement(base, new Ring(ids(members + 1), DEFAULT_RING_VNODES), keys);
  const leave = movement(base, new Ring(ids(members).slice(1), DEFAULT_RING_VNODES), keys);
  mrows.push([members, 'join', (join.moved / keys.length * 100).toFixed(2) + '%', (100 / (members + 1)).toFixed(2) + '%', join.betweenSurvivors]);
  mrows.push([members, 'leave', (leave.moved / keys.length * 100).toFixed(2) + '%', (100 / members).toFixed(2) + '%', leave.betweenSurvivors]);
}
console.log(`\nmovement with the default ${DEFAULT_RING_VNODES} vnodes (share of ${nKeys} nodes that change owner)\n`);
console.log(table(['members', 'event', 'moved', 'ideal 1/N', 'moved between survivors'], mrows));
