import { execFile, spawn } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * podman for the container tests, with this machine's verified settings (scripts/image.sh owns them:
 * runc, cgroupfs, a containers.conf without default ulimits), plus the translation of a rendered
 * Kubernetes pod spec into `podman run` flags, so a container runs as the Helm chart would run it.
 */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const IMAGE_SH = join(REPO_ROOT, 'scripts/image.sh');

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], { timeoutMs = 120_000, input }: { timeoutMs?: number; input?: string } = {}): Promise<CommandResult> {
  return new Promise((resolvePromise) => {
    const child = execFile(file, args, { cwd: REPO_ROOT, maxBuffer: 256 * 1024 * 1024, timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0;
      resolvePromise({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** `podman ARGS` through scripts/image.sh (same runtime, cgroup manager and containers.conf). */
export function podman(args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<CommandResult> {
  return run(IMAGE_SH, ['podman', ...args], opts);
}

/** Like podman() but throws with podman's stderr when it fails. */
export async function podmanOk(args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  const r = await podman(args, opts);
  if (r.code !== 0) throw new Error(`podman ${args.join(' ')} failed (${r.code}):\n${r.stderr.slice(-4000)}`);
  return r.stdout;
}

/**
 * Can containers run here at all? Installs podman & co. when missing (scripts/image.sh deps), then
 * asks podman about its storage and runtime. Only a "no" here may skip the container tests.
 */
export async function probePodman(): Promise<{ ok: true } | { ok: false; reason: string }> {
  const deps = await run(IMAGE_SH, ['deps'], { timeoutMs: 15 * 60_000 });
  if (deps.code !== 0) return { ok: false, reason: `scripts/image.sh deps failed: ${deps.stderr.trim().slice(-500)}` };
  const info = await podman(['info', '--format', '{{.Host.OCIRuntime.Name}} {{.Store.GraphDriverName}}'], { timeoutMs: 60_000 });
  if (info.code !== 0) return { ok: false, reason: `podman info failed: ${info.stderr.trim().slice(-500)}` };
  return { ok: true };
}

/**
 * scripts/image.sh [build|redis] --base auto: the image name it prints last. A build failure throws
 * (with the end of the build log): it is a test failure, never a skip.
 */
export async function imageFromScript(what: 'build' | 'redis', timeoutMs = 25 * 60_000): Promise<{ image: string; seconds: number; log: string }> {
  const t0 = Date.now();
  const r = await run(IMAGE_SH, [what, '--base', 'auto'], { timeoutMs });
  const image = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.code !== 0 || !image) throw new Error(`scripts/image.sh ${what} failed (${r.code}):\n${r.stderr.slice(-6000)}`);
  return { image, seconds: (Date.now() - t0) / 1000, log: r.stderr };
}

export interface PodRunOptions {
  /** container name (podman --name) */
  name: string;
  image: string;
  /** the rendered pod spec and one of its containers */
  pod: any;
  container: any;
  /** the container's environment, already resolved (secrets, downward API, $(VAR) expansion) */
  env: Record<string, string>;
  /** volume name → host directory; volumes not listed become tmpfs mounts (emptyDir-like) */
  hostVolumes?: Record<string, string>;
  labels?: Record<string, string>;
}

/**
 * `podman run` flags for a container as Kubernetes would run it from the rendered pod spec: user and
 * groups (runAsUser/runAsGroup/fsGroup), capabilities, no privilege escalation, the RuntimeDefault
 * seccomp profile (podman's default), a read-only root file system with nothing writable but the
 * pod's volumes (emptyDir → tmpfs with its sizeLimit), the command/args split (command replaces
 * the image's ENTRYPOINT, args its CMD), and the grace period as podman's stop timeout. The host
 * network stands in for the pod's network namespace.
 */
export function podmanRunArgs(o: PodRunOptions): string[] {
  const psc = o.pod.securityContext ?? {};
  const sc = o.container.securityContext ?? {};
  const args = ['run', '-d', '--name', o.name, '--network=host', '--pull=never'];
  // The image's HEALTHCHECK stays configured (`podman healthcheck run` uses it) but no systemd timer
  // runs it: there is no systemd here, and Kubernetes ignores HEALTHCHECK too (it has probes).
  args.push('--health-interval=disable');
  const uid = sc.runAsUser ?? psc.runAsUser;
  const gid = sc.runAsGroup ?? psc.runAsGroup;
  if (uid !== undefined) args.push('--user', gid !== undefined ? `${uid}:${gid}` : String(uid));
  if (psc.fsGroup !== undefined) args.push('--group-add', String(psc.fsGroup));
  for (const g of psc.supplementalGroups ?? []) args.push('--group-add', String(g));
  if (sc.readOnlyRootFilesystem) args.push('--read-only', '--read-only-tmpfs=false');
  if (sc.allowPrivilegeEscalation === false) args.push('--security-opt', 'no-new-privileges');
  if (sc.privileged) args.push('--privileged');
  for (const c of sc.capabilities?.drop ?? []) args.push(`--cap-drop=${String(c).toLowerCase()}`);
  for (const c of sc.capabilities?.add ?? []) args.push(`--cap-add=${String(c).toLowerCase()}`);
  const seccomp = (sc.seccompProfile ?? psc.seccompProfile)?.type;
  if (seccomp && seccomp !== 'RuntimeDefault') throw new Error(`seccomp profile ${seccomp} is not translated`);
  if (o.pod.terminationGracePeriodSeconds !== undefined) args.push('--stop-timeout', String(o.pod.terminationGracePeriodSeconds));
  const volumes = new Map<string, any>((o.pod.volumes ?? []).map((v: any) => [v.name, v]));
  for (const m of o.container.volumeMounts ?? []) {
    const host = o.hostVolumes?.[m.name];
    if (host) {
      args.push('-v', `${host}:${m.mountPath}:${m.readOnly ? 'ro' : 'rw'}`);
      continue;
    }
    const v = volumes.get(m.name);
    if (!v?.emptyDir) throw new Error(`volume ${m.name} is neither an emptyDir nor given as a host directory`);
    // emptyDir: empty, writable by the pod's users (0777 with the sticky bit, as a tmpfs can do it).
    const size = v.emptyDir.sizeLimit ? `,size=${String(v.emptyDir.sizeLimit).replace(/i$/, '').toLowerCase()}` : '';
    args.push('--tmpfs', `${m.mountPath}:rw,nosuid,nodev,mode=1777${size}`);
  }
  for (const [k, v] of Object.entries(o.env)) args.push('-e', `${k}=${v}`);
  for (const [k, v] of Object.entries(o.labels ?? {})) args.push('--label', `${k}=${v}`);
  if (o.container.command) args.push('--entrypoint', JSON.stringify(o.container.command));
  args.push(o.image, ...(o.container.args ?? []));
  return args;
}

export interface ContainerState {
  status: string;
  running: boolean;
  exitCode: number;
  pid: number;
  startedAt: string;
  finishedAt: string;
}

export async function inspectState(name: string): Promise<ContainerState> {
  const out = await podmanOk(['inspect', '--format', '{{json .State}}', name]);
  const s = JSON.parse(out);
  return { status: s.Status, running: s.Running, exitCode: s.ExitCode, pid: s.Pid, startedAt: s.StartedAt, finishedAt: s.FinishedAt };
}

export interface NsProcess {
  pid: number;
  ppid: number;
  state: string;
  comm: string;
  argv: string[];
  rssKiB: number;
}

function pidNamespace(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/**
 * Every process (zombies included) in the PID namespace whose init has host PID `initPid` — that is,
 * everything running in one container, seen from the host's /proc.
 */
export function processesInNamespaceOf(initPid: number): NsProcess[] {
  const ns = pidNamespace(initPid);
  if (!ns) return [];
  const out: NsProcess[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    if (pidNamespace(pid) !== ns) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const status = readFileSync(`/proc/${d}/status`, 'utf8');
      const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      out.push({ pid, ppid: Number(rest[1]), state: rest[0], comm, argv, rssKiB });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** A process started from the host (e.g. `podman logs -f`), with its output collected. */
export function follow(args: string[]): { output: string[]; stop: () => void } {
  const child = spawn(IMAGE_SH, ['podman', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout.on('data', (d) => output.push(String(d)));
  child.stderr.on('data', (d) => output.push(String(d)));
  return { output, stop: () => child.kill('SIGKILL') };
}
