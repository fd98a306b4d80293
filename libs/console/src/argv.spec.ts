import { describe, expect, it } from '@jest/globals';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { DriverInfo } from '#libs/nodes';
import { buildIpmitoolArgv, buildSocatArgv, ipmitoolTarget, passwordFileContent, socatToken } from './argv.js';

describe('buildIpmitoolArgv', () => {
  it('builds Ironic’s ipmitool command line with the password in a file', () => {
    const t = ipmitoolTarget({ ipmi_address: '10.0.0.5', ipmi_port: 623, ipmi_username: 'admin', ipmi_password: 'secret', ipmi_cipher_suite: 3 });
    expect(buildIpmitoolArgv(t, '/run/sg/n.pw')).toEqual(['ipmitool', '-I', 'lanplus', '-H', '10.0.0.5', '-L', 'ADMINISTRATOR', '-p', '623', '-U', 'admin', '-C', '3', '-f', '/run/sg/n.pw']);
  });

  it('never puts the password on the command line', () => {
    const t = ipmitoolTarget({ ipmi_address: 'bmc1.example.com', ipmi_password: 'hunter2' });
    expect(buildIpmitoolArgv(t, '/p').join(' ')).not.toContain('hunter2');
  });

  it('omits what is not set and strips brackets from IPv6', () => {
    expect(buildIpmitoolArgv(ipmitoolTarget({ ipmi_address: '[fd00::1]' }), '/p')).toEqual(['ipmitool', '-I', 'lanplus', '-H', 'fd00::1', '-L', 'ADMINISTRATOR', '-f', '/p']);
  });

  it.each([
    [{ ipmi_address: '127.0.0.1,fork' }],
    [{ ipmi_address: 'a b' }],
    [{ ipmi_address: '-oProxyCommand=x' }],
    [{ ipmi_address: 'h', ipmi_username: 'a",fork!!SYSTEM:touch /tmp/x,"' }],
    [{ ipmi_address: 'h', ipmi_port: 70000 }],
    [{ ipmi_address: 'h', ipmi_priv_level: 'ROOT' }],
    [{ ipmi_address: 'h', ipmi_cipher_suite: 99 }],
  ])('refuses %j', (info) => {
    expect(() => ipmitoolTarget(info as DriverInfo)).toThrow(/Invalid/);
  });

  it('writes an empty password as a single NUL byte, as Ironic does', () => {
    expect(passwordFileContent('')).toBe('\0');
    expect(passwordFileContent('pw')).toBe('pw');
  });
});

describe('buildSocatArgv', () => {
  const base = { address: '127.0.0.1', port: 31000, pidFile: '/run/sg/u.pid', terminalTimeoutS: 600, peer: { exec: ['/run/sg/sol-session.sh', '/run/sg/lease', '/run/sg/u.argv'] } };

  it('builds Ironic’s socat shape', () => {
    expect(buildSocatArgv(base)).toEqual([
      '-d',
      '-d',
      '-T600',
      '-L/run/sg/u.pid',
      'TCP4-LISTEN:31000,bind=127.0.0.1,reuseaddr,fork,max-children=1',
      'EXEC:/run/sg/sol-session.sh /run/sg/lease /run/sg/u.argv,pty,raw,echo=0,stderr',
    ]);
  });

  it('connects each client to a UNIX socket for in-process consoles', () => {
    expect(buildSocatArgv({ ...base, peer: { unixSocket: '/run/sg/u.sock' } }).pop()).toBe('UNIX-CONNECT:/run/sg/u.sock');
  });

  it('uses TCP6-LISTEN with a bracketed bind address for IPv6 and no -T for 0', () => {
    const argv = buildSocatArgv({ ...base, address: '::1', terminalTimeoutS: 0 });
    expect(argv).toContain('TCP6-LISTEN:31000,bind=[::1],reuseaddr,fork,max-children=1');
    expect(argv.some((a) => a.startsWith('-T'))).toBe(false);
  });

  it('refuses blanks and quotes and escapes address syntax in exec tokens', () => {
    expect(() => socatToken('a b')).toThrow();
    expect(() => socatToken("it's")).toThrow();
    expect(socatToken('/x,fork!!SYSTEM:y')).toBe('/x\\,fork\\!\\!SYSTEM\\:y');
    fc.assert(
      fc.property(fc.string(), (s) => {
        try {
          const t = socatToken(s);
          // every syntax character that remains is escaped
          expect(/(^|[^\\])[,:!()[\]{}]/.test(t.replace(/\\\\/g, ''))).toBe(false);
        } catch (e) {
          expect(String(e)).toMatch(/refusing/);
        }
      }),
    );
  });

  it('an escaped token reaches the command as one argument through the real socat, and runs nothing else', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-argv-'));
    try {
      const script = join(dir, 'args.sh');
      writeFileSync(script, '#!/bin/sh\nfor a in "$@"; do printf "[%s]" "$a"; done\n');
      chmodSync(script, 0o755);
      const evil = `${dir}/x,fork!!SYSTEM:touch(${dir}/pwned)`;
      const port = await new Promise<number>((r) => {
        const s = createServer().listen(0, '127.0.0.1', () => {
          const p = (s.address() as { port: number }).port;
          s.close(() => r(p));
        });
      });
      const argv = buildSocatArgv({ ...base, port, pidFile: join(dir, 'p.pid'), peer: { exec: [script, evil] } });
      const child = spawn('socat', argv, { stdio: ['ignore', 'ignore', 'pipe'] });
      await new Promise<void>((r) => child.stderr!.on('data', (d) => String(d).includes('listening on') && r()));
      const out = await new Promise<string>((resolve) => {
        let buf = '';
        const c = createConnection({ port, host: '127.0.0.1' });
        c.on('data', (d) => (buf += d));
        c.on('close', () => resolve(buf));
        c.on('error', () => resolve(buf));
      });
      child.kill('SIGKILL');
      expect(out).toBe(`[${evil}]`);
      expect(existsSync(join(dir, 'pwned'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// keep execFileSync referenced for environments that lack socat: fail loudly, never skip
execFileSync('socat', ['-V']);

describe('buildSocatArgv with the broker relay', () => {
  it('runs the relay itself for each client (nofork), many at once, with a listen backlog', () => {
    const argv = buildSocatArgv({
      address: '127.0.0.1',
      port: 31000,
      pidFile: '/run/sg/n.pid',
      terminalTimeoutS: 0,
      peer: { relay: ['perl', '/opt/solgate/libs/console/assets/console-relay.pl', '/run/sg/lease', '/run/sg/n.sock'], maxClients: 136 },
    });
    expect(argv.slice(-2)).toEqual([
      'TCP4-LISTEN:31000,bind=127.0.0.1,reuseaddr,fork,max-children=136,backlog=136',
      'EXEC:perl /opt/solgate/libs/console/assets/console-relay.pl /run/sg/lease /run/sg/n.sock,nofork',
    ]);
  });

  it('refuses relay arguments socat would parse as syntax', () => {
    expect(() => buildSocatArgv({ address: '127.0.0.1', port: 1, pidFile: '/p', terminalTimeoutS: 0, peer: { relay: ['perl', '/a b'], maxClients: 2 } })).toThrow(/blanks/);
  });
});
