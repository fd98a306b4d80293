import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '#libs/common';
import { CONFIG, CONFIG_VARIABLES, ConfigError, configTableMarkdown, DEFAULT_RING_VNODES, loadConfig, parseInteger, parsePortRange, parseSeconds, type ConfigVariableName, type SolgateConfig } from './config.js';

/** The problems loadConfig reports for `env` (none: []). */
function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
}

describe('loadConfig', () => {
  it('gives every default with an empty environment', () => {
    const c = loadConfig({});
    expect(c).toEqual({
      redisUrl: 'redis://127.0.0.1:6379',
      keyPrefix: 'solgate',
      conductorId: hostname(),
      conductorGroup: '',
      apiHost: '0.0.0.0',
      apiPort: 6385,
      apiUrl: 'http://127.0.0.1:6385', // wildcard API host: the socat address is advertised
      socatAddress: '127.0.0.1',
      portRange: { start: 10000, stop: 20000 },
      allowPrivilegedPorts: false,
      allowPortsOutsideRange: false,
      terminalPidDir: expect.stringMatching(/^\/(run|dev\/shm|tmp)\/solgate-[A-Za-z0-9_.-]+$/),
      terminalTimeoutS: 600,
      subprocessCheckingIntervalMs: 1000,
      subprocessTimeoutMs: 10_000,
      killTimeoutMs: 1000,
      authToken: undefined,
      logLevel: 'info',
      heartbeatIntervalMs: 1000,
      heartbeatTimeoutMs: 5000,
      ringVnodes: DEFAULT_RING_VNODES,
      reconcileIntervalMs: 1000,
      startConcurrency: 8,
      failureDetectorIntervalMs: 100,
      redisConnectTimeoutMs: 5000,
      consolePutWaitMs: 2000,
      ironicSync: undefined,
      escapeChar: '~',
      consoleHistoryBytes: 65536,
      consoleReplayBytes: 4096,
      consoleCapture: 'on-demand',
      consoleLingerMs: 10_000,
      consoleLogBytes: 131072,
      consoleLogDir: '',
      consoleLogFileBytes: 10 * 1024 * 1024,
      consoleLogFileCount: 5,
      consoleMaxViewers: 128,
    });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.portRange)).toBe(true);
  });

  it('reads only the environment it is given (process.env is the default, not a side channel)', () => {
    expect(loadConfig({ SOLGATE_KEY_PREFIX: 'other' }).keyPrefix).toBe('other');
  });

  it('treats empty and blank values as unset, and trims values', () => {
    expect(loadConfig({ SOLGATE_API_PORT: '', SOLGATE_KEY_PREFIX: '   ', SOLGATE_LOG_LEVEL: ' debug ' })).toMatchObject({ apiPort: 6385, keyPrefix: 'solgate', logLevel: 'debug' });
  });

  /** Every variable: a good value (→ what the config holds) and bad ones (→ the problem's text). */
  const cases: Record<ConfigVariableName, { good: [string, unknown][]; bad: [string, RegExp][] }> = {
    SOLGATE_REDIS_URL: {
      good: [
        ['redis://10.0.0.1:6380/2', 'redis://10.0.0.1:6380/2'],
        ['rediss://user:pw@redis.example:6379', 'rediss://user:pw@redis.example:6379'],
        ['redis-sentinel://pw@s1:26379,s2:26379/mymaster/1', 'redis-sentinel://pw@s1:26379,s2:26379/mymaster/1'],
      ],
      bad: [
        ['http://x', /expected redis:\/\//],
        ['redis://', /expected redis:\/\//],
        ['redis://a b', /expected redis:\/\//],
        ['redis-sentinel://s1:26379', /expected redis:\/\//],
      ],
    },
    SOLGATE_KEY_PREFIX: { good: [['sg.prod-1_a', 'sg.prod-1_a']], bad: [['a:b', /letters, digits/], ['x'.repeat(65), /1-64 characters/], ['a*', /letters/]] },
    SOLGATE_CONDUCTOR_ID: { good: [['conductor-0', 'conductor-0'], ['A.b_c', 'A.b_c']], bad: [['-c', /starting with a letter or digit/], ['c 1', /letters/], ['c'.repeat(129), /at most 128/]] },
    SOLGATE_CONDUCTOR_GROUP: { good: [['Rack1', 'rack1'], ['a.b_c-D', 'a.b_c-d']], bad: [['rack 1', /at most 255 characters/], ['r:1', /case-insensitive/], ['g'.repeat(256), /at most 255/]] },
    SOLGATE_API_HOST: { good: [['10.1.2.3', '10.1.2.3'], ['::1', '::1'], ['api.example', 'api.example']], bad: [['a b', /IP address or host name/], ['a_b', /IP address or host name/]] },
    SOLGATE_API_PORT: { good: [['1', 1], ['65535', 65535]], bad: [['0', /integer between 1 and 65535/], ['65536', /integer between 1 and 65535/], ['80a', /integer/], ['-1', /integer/], ['1.5', /integer/]] },
    SOLGATE_API_URL: { good: [['https://solgate.example:443/', 'https://solgate.example:443'], ['http://[fd00::1]:6385', 'http://[fd00::1]:6385']], bad: [['ftp://x', /http\(s\):\/\/host\[:port\] with no path/], ['http://x/v1', /no path/]] },
    SOLGATE_SOCAT_ADDRESS: { good: [['10.0.0.7', '10.0.0.7'], ['fd00::7', 'fd00::7']], bad: [['console.example', /IPv4 or IPv6 address/], ['0.0.0.0.0', /IPv4 or IPv6/]] },
    SOLGATE_PORT_RANGE: {
      good: [['1:2', { start: 1, stop: 2 }], ['30000:65536', { start: 30000, stop: 65536 }]],
      bad: [['0:10', /START:STOP/], ['10:10', /START:STOP/], ['20:10', /START:STOP/], ['1:65537', /START:STOP/], ['10000-20000', /START:STOP/], ['10000', /START:STOP/]],
    },
    SOLGATE_TERMINAL_PID_DIR: { good: [['/run/solgate', '/run/solgate']], bad: [['relative/dir', /absolute path/], ['/tmp/a b', /absolute path/], ['/tmp/a,b', /absolute path/], ['/tmp/a:b', /absolute path/]] },
    SOLGATE_TERMINAL_TIMEOUT: { good: [['0', 0], ['1.4', 1], ['604800', 604800]], bad: [['604801', /seconds between 0 and 604800/], ['-1', /seconds/], ['1e3', /seconds/], ['10s', /seconds/]] },
    SOLGATE_SUBPROCESS_CHECKING_INTERVAL: { good: [['0.001', 1], ['2.5', 2500]], bad: [['0', /between 0.001 and 60/], ['61', /between 0.001 and 60/]] },
    SOLGATE_SUBPROCESS_TIMEOUT: { good: [['0.01', 10], ['600', 600_000]], bad: [['0.001', /between 0.01 and 600/]] },
    SOLGATE_KILL_TIMEOUT: { good: [['0', 0], ['60', 60_000]], bad: [['60.5', /between 0 and 60/], ['.5', /seconds/]] },
    SOLGATE_AUTH_TOKEN: { good: [['s3cr3t token', 's3cr3t token']], bad: [] },
    SOLGATE_LOG_LEVEL: { good: [['trace', 'trace'], ['silent', 'silent']], bad: [['verbose', /one of fatal, error, warn, info, debug, trace, silent/], ['INFO', /one of/]] },
    SOLGATE_HEARTBEAT_INTERVAL: { good: [['0.5', 500]], bad: [['0.01', /between 0.05 and 60/]] },
    SOLGATE_HEARTBEAT_TIMEOUT: { good: [['30', 30_000]], bad: [['601', /between 0.2 and 600/]] },
    SOLGATE_RING_VNODES: { good: [['1', 1], ['10000', 10000]], bad: [['0', /between 1 and 10000/], ['10001', /between 1 and 10000/]] },
    SOLGATE_RECONCILE_INTERVAL: { good: [['0.05', 50]], bad: [['0', /between 0.05 and 60/]] },
    SOLGATE_START_CONCURRENCY: { good: [['1', 1], ['1024', 1024]], bad: [['0', /between 1 and 1024/], ['1025', /between 1 and 1024/]] },
    SOLGATE_FAILURE_DETECTOR_INTERVAL: { good: [['0.01', 10]], bad: [['0.001', /between 0.01 and 60/]] },
    SOLGATE_REDIS_CONNECT_TIMEOUT: { good: [['0.1', 100], ['120', 120_000]], bad: [['0.05', /between 0.1 and 120/]] },
    SOLGATE_ALLOW_PRIVILEGED_PORTS: { good: [['yes', true], ['0', false]], bad: [['maybe', /true or false/]] },
    SOLGATE_ALLOW_PORTS_OUTSIDE_RANGE: { good: [['on', true], ['false', false]], bad: [['2', /true or false/]] },
    SOLGATE_CONSOLE_PUT_WAIT: { good: [['0', 0], ['2.5', 2500]], bad: [['61', /between 0 and 60/]] },
    SOLGATE_IRONIC_URL: { good: [['http://ironic.example:6385/baremetal', 'http://ironic.example:6385/baremetal']], bad: [['http://user:pw@ironic', /without credentials/], ['ironic:6385', /http\(s\)/]] },
    SOLGATE_IRONIC_SYNC_INTERVAL: { good: [['1', 1000], ['86400', 86_400_000]], bad: [['0.5', /between 1 and 86400/]] },
    SOLGATE_IRONIC_TOKEN: { good: [['gAAAA-token', 'gAAAA-token']], bad: [] },
    SOLGATE_IRONIC_CLOUD: { good: [['prod-1', 'prod-1']], bad: [['my cloud', /clouds.yaml cloud name/]] },
    SOLGATE_IRONIC_CLOUDS_FILE: { good: [['/etc/solgate/clouds.yaml', '/etc/solgate/clouds.yaml']], bad: [['clouds.yaml', /absolute path/]] },
    SOLGATE_ESCAPE_CHAR: { good: [['&', '&'], ['none', null]], bad: [['ab', /one printable ASCII character/], ['é', /printable/]] },
    SOLGATE_CONSOLE_HISTORY_BYTES: { good: [['4096', 4096]], bad: [['100', /between 1024 and 16777216/]] },
    SOLGATE_CONSOLE_REPLAY_BYTES: { good: [['0', 0], ['65536', 65536]], bad: [['x', /integer/]] },
    SOLGATE_CONSOLE_CAPTURE: { good: [['always', 'always']], bad: [['never', /on-demand or always/]] },
    SOLGATE_CONSOLE_LINGER: { good: [['0', 0], ['3600', 3_600_000]], bad: [['3601', /between 0 and 3600/]] },
    SOLGATE_CONSOLE_LOG_BYTES: { good: [['0', 0]], bad: [['-5', /integer/]] },
    SOLGATE_CONSOLE_LOG_DIR: { good: [['/var/log/solgate', '/var/log/solgate']], bad: [['logs', /absolute path/]] },
    SOLGATE_CONSOLE_LOG_FILE_BYTES: { good: [['4096', 4096]], bad: [['4095', /between 4096/]] },
    SOLGATE_CONSOLE_LOG_FILE_COUNT: { good: [['100', 100]], bad: [['0', /between 1 and 100/]] },
    SOLGATE_CONSOLE_MAX_VIEWERS: { good: [['1', 1]], bad: [['10001', /between 1 and 10000/]] },
  };

  const ironic = (k: 'url' | 'intervalMs' | 'token') => (c: SolgateConfig) => c.ironicSync?.[k];
  const field: Record<ConfigVariableName, string | ((c: SolgateConfig) => unknown)> = {
    SOLGATE_REDIS_URL: 'redisUrl',
    SOLGATE_KEY_PREFIX: 'keyPrefix',
    SOLGATE_CONDUCTOR_ID: 'conductorId',
    SOLGATE_CONDUCTOR_GROUP: 'conductorGroup',
    SOLGATE_API_HOST: 'apiHost',
    SOLGATE_API_PORT: 'apiPort',
    SOLGATE_API_URL: 'apiUrl',
    SOLGATE_SOCAT_ADDRESS: 'socatAddress',
    SOLGATE_PORT_RANGE: 'portRange',
    SOLGATE_TERMINAL_PID_DIR: 'terminalPidDir',
    SOLGATE_TERMINAL_TIMEOUT: 'terminalTimeoutS',
    SOLGATE_SUBPROCESS_CHECKING_INTERVAL: 'subprocessCheckingIntervalMs',
    SOLGATE_SUBPROCESS_TIMEOUT: 'subprocessTimeoutMs',
    SOLGATE_KILL_TIMEOUT: 'killTimeoutMs',
    SOLGATE_AUTH_TOKEN: 'authToken',
    SOLGATE_LOG_LEVEL: 'logLevel',
    SOLGATE_HEARTBEAT_INTERVAL: 'heartbeatIntervalMs',
    SOLGATE_HEARTBEAT_TIMEOUT: 'heartbeatTimeoutMs',
    SOLGATE_RING_VNODES: 'ringVnodes',
    SOLGATE_RECONCILE_INTERVAL: 'reconcileIntervalMs',
    SOLGATE_START_CONCURRENCY: 'startConcurrency',
    SOLGATE_FAILURE_DETECTOR_INTERVAL: 'failureDetectorIntervalMs',
    SOLGATE_REDIS_CONNECT_TIMEOUT: 'redisConnectTimeoutMs',
    SOLGATE_ALLOW_PRIVILEGED_PORTS: 'allowPrivilegedPorts',
    SOLGATE_ALLOW_PORTS_OUTSIDE_RANGE: 'allowPortsOutsideRange',
    SOLGATE_CONSOLE_PUT_WAIT: 'consolePutWaitMs',
    SOLGATE_IRONIC_URL: ironic('url'),
    SOLGATE_IRONIC_SYNC_INTERVAL: ironic('intervalMs'),
    SOLGATE_IRONIC_TOKEN: ironic('token'),
    SOLGATE_IRONIC_CLOUD: (c) => c.ironicSync?.cloud?.name,
    SOLGATE_IRONIC_CLOUDS_FILE: (c) => c.ironicSync?.cloud?.file,
    SOLGATE_ESCAPE_CHAR: 'escapeChar',
    SOLGATE_CONSOLE_HISTORY_BYTES: 'consoleHistoryBytes',
    SOLGATE_CONSOLE_REPLAY_BYTES: 'consoleReplayBytes',
    SOLGATE_CONSOLE_CAPTURE: 'consoleCapture',
    SOLGATE_CONSOLE_LINGER: 'consoleLingerMs',
    SOLGATE_CONSOLE_LOG_BYTES: 'consoleLogBytes',
    SOLGATE_CONSOLE_LOG_DIR: 'consoleLogDir',
    SOLGATE_CONSOLE_LOG_FILE_BYTES: 'consoleLogFileBytes',
    SOLGATE_CONSOLE_LOG_FILE_COUNT: 'consoleLogFileCount',
    SOLGATE_CONSOLE_MAX_VIEWERS: 'consoleMaxViewers',
  };
  /** What a variable needs beside it to be read at all (the sync's settings only matter with a URL or a cloud). */
  const context = (name: ConfigVariableName): Record<string, string> =>
    name === 'SOLGATE_IRONIC_CLOUDS_FILE' ? { SOLGATE_IRONIC_CLOUD: 'prod' } : /^SOLGATE_IRONIC_(SYNC_INTERVAL|TOKEN)$/.test(name) ? { SOLGATE_IRONIC_URL: 'http://ironic:6385' } : {};
  const valueOf = (name: ConfigVariableName, c: SolgateConfig) => {
    const f = field[name];
    return typeof f === 'function' ? f(c) : (c as unknown as Record<string, unknown>)[f];
  };

  it('has a case for every variable in the table', () => {
    expect(Object.keys(cases).sort()).toEqual(Object.keys(CONFIG).sort());
  });

  // a timeout long enough for the shortest intervals in the table, so the cross-field rule stays quiet
  const base = { SOLGATE_HEARTBEAT_TIMEOUT: '120' };

  describe.each(Object.keys(cases) as ConfigVariableName[])('%s', (name) => {
    it.each(cases[name].good)('accepts %j', (raw, expected) => {
      const env = name === 'SOLGATE_HEARTBEAT_TIMEOUT' ? { [name]: raw } : { ...base, ...context(name), [name]: raw };
      expect(valueOf(name, loadConfig(env))).toEqual(expected);
    });

    if (cases[name].bad.length > 0)
      it.each(cases[name].bad)('refuses %j, naming the variable, the value and the rule', (raw, rule) => {
        const found = problems({ ...base, [name]: raw }).filter((x) => x.startsWith(name)); // a bad API host also makes the derived API URL bad
        expect(found).toHaveLength(1);
        expect(found[0]).toMatch(new RegExp(`^${name}(=${JSON.stringify(raw).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: | )`));
        expect(found[0]).toMatch(rule);
      });
  });

  it('derives the advertised API URL from the API host, else the socat address, and brackets IPv6', () => {
    expect(loadConfig({ SOLGATE_API_HOST: '10.0.0.1', SOLGATE_API_PORT: '7000' }).apiUrl).toBe('http://10.0.0.1:7000');
    expect(loadConfig({ SOLGATE_API_HOST: '0.0.0.0', SOLGATE_SOCAT_ADDRESS: 'fd00::5' }).apiUrl).toBe('http://[fd00::5]:6385');
    expect(loadConfig({ SOLGATE_API_HOST: '::', SOLGATE_SOCAT_ADDRESS: '0.0.0.0' }).apiUrl).toBe(`http://${hostname()}:6385`);
  });

  it('derives the pid directory from the conductor id, made safe for socat', () => {
    expect(loadConfig({ SOLGATE_CONDUCTOR_ID: 'conductor-2' }).terminalPidDir).toMatch(/\/solgate-conductor-2$/);
  });

  it('checks across fields: the heartbeat timeout is at least twice the interval', () => {
    expect(problems({ SOLGATE_HEARTBEAT_INTERVAL: '3', SOLGATE_HEARTBEAT_TIMEOUT: '5' })).toEqual([
      'SOLGATE_HEARTBEAT_TIMEOUT (5s) must be at least twice SOLGATE_HEARTBEAT_INTERVAL (3s)',
    ]);
    expect(problems({ SOLGATE_HEARTBEAT_INTERVAL: '2.5', SOLGATE_HEARTBEAT_TIMEOUT: '5' })).toEqual([]);
  });

  it('reports every problem at once, in the table’s order, in one ConfigError', () => {
    let error: unknown;
    try {
      loadConfig({ SOLGATE_REDIS_URL: 'nope', SOLGATE_API_PORT: '0', SOLGATE_PORT_RANGE: 'x', SOLGATE_LOG_LEVEL: 'loud', SOLGATE_HEARTBEAT_INTERVAL: '10', SOLGATE_RING_VNODES: 'many' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const p = (error as ConfigError).problems;
    expect(p.map((x) => x.split(/[= ]/)[0])).toEqual(['SOLGATE_REDIS_URL', 'SOLGATE_API_PORT', 'SOLGATE_PORT_RANGE', 'SOLGATE_LOG_LEVEL', 'SOLGATE_HEARTBEAT_TIMEOUT', 'SOLGATE_RING_VNODES']);
    expect((error as Error).message).toBe(`invalid configuration:\n  - ${p.join('\n  - ')}`);
  });
});

describe('the shared parsers (conductor and CLI)', () => {
  it.each([
    ['5', 5],
    [' 5 ', 5],
    ['0', 0],
    ['10', 10],
    ['11', undefined],
    ['-1', undefined],
    ['1.0', undefined],
    ['0x5', undefined],
    ['', undefined],
    ['5a', undefined],
  ])('parseInteger(%j, 0, 10) = %j', (t, v) => expect(parseInteger(t, 0, 10)).toBe(v));

  it.each([
    ['1', 1],
    ['0.25', 0.25],
    [' 2.5', 2.5],
    ['0', undefined],
    ['.5', undefined],
    ['5.', undefined],
    ['1e1', undefined],
    ['61', undefined],
    ['Infinity', undefined],
  ])('parseSeconds(%j, 0.1, 60) = %j', (t, v) => expect(parseSeconds(t, 0.1, 60)).toBe(v));

  it.each([
    ['10000:20000', { start: 10000, stop: 20000 }],
    ['1:65536', { start: 1, stop: 65536 }],
    ['0:1', undefined],
    ['5:5', undefined],
    ['1:123456', undefined],
    [' 1:2', undefined],
  ])('parsePortRange(%j) = %j', (t, v) => expect(parsePortRange(t)).toEqual(v));
});

describe('the configuration table', () => {
  it('is the README’s table, row for row (regenerate it from configTableMarkdown() after a change)', () => {
    const readme = readFileSync(join(packageRoot(), 'README.md'), 'utf8');
    const start = readme.indexOf('| Variable | Default | Meaning |');
    expect(start).toBeGreaterThan(0);
    const table = readme.slice(start).split('\n');
    const rows = table.slice(0, table.findIndex((l) => !l.startsWith('|'))).join('\n');
    expect(rows).toBe(configTableMarkdown());
  });

  it('documents every variable, and every documented default is the one loadConfig uses', () => {
    const c = loadConfig({}) as unknown as Record<string, unknown>;
    for (const [name, v] of Object.entries(CONFIG)) {
      expect(name).toMatch(/^SOLGATE_[A-Z_]+$/);
      expect(v.doc.length).toBeGreaterThan(5);
      const p = v.parser;
      if (p.kind === 'integer') expect(loadConfig({ [name]: String(p.default) })).toEqual(loadConfig({}));
      if (p.kind === 'seconds' && name === 'SOLGATE_IRONIC_SYNC_INTERVAL') expect(loadConfig({ SOLGATE_IRONIC_URL: 'http://ironic:6385' }).ironicSync?.intervalMs).toBe(p.default * 1000);
      else if (p.kind === 'seconds') expect(Object.values(c)).toContain(name === 'SOLGATE_TERMINAL_TIMEOUT' ? p.default : Math.round(p.default * 1000));
      if (p.kind === 'boolean') expect(Object.values(c).filter((x) => x === p.default).length).toBeGreaterThan(0);
      expect(CONFIG_VARIABLES[name]).toBeDefined();
    }
  });
});
