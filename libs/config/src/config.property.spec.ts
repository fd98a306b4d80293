import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { CONFIG_VARIABLES, ConfigError, LOG_LEVELS, loadConfig, SAFE_PATH_RE } from './config.js';

/**
 * Property-based fuzzing of the configuration: whatever the environment holds, loadConfig either
 * returns a frozen, internally consistent configuration or throws one ConfigError that lists every
 * problem, each naming its variable; never another exception, never a half-valid config.
 */
const NAMES = Object.keys(CONFIG_VARIABLES);

/** Plausible and hostile values for any variable. */
const anyValue = fc.oneof(
  fc.constantFrom('', ' ', '0', '1', '-1', '0.5', '1e3', '5', '600', '65535', '65536', '99999999999999999999', 'NaN', 'Infinity', '0x10', '1.', '.5', ' 7 ', '10000:20000', '20000:10000', '1:65536', '0:10', 'a:b',
    'redis://127.0.0.1:6379', 'rediss://u:p@h:1/2', 'redis-sentinel://h:26379,h2:26379/mymaster', 'redis-sentinel://h/', 'http://x', 'redis://', 'redis:// x',
    'http://10.0.0.1:6385', 'https://h', 'http://h/path', '/run/solgate', '/tmp/a b', 'relative/dir', '/x/../y', '127.0.0.1', '::1', '0.0.0.0', 'host.example', 'c1', 'c-1.a_b',
    '-c', 'x'.repeat(200), 'debug', 'silent', 'LOUD', 'ü', '\t'),
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }).map((s) => s.replace(/\0/g, '')), // an environment value cannot hold NUL
  fc.integer({ min: -5, max: 100_000 }).map(String),
  fc.tuple(fc.double({ min: 0, max: 1000, noNaN: true }), fc.integer({ min: 0, max: 3 })).map(([d, digits]) => d.toFixed(digits)),
);
const envArb = fc
  .array(fc.tuple(fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...NAMES) }, { weight: 1, arbitrary: fc.constantFrom('SOLGATE_UNKNOWN', 'PATH', 'solgate_redis_url') }), anyValue), { maxLength: 12 })
  .map((pairs) => Object.fromEntries(pairs) as Record<string, string>);

describe('loadConfig: property-based', () => {
  it('any environment → a frozen, consistent config or a ConfigError naming each bad variable', () => {
    let ok = 0;
    let refused = 0;
    fc.assert(
      fc.property(envArb, (env) => {
        let c;
        try {
          c = loadConfig(env);
        } catch (e) {
          expect(e).toBeInstanceOf(ConfigError);
          const problems = (e as ConfigError).problems;
          expect(problems.length).toBeGreaterThan(0);
          for (const p of problems) expect(NAMES.some((n) => p.includes(n))).toBe(true);
          refused++;
          return;
        }
        ok++;
        expect(Object.isFrozen(c)).toBe(true);
        expect(Object.isFrozen(c.portRange)).toBe(true);
        expect(c.portRange.start).toBeGreaterThanOrEqual(1);
        expect(c.portRange.stop).toBeLessThanOrEqual(65536);
        expect(c.portRange.start).toBeLessThan(c.portRange.stop);
        expect(c.apiPort >= 1 && c.apiPort <= 65535).toBe(true);
        for (const ms of [c.subprocessCheckingIntervalMs, c.subprocessTimeoutMs, c.killTimeoutMs, c.heartbeatIntervalMs, c.heartbeatTimeoutMs, c.reconcileIntervalMs, c.failureDetectorIntervalMs, c.redisConnectTimeoutMs])
          expect(Number.isFinite(ms) && ms >= 0).toBe(true);
        expect(c.heartbeatTimeoutMs).toBeGreaterThanOrEqual(2 * c.heartbeatIntervalMs);
        expect(Number.isInteger(c.ringVnodes) && c.ringVnodes >= 1).toBe(true);
        expect(Number.isInteger(c.startConcurrency) && c.startConcurrency >= 1).toBe(true);
        expect(LOG_LEVELS).toContain(c.logLevel);
        expect(c.terminalPidDir).toMatch(SAFE_PATH_RE);
        expect(c.apiUrl).toMatch(/^https?:\/\/[^\s/]+$/);
        // the same environment gives the same configuration
        expect(loadConfig(env)).toEqual(c);
      }),
      { numRuns: 500 },
    );
    expect(ok).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(20);
  });

  it('lists every bad variable at once, not only the first', () => {
    fc.assert(
      fc.property(fc.subarray(['SOLGATE_API_PORT', 'SOLGATE_RING_VNODES', 'SOLGATE_START_CONCURRENCY', 'SOLGATE_LOG_LEVEL', 'SOLGATE_PORT_RANGE'], { minLength: 1 }), (bad) => {
        const env = Object.fromEntries(bad.map((n) => [n, 'not-valid']));
        try {
          loadConfig(env);
          throw new Error('accepted');
        } catch (e) {
          expect(e).toBeInstanceOf(ConfigError);
          for (const n of bad) expect((e as ConfigError).problems.some((p) => p.startsWith(n))).toBe(true);
        }
      }),
      { numRuns: 50 },
    );
  });
});
