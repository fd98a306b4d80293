import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '#libs/common';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** stdout parsed as JSON (throws with the output when it is not JSON). */
  json<T = any>(): T;
}

export interface CliOptions {
  env?: Record<string, string>;
  input?: string;
  timeoutMs?: number;
}

/** Run the built `bin/solgate` as an operator would (a child process with a minimal environment). */
export function solgate(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const bin = join(packageRoot(), 'bin', 'solgate');
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout,
        stderr,
        ms: performance.now() - t0,
        json() {
          try {
            return JSON.parse(stdout);
          } catch {
            throw new Error(`not JSON (exit ${code}):\n${stdout}\n--- stderr:\n${stderr}`);
          }
        },
      });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** A `solgate` bound to one Redis and key prefix (through the environment, as an operator's shell would). */
export function cliFor(redisUrl: string, prefix: string) {
  return (args: string[], opts: CliOptions = {}) =>
    solgate(args, { ...opts, env: { SOLGATE_REDIS_URL: redisUrl, SOLGATE_KEY_PREFIX: prefix, ...opts.env } });
}

/** Fields the CLI's node JSON shares with the API's GET /v1/nodes/X (1.78). */
export const SHARED_NODE_FIELDS = ['uuid', 'name', 'driver', 'console_interface', 'driver_info', 'conductor_group', 'console_enabled', 'conductor', 'last_error'] as const;

export function pick(obj: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, obj[k]]));
}

/** Assert a zero exit, showing stderr when it is not. */
export function expectOk(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`solgate exited ${r.code}\n--- stderr:\n${r.stderr}\n--- stdout:\n${r.stdout.slice(0, 2000)}`);
  return r;
}
