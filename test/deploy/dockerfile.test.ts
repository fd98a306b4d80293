import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CHART_DIR, REPO_ROOT } from './helm.js';

// Static checks of deploy/docker/Dockerfile and the .dockerignore build context, cross-checked with the
// chart and the repository layout. The image itself is built and run by test/deploy/container.test.ts.

interface Instruction {
  line: number;
  instr: string;
  args: string;
  stage: string;
}

/** Dockerfile → instructions (continuations joined, comments dropped), each tagged with its stage. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = '';
  let buf = '';
  let start = 0;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (buf === '' && (line === '' || line.startsWith('#'))) continue;
    if (buf !== '' && line.startsWith('#')) continue; // comment inside a continuation
    if (buf === '') start = i + 1;
    if (line.endsWith('\\')) {
      buf += line.slice(0, -1) + ' ';
      continue;
    }
    buf += line;
    const m = /^(\S+)\s*(.*)$/s.exec(buf)!;
    const instr = m[1].toUpperCase();
    if (instr === 'FROM') stage = /\bAS\s+(\S+)/i.exec(m[2])?.[1] ?? `stage${out.filter((x) => x.instr === 'FROM').length}`;
    out.push({ line: start, instr, args: m[2].replace(/\s+/g, ' ').trim(), stage });
    buf = '';
  }
  return out;
}

const dockerfile = readFileSync(join(REPO_ROOT, 'deploy/docker/Dockerfile'), 'utf8');
const instructions = parseDockerfile(dockerfile);
const stages = [...new Set(instructions.filter((i) => i.instr === 'FROM').map((i) => i.stage))];
const finalStage = stages.at(-1)!;
const inStage = (stage: string, instr?: string) => instructions.filter((i) => i.stage === stage && (!instr || i.instr === instr));
const runs = (stage: string) => inStage(stage, 'RUN').map((i) => i.args).join('\n');
const values = parse(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8'));

/** moby (BuildKit) .dockerignore semantics: last matching pattern wins; a pattern matching a parent dir matches the file. */
function dockerignore(): (path: string) => boolean {
  const patterns = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const glob = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      const re = glob
        .split('/')
        .map((part) => (part === '**' ? '.*' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
        .join('/');
      return { negate, re: new RegExp(`^${re.replace(/^\.\*\//, '(.*/)?')}$`) };
    });
  return (path: string) => {
    const parts = path.split('/');
    let excluded = false;
    for (const p of patterns) {
      const matches = parts.some((_, n) => p.re.test(parts.slice(0, n + 1).join('/')));
      if (matches) excluded = !p.negate;
    }
    return excluded;
  };
}

describe('deploy/docker/Dockerfile', () => {
  it('is multi-stage: build (npm ci + build), production deps (npm ci --omit=dev), runtime', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    const build = stages.find((s) => /npm ci(?!.*--omit=dev)/.test(runs(s)) && /npm run build/.test(runs(s)));
    const deps = stages.find((s) => /npm ci .*--omit=dev/.test(runs(s)));
    expect(build).toBeDefined();
    expect(deps).toBeDefined();
    expect(finalStage).not.toBe(build);
    // the runtime stage installs no npm packages itself; it copies the built tree and the prod deps
    expect(runs(finalStage)).not.toMatch(/npm (ci|install)/);
    const copies = inStage(finalStage, 'COPY').map((i) => i.args);
    expect(copies).toContainEqual(expect.stringMatching(new RegExp(`^--from=${deps} \\S*node_modules`)));
    expect(copies).toContainEqual(expect.stringMatching(new RegExp(`^--from=${build} `)));
  });

  it('pins the default bases: an exact official Node 20 release and a Debian point release of the same Debian', () => {
    const arg = (name: string) => instructions.find((i) => i.instr === 'ARG' && i.args.startsWith(`${name}=`))?.args ?? '';
    expect(arg('NODE_IMAGE')).toMatch(/^NODE_IMAGE=(docker\.io\/library\/)?node:20\.\d+\.\d+-bookworm-slim(@sha256:[a-f0-9]{64})?$/);
    expect(arg('RUNTIME_IMAGE')).toMatch(/^RUNTIME_IMAGE=(docker\.io\/library\/)?debian:12\.\d+-slim(@sha256:[a-f0-9]{64})?$/);
    for (const from of instructions.filter((i) => i.instr === 'FROM')) {
      expect(from.args).not.toMatch(/:latest\b/);
      expect(from.args).toMatch(/^(\$\{(NODE_IMAGE|RUNTIME_IMAGE)\}|\S+:\S+) AS \S+$/i);
    }
    // build and deps stages run on NODE_IMAGE, the runtime on RUNTIME_IMAGE
    const froms = Object.fromEntries(instructions.filter((i) => i.instr === 'FROM').map((i) => [i.stage, i.args.split(' ')[0]]));
    expect(froms[finalStage]).toBe('${RUNTIME_IMAGE}');
    for (const s of stages.filter((x) => x !== finalStage)) expect(froms[s]).toBe('${NODE_IMAGE}');
    // the official image's self-contained node binary reaches the runtime; a prepared base brings its own
    expect(runs('deps')).toMatch(/cp \/usr\/local\/bin\/node \/node-bin\//);
    expect(inStage(finalStage, 'COPY').map((i) => i.args)).toContain('--from=deps /node-bin/ /usr/local/bin/');
    expect(runs(finalStage)).toMatch(/node --version/);
  });

  it('installs socat, ipmitool, util-linux (setpriv) and tini when the base lacks them, without recommends, and cleans apt in the same layer', () => {
    const apt = inStage(finalStage, 'RUN').filter((i) => /apt-get install/.test(i.args));
    expect(apt).toHaveLength(1);
    const run = apt[0].args;
    for (const [cmd, pkg] of [['socat', 'socat'], ['ipmitool', 'ipmitool'], ['tini', 'tini'], ['setpriv', 'util-linux']]) expect(run).toContain(`${cmd}:${pkg}`);
    expect(run).toMatch(/command -v/);
    expect(run).toMatch(/apt-get install -y --no-install-recommends/);
    // every RUN that installs also updates and removes the lists in the same layer
    for (const i of instructions.filter((x) => x.instr === 'RUN' && /apt-get install/.test(x.args))) {
      expect(i.args).toMatch(/apt-get update/);
      expect(i.args).toMatch(/rm -rf \/var\/lib\/apt\/lists\/\*/);
    }
  });

  it('keeps npm out of the runtime stage and prunes the production dependencies', () => {
    expect(runs(finalStage)).not.toMatch(/\bnpm\b|\bnpx\b/);
    const deps = runs('deps');
    expect(deps).toMatch(/npm ci --omit=dev --ignore-scripts/);
    for (const d of ['test', 'docs', 'examples']) expect(deps).toContain(` ${d} `);
    expect(deps).toMatch(/-name '\*\.map'/);
    expect(deps).toMatch(/-name '\*\.d\.ts'/);
    // the npm cache is a cache mount, never part of a layer
    for (const i of instructions.filter((x) => x.instr === 'RUN' && /npm ci/.test(x.args))) expect(i.args).toMatch(/^--mount=type=cache,target=\/root\/\.npm/);
  });

  it('runs as a numeric non-root user, the same the chart sets, with tini as PID 1', () => {
    const users = inStage(finalStage, 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users.at(-1)!.args;
    expect(user).toMatch(/^\d+(:\d+)?$/);
    const [uid, gid] = user.split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    expect(uid).toBe(values.podSecurityContext.runAsUser);
    expect(uid).toBe(values.containerSecurityContext.runAsUser);
    if (gid !== undefined) expect(gid).toBe(values.podSecurityContext.runAsGroup);
    // the user and group are created with those ids (written directly: a minimal base has no useradd)
    expect(runs(finalStage)).toContain(`solgate:x:${uid}:${gid ?? uid}:`);
    expect(runs(finalStage)).toContain(`solgate:x:${gid ?? uid}:`);

    const entrypoint = inStage(finalStage, 'ENTRYPOINT').at(-1)!.args;
    expect(JSON.parse(entrypoint)).toEqual(['/usr/bin/tini', '--']);
  });

  it('starts /app/bin/solgate-conductor from /app, the command the chart runs', () => {
    expect(inStage(finalStage, 'WORKDIR').at(-1)?.args).toBe('/app');
    const cmd = JSON.parse(inStage(finalStage, 'CMD').at(-1)!.args);
    expect(cmd).toEqual(['/app/bin/solgate-conductor']);
    const sts = readFileSync(join(CHART_DIR, 'templates/statefulset.yaml'), 'utf8');
    expect(sts).toContain('args: ["/app/bin/solgate-conductor"]');
    // the launchers exist and are executable in the repository (COPY keeps the mode)
    for (const bin of ['bin/solgate-conductor', 'bin/solgate']) {
      expect(statSync(join(REPO_ROOT, bin)).mode & 0o111).toBeTruthy();
    }
  });

  it('puts everything the conductor reads at run time into the image', () => {
    const build = runs(stages[0]);
    // the runtime tree: dist, bin, package.json (import map + package root), libs/**/lua and libs/**/assets
    expect(build).toMatch(/cp -a dist bin package\.json \/out\//);
    expect(build).toMatch(/find libs -type d \\\( -name lua -o -name assets \\\)/);
    const runtimeDirs = readdirSync(join(REPO_ROOT, 'libs')).flatMap((lib) =>
      ['lua', 'assets'].map((d) => `libs/${lib}/${d}`).filter((d) => existsSync(join(REPO_ROOT, d))),
    );
    expect(runtimeDirs).toContain('libs/redis/lua');
    const ignored = dockerignore();
    for (const dir of runtimeDirs) {
      for (const f of readdirSync(join(REPO_ROOT, dir))) expect({ file: `${dir}/${f}`, ignored: ignored(`${dir}/${f}`) }).toEqual({ file: `${dir}/${f}`, ignored: false });
    }
  });

  it('sends exactly the build inputs to the builder (.dockerignore allow-list)', () => {
    const ignored = dockerignore();
    const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: REPO_ROOT, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    const context = tracked.filter((f) => !ignored(f));
    // everything tsc compiles (tsconfig.build.json include roots), the lock file and the launchers
    const tsBuild = JSON.parse(readFileSync(join(REPO_ROOT, 'tsconfig.build.json'), 'utf8'));
    const roots = (tsBuild.include as string[]).map((g) => g.split('/**')[0]);
    for (const f of tracked.filter((t) => roots.some((r) => t.startsWith(`${r}/`)) && t.endsWith('.ts') && !/\.(spec|test)\.ts$/.test(t))) {
      expect({ file: f, inContext: context.includes(f) }).toEqual({ file: f, inContext: true });
    }
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'bin/solgate-conductor', 'bin/solgate']) {
      expect({ file: f, inContext: context.includes(f) }).toEqual({ file: f, inContext: true });
    }
    // and nothing else: no git metadata, local builds, tools, charts, docs or tests
    for (const path of ['.git/config', 'node_modules/x/index.js', 'dist/apps/x.js', '.tools/helm', 'deploy/helm/solgate/values.yaml', 'test/deploy/chart.test.ts', 'libs/ring/src/ring.spec.ts', '.env', 'docs/x.md']) {
      expect({ path, ignored: ignored(path) }).toEqual({ path, ignored: true });
    }
  });

  it('bakes in no secrets and fetches nothing from URLs', () => {
    expect(instructions.filter((i) => i.instr === 'ADD')).toEqual([]);
    for (const i of instructions.filter((x) => x.instr === 'ENV' || x.instr === 'ARG')) {
      expect(i.args).not.toMatch(/(PASSWORD|TOKEN|SECRET|PRIVATE|CREDENTIAL)/i);
    }
    expect(dockerfile).not.toMatch(/curl[^\n|]*\|\s*(ba)?sh|wget[^\n|]*\|\s*(ba)?sh/);
    expect(dockerfile).not.toMatch(/SOLGATE_(AUTH_TOKEN|REDIS_URL)=/);
  });

  it('has a HEALTHCHECK on /healthz (for plain docker run), OCI labels, and the tools on PATH', () => {
    const hc = inStage(finalStage, 'HEALTHCHECK').at(-1)?.args ?? '';
    expect(hc).toContain('/healthz');
    expect(hc).toContain('SOLGATE_API_HOST'); // a conductor bound to one address is probed there
    const labels = inStage(finalStage, 'LABEL').map((i) => i.args).join(' ');
    for (const l of ['title', 'description', 'version', 'revision', 'licenses', 'source']) expect(labels).toContain(`org.opencontainers.image.${l}=`);
    const env = inStage(finalStage, 'ENV').map((i) => i.args).join(' ');
    expect(env).toMatch(/PATH=\/app\/bin:/);
  });
});
