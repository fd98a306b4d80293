import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '#libs/common';
import { freeTcpPort } from './ports.js';
import { isAlive } from './procs.js';
import { waitFor } from './wait.js';

export interface HaproxyOptions {
  /** Ironic's API as HAProxy reaches it, e.g. http://127.0.0.1:6385. */
  ironicUrl: string;
  /** Every conductor's API URL (http://host:port). */
  conductors: string[];
  /** solgate's SOLGATE_AUTH_TOKEN, injected by HAProxy on the calls it sends to solgate. */
  solgateToken?: string;
  host?: string;
}

const hostPort = (url: string) => new URL(url).host;

/**
 * deploy/haproxy/haproxy.cfg with its example addresses replaced by this test's (the frontend's bind,
 * Ironic's server and authorization URL, one server line per conductor) and everything else —
 * routing, health checks, the Lua authorization, header rewriting — exactly as shipped. Throws when
 * the shipped file no longer has the lines this relies on, so the file and the test cannot drift.
 */
export function renderHaproxyConfig(o: HaproxyOptions & { bind: string; luaFile: string }): string {
  const shipped = readFileSync(join(packageRoot(), 'deploy/haproxy/haproxy.cfg'), 'utf8');
  const once = (text: string, re: RegExp, replacement: string, what: string) => {
    const n = (text.match(new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g')) ?? []).length;
    if (n !== 1) throw new Error(`deploy/haproxy/haproxy.cfg: expected exactly one ${what}, found ${n}`);
    return text.replace(re, replacement);
  };
  let cfg = shipped;
  cfg = once(cfg, /^(\s*)bind :6385$/m, `$1bind ${o.bind}`, 'frontend bind line');
  cfg = once(cfg, /^(\s*)lua-load \S+$/m, `$1lua-load ${o.luaFile}`, 'lua-load line');
  cfg = once(cfg, /^(\s*server ironic )192\.0\.2\.10:6385( .*)$/m, `$1${hostPort(o.ironicUrl)}$2`, 'Ironic server line');
  cfg = once(cfg, /^(\s*http-request lua\.ironic_authz )\S+$/m, `$1${o.ironicUrl}`, 'Ironic authorization line');
  const servers = /^(\s*)server conductor-\d+ \S+$/gm;
  const lines = cfg.match(servers) ?? [];
  if (lines.length === 0) throw new Error('deploy/haproxy/haproxy.cfg: no `server conductor-N` lines');
  const indent = /^\s*/.exec(lines[0]!)![0];
  let first = true;
  cfg = cfg.replace(servers, () => {
    if (!first) return '\u0000';
    first = false;
    return o.conductors.map((c, i) => `${indent}server conductor-${i + 1} ${hostPort(c)}`).join('\n');
  });
  return cfg.replace(/\n\u0000/g, '');
}

/**
 * A real HAProxy (Debian's `haproxy`) running deploy/haproxy/haproxy.cfg in front of a real Ironic
 * and solgate's conductors, on a free port, in the foreground (-db) under a parent-death SIGKILL;
 * `stop()` ends it and removes its directory.
 */
export class HaproxyServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'solgate-haproxy-'));
  port = 0;
  private child: ChildProcess | undefined;
  private exited = false;

  private constructor(private readonly opts: HaproxyOptions) {}

  static async start(opts: HaproxyOptions): Promise<HaproxyServer> {
    const h = new HaproxyServer(opts);
    try {
      await h.start();
    } catch (e) {
      await h.stop();
      throw e;
    }
    return h;
  }

  get host() {
    return this.opts.host ?? '127.0.0.1';
  }

  get url() {
    return `http://${this.host}:${this.port}`;
  }

  get log(): string {
    try {
      return readFileSync(join(this.dir, 'haproxy.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async start(): Promise<void> {
    this.port ||= await freeTcpPort(this.host);
    const cfgFile = join(this.dir, 'haproxy.cfg');
    writeFileSync(
      cfgFile,
      renderHaproxyConfig({ ...this.opts, bind: `${this.host}:${this.port}`, luaFile: join(packageRoot(), 'deploy/haproxy/ironic-authz.lua') }),
    );
    const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/bin', SOLGATE_AUTH_TOKEN: this.opts.solgateToken ?? '' };
    const check = spawn('haproxy', ['-c', '-q', '-f', cfgFile], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let checkOut = '';
    check.stdout!.on('data', (d) => (checkOut += d));
    check.stderr!.on('data', (d) => (checkOut += d));
    const code = await new Promise<number | null>((r) => check.on('close', r));
    if (code !== 0) throw new Error(`haproxy -c refused the configuration:\n${checkOut}`);
    const out = openSync(join(this.dir, 'haproxy.log'), 'a');
    this.child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'haproxy', '-db', '-f', cfgFile], { env, stdio: ['ignore', out, out] });
    closeSync(out);
    this.child.on('exit', () => (this.exited = true));
    const state = await waitFor(
      async () => {
        if (this.exited) return 'exited';
        const r = await fetch(`${this.url}/`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
        return r?.status === 200 ? 'ready' : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 50, what: 'HAProxy to answer GET / (from Ironic)' },
    );
    if (state === 'exited') throw new Error(`haproxy exited:\n${this.log.slice(-2000)}`);
  }

  async stop(): Promise<void> {
    const pid = this.child?.pid;
    if (pid && !this.exited) {
      this.child!.kill('SIGTERM');
      await waitFor(() => this.exited && !isAlive(pid), { timeoutMs: 5000, what: 'haproxy to exit' }).catch(() => this.child?.kill('SIGKILL'));
    }
    this.child = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
