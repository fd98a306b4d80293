import { describe, expect, it } from '@jest/globals';
import { isNodeUuid, RecordProblems } from './record-problems.js';
import { classifyRedisError } from './redis-errors.js';

describe('RecordProblems', () => {
  it('reports a key once, then again only after the relog interval; counts every bad read', () => {
    const seen: string[] = [];
    const p = new RecordProblems(1000);
    p.onReport = (x, repeat) => seen.push(`${x.key}${repeat ? ' (again)' : ''}`);
    p.report({ key: 'k1', uuid: null, problem: 'x' }, 0);
    p.report({ key: 'k1', uuid: null, problem: 'x' }, 500);
    p.report({ key: 'k2', uuid: null, problem: 'y' }, 600);
    p.report({ key: 'k1', uuid: null, problem: 'x' }, 1600);
    expect(seen).toEqual(['k1', 'k2', 'k1 (again)']);
    expect(p.total).toBe(4);
    expect(p.current(1700).map((x) => x.key).sort()).toEqual(['k1', 'k2']);
    expect(p.current(1600 + 10 * 60_000)).toEqual([]);
  });

  it('accepts only canonical lower-case uuids as index members', () => {
    expect(isNodeUuid('6f1d8a52-3c1e-4c55-9a8e-0d6a4f3b2c10')).toBe(true);
    expect(isNodeUuid('6F1D8A52-3C1E-4C55-9A8E-0D6A4F3B2C10')).toBe(false);
    expect(isNodeUuid('garbage')).toBe(false);
    expect(isNodeUuid('6f1d8a52-3c1e-4c55-9a8e-0d6a4f3b2c10:console')).toBe(false);
  });
});

describe('classifyRedisError', () => {
  const err = (message: string, name = 'ReplyError') => Object.assign(new Error(message), { name });
  it.each([
    ["OOM command not allowed when used memory > 'maxmemory'.", 'oom'],
    ["ERR Error running script (call to f_abc): @user_script:12: OOM command not allowed when used memory > 'maxmemory'.", 'oom'],
    ['LOADING Redis is loading the dataset in memory', 'unavailable'],
    ["READONLY You can't write against a read only replica.", 'unavailable'],
    ['Connection is closed.', 'unavailable'],
    ['Command timed out', 'unavailable'],
    ['connect ECONNREFUSED 127.0.0.1:6379', 'unavailable'],
    ['ERR value is not an integer or out of range', 'out-of-range'],
    ['WRONGTYPE Operation against a key holding the wrong kind of value', undefined],
    ['something else', undefined],
  ])('%s → %s', (message, kind) => {
    expect(classifyRedisError(err(message))).toBe(kind);
  });
  it('knows ioredis giving up on a command', () => {
    expect(classifyRedisError(err('Reached the max retries per request limit (which is 20).', 'MaxRetriesPerRequestError'))).toBe('unavailable');
  });
});
