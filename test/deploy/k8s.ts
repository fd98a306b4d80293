import { join } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT, type K8sObject } from './helm.js';

/**
 * Checks of rendered Kubernetes objects against the API's own schemas, in two layers:
 *  1. kubernetes-models' `.validate()` (the OpenAPI JSON schema: types, required fields, formats);
 *  2. a strict pass with the TypeScript checker over kubernetes-models' interfaces, which catches
 *     what the OpenAPI schema lets through: unknown fields (a misspelt `readinesProbe` is silently
 *     dropped by the API server) and values outside an enum (`imagePullPolicy: Sometimes`).
 */

/** kubernetes-models module path of an apiVersion/kind ("apps/v1" → "apps/v1", "v1" → "v1"). */
function modelPath(apiVersion: string, kind: string): string {
  if (!/^[a-z0-9.-]+(\/[a-z0-9]+)?$/.test(apiVersion) || !/^[A-Za-z]+$/.test(kind)) throw new Error(`odd apiVersion/kind ${apiVersion}/${kind}`);
  return `kubernetes-models/${apiVersion}/${kind}`;
}

/** Kinds outside the core API that the chart may render, checked by hand (no schema in kubernetes-models). */
const CUSTOM_KINDS: Record<string, (o: K8sObject) => string[]> = {
  'monitoring.coreos.com/v1/ServiceMonitor': (o) => {
    const problems: string[] = [];
    if (!o.spec?.selector?.matchLabels) problems.push('spec.selector.matchLabels missing');
    if (!Array.isArray(o.spec?.endpoints) || o.spec.endpoints.length === 0) problems.push('spec.endpoints missing');
    for (const e of o.spec?.endpoints ?? []) {
      const known = ['port', 'path', 'interval', 'scrapeTimeout', 'scheme', 'honorLabels', 'relabelings', 'metricRelabelings', 'bearerTokenSecret', 'authorization'];
      for (const k of Object.keys(e)) if (!known.includes(k)) problems.push(`spec.endpoints[].${k} is not a ServiceMonitor endpoint field`);
    }
    return problems;
  },
  // promtool checks the rules themselves (test/deploy/monitoring.test.ts); this checks the envelope.
  'monitoring.coreos.com/v1/PrometheusRule': (o) => {
    const problems: string[] = [];
    if (!Array.isArray(o.spec?.groups) || o.spec.groups.length === 0) problems.push('spec.groups missing');
    for (const g of o.spec?.groups ?? []) {
      if (typeof g.name !== 'string' || !g.name) problems.push('spec.groups[].name missing');
      for (const r of g.rules ?? []) {
        const known = ['alert', 'record', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'];
        for (const k of Object.keys(r)) if (!known.includes(k)) problems.push(`rule ${r.alert ?? r.record}: ${k} is not a rule field`);
        if (typeof r.expr !== 'string' || !r.expr) problems.push(`rule ${r.alert ?? r.record}: expr missing`);
        if (!r.alert === !r.record) problems.push(`rule ${r.alert ?? r.record}: exactly one of alert and record`);
        if (r.for !== undefined && !/^([0-9]+(ms|s|m|h|d|w|y))+$/.test(String(r.for))) problems.push(`rule ${r.alert}: for ${r.for} is not a duration`);
        for (const [k, v] of Object.entries({ ...(r.labels ?? {}), ...(r.annotations ?? {}) })) if (typeof v !== 'string') problems.push(`rule ${r.alert ?? r.record}: ${k} is not a string`);
      }
    }
    return problems;
  },
};

export function describeObject(o: K8sObject): string {
  return `${o.kind}/${o.metadata?.name}`;
}

/** Layer 1: every object through its kubernetes-models class. Returns one message per problem. */
export async function validateWithModels(objects: K8sObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const o of objects) {
    const custom = CUSTOM_KINDS[`${o.apiVersion}/${o.kind}`];
    if (custom) {
      problems.push(...custom(o).map((p) => `${describeObject(o)}: ${p}`));
      continue;
    }
    let mod: Record<string, unknown>;
    try {
      mod = await import(modelPath(o.apiVersion, o.kind));
    } catch {
      problems.push(`${describeObject(o)}: no schema for ${o.apiVersion} ${o.kind} in kubernetes-models`);
      continue;
    }
    const Model = mod[o.kind] as { new (data: unknown): { validate(): void } };
    try {
      new Model(o).validate();
    } catch (e) {
      problems.push(`${describeObject(o)}: ${(e as Error).message}`);
    }
  }
  return problems;
}

/**
 * Layer 2: one virtual TypeScript file that assigns each object, as a JSON literal, to its
 * kubernetes-models interface; excess-property and literal-type errors become problems.
 */
export function strictTypeCheck(objects: K8sObject[]): string[] {
  const lines: string[] = [];
  const owners: string[] = [];
  const imports = new Map<string, string>();
  for (const o of objects) {
    if (CUSTOM_KINDS[`${o.apiVersion}/${o.kind}`]) continue;
    const path = modelPath(o.apiVersion, o.kind);
    let alias = imports.get(path);
    if (!alias) {
      alias = `T${imports.size}`;
      imports.set(path, alias);
    }
    owners.push(describeObject(o));
    lines.push(`const o${owners.length - 1}: ${alias} = ${JSON.stringify(o)};`);
  }
  const header = [...imports].map(([path, alias]) => `import type { I${path.split('/').pop()} as ${alias} } from '${path}';`);
  const code = [...header, ...lines].join('\n') + '\nexport {};\n';
  const firstObjectLine = header.length;

  // A file that only exists in memory, placed in the repo so node_modules resolution works.
  const fileName = join(REPO_ROOT, 'test/deploy/__rendered_objects__.ts');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (f, languageVersion, ...rest) =>
    f === fileName ? ts.createSourceFile(f, code, languageVersion) : getSourceFile(f, languageVersion, ...rest);
  host.fileExists = (f) => f === fileName || fileExists(f);
  const program = ts.createProgram([fileName], options, host);
  const source = program.getSourceFile(fileName)!;

  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.file?.fileName !== fileName || d.start === undefined) return message;
    const { line, character } = source.getLineAndCharacterOfPosition(d.start);
    const owner = owners[line - firstObjectLine] ?? 'imports';
    const text = code.split('\n')[line] ?? '';
    return `${owner}: ${message}\n    near: …${text.slice(Math.max(0, character - 60), character + 80)}…`;
  });
}

// ------------------------------------------------------------------------------------------------
// Container environment, resolved the way the kubelet does it
// ------------------------------------------------------------------------------------------------

export interface EnvSubstitutions {
  /** values for valueFrom.fieldRef, by fieldPath (metadata.name, status.podIP, ...) */
  fieldRefs: Record<string, string>;
  /** values for secretKeyRef / secretRef of Secrets the chart does not render, by "name/key" */
  secrets?: Record<string, string>;
}

/** Kubernetes dependent variables: $(VAR) → value if VAR is already defined, $$ → $, else verbatim. */
export function expandVars(value: string, defined: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) => {
    if (m === '$$') return '$';
    return name !== undefined && Object.hasOwn(defined, name) ? defined[name] : m;
  });
}

function secretValue(objects: K8sObject[], name: string, key: string, subs: EnvSubstitutions): string {
  const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === name);
  if (secret) {
    if (secret.data?.[key] !== undefined) return Buffer.from(secret.data[key], 'base64').toString('utf8');
    if (secret.stringData?.[key] !== undefined) return secret.stringData[key];
    throw new Error(`Secret ${name} has no key ${key}`);
  }
  const v = subs.secrets?.[`${name}/${key}`];
  if (v === undefined) throw new Error(`Secret ${name} (key ${key}) is neither rendered nor given as a substitution`);
  return v;
}

/**
 * The environment a container would see: envFrom (ConfigMaps/Secrets, from the rendered objects),
 * then env in order, with fieldRefs and secretKeyRefs substituted and $(VAR) expanded.
 */
export function resolveContainerEnv(objects: K8sObject[], container: any, subs: EnvSubstitutions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) {
      const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === from.configMapRef.name);
      if (!cm) throw new Error(`envFrom ConfigMap ${from.configMapRef.name} is not rendered by the chart`);
      for (const [k, v] of Object.entries(cm.data ?? {})) env[(from.prefix ?? '') + k] = String(v);
    } else if (from.secretRef) {
      const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === from.secretRef.name);
      if (!secret) throw new Error(`envFrom Secret ${from.secretRef.name} is not rendered by the chart`);
      for (const [k, v] of Object.entries(secret.data ?? {})) env[(from.prefix ?? '') + k] = Buffer.from(String(v), 'base64').toString('utf8');
    }
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = expandVars(String(e.value), env);
    else if (e.valueFrom?.fieldRef) {
      const v = subs.fieldRefs[e.valueFrom.fieldRef.fieldPath];
      if (v === undefined) throw new Error(`no substitution for fieldRef ${e.valueFrom.fieldRef.fieldPath} (${e.name})`);
      env[e.name] = v;
    } else if (e.valueFrom?.secretKeyRef) {
      env[e.name] = secretValue(objects, e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key, subs);
    } else if (e.valueFrom?.configMapKeyRef) {
      const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === e.valueFrom.configMapKeyRef.name);
      env[e.name] = String(cm?.data?.[e.valueFrom.configMapKeyRef.key] ?? '');
    } else env[e.name] = '';
  }
  return env;
}

/** Names of every variable a container gets (envFrom ConfigMaps rendered by the chart, and env). */
export function containerEnvNames(objects: K8sObject[], container: any): string[] {
  const names: string[] = [];
  for (const from of container.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    const kind = from.configMapRef ? 'ConfigMap' : 'Secret';
    const obj = objects.find((o) => o.kind === kind && o.metadata.name === ref.name);
    for (const k of Object.keys(obj?.data ?? {})) names.push((from.prefix ?? '') + k);
  }
  for (const e of container.env ?? []) names.push(e.name);
  return names;
}

/** Every pod template (or Pod) in the objects, with the object it belongs to. */
export function podSpecs(objects: K8sObject[]): { owner: K8sObject; spec: any; labels: Record<string, string> }[] {
  const out: { owner: K8sObject; spec: any; labels: Record<string, string> }[] = [];
  for (const o of objects) {
    if (o.kind === 'Pod') out.push({ owner: o, spec: o.spec, labels: o.metadata.labels ?? {} });
    else if (o.spec?.template?.spec) out.push({ owner: o, spec: o.spec.template.spec, labels: o.spec.template.metadata?.labels ?? {} });
  }
  return out;
}

/** true if every key/value of `selector` is in `labels`. */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}
