import { beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { packageVersion } from '#libs/common';
import { CONFIG_VARIABLES, loadConfig } from '#libs/config';
import { parseRedisUrl } from '#libs/redis';
import { CHART_DIR, REPO_ROOT, findObject, helm, objectsOfKind, renderChart, templateArgs, type K8sObject, type RenderOptions } from './helm.js';
import { containerEnvNames, podSpecs, resolveContainerEnv, selects, strictTypeCheck, validateWithModels } from './k8s.js';

// CI check of deploy/helm/solgate: lint and render every ci/*-values.yaml variant, validate every
// object against the Kubernetes API schemas, and assert what the conductor needs from its pods.

const CI_FILES = readdirSync(join(CHART_DIR, 'ci'))
  .filter((f) => f.endsWith('-values.yaml'))
  .sort()
  .map((f) => `ci/${f}`);

/** Env variables the chart sets only to build SOLGATE_* values through $(VAR) expansion. */
const AUXILIARY_ENV = ['POD_IP', 'REDIS_PASSWORD'];

const rendered = new Map<string, K8sObject[]>();

beforeAll(async () => {
  // one render per variant, in parallel (helm is a separate process)
  await Promise.all(CI_FILES.map(async (f) => rendered.set(f, await renderChart({ valuesFiles: [f] }))));
});

function conductorOf(objects: K8sObject[]) {
  const sts = findObject(objects, 'StatefulSet', 'conductor');
  const pod = sts.spec.template.spec;
  const container = pod.containers.find((c: any) => c.name === 'conductor');
  return { sts, pod, container };
}

/** The env of a conductor container with downward-API and external-secret values filled in. */
function conductorEnv(objects: K8sObject[]) {
  const { container, pod } = conductorOf(objects);
  const secrets: Record<string, string> = {};
  for (const e of container.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    if (ref && !objects.some((o) => o.kind === 'Secret' && o.metadata.name === ref.name)) secrets[`${ref.name}/${ref.key}`] = `external-${ref.key}`;
  }
  return resolveContainerEnv(objects, container, {
    // with hostNetwork the pod's IP is its node's IP
    fieldRefs: { 'metadata.name': 'solgate-1', 'status.podIP': pod.hostNetwork ? '192.0.2.7' : '10.1.2.3', 'status.hostIP': '192.0.2.7', 'metadata.namespace': 'metal' },
    secrets,
  });
}

/** helm template must fail; returns its error output. */
async function helmFails(opts: RenderOptions): Promise<string> {
  const r = await helm(templateArgs(opts));
  expect({ rendered: r.code === 0 }).toEqual({ rendered: false });
  return r.stderr;
}

describe('helm chart deploy/helm/solgate', () => {
  it('has ci values variants for the supported set-ups', () => {
    expect(CI_FILES).toEqual(
      expect.arrayContaining(['ci/default-values.yaml', 'ci/sentinel-values.yaml', 'ci/hostnetwork-values.yaml', 'ci/existing-secret-values.yaml', 'ci/monitoring-values.yaml', 'ci/console-tls-values.yaml']),
    );
  });

  it("has package.json's version as appVersion (the version is written once, in package.json)", () => {
    const chart = parse(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8'));
    expect(chart.appVersion).toBe(packageVersion());
  });

  it('passes helm lint --strict with the defaults and every ci values file', async () => {
    const results = await Promise.all(
      [undefined, ...CI_FILES].map(async (f) => {
        const r = await helm(['lint', '--strict', CHART_DIR, ...(f ? ['--values', join(CHART_DIR, f)] : [])]);
        return { values: f ?? '(defaults)', code: r.code, output: r.code === 0 ? '' : r.stdout + r.stderr };
      }),
    );
    expect(results).toEqual(results.map((r) => ({ ...r, code: 0, output: '' })));
  });

  it('renders NOTES.txt with the next steps (port-forward, CLI, Nova) for every variant', async () => {
    await Promise.all(
      CI_FILES.map(async (f) => {
        // an offline install dry-run is the one command that renders NOTES.txt
        const r = await helm(['install', 'solgate', CHART_DIR, '--namespace', 'metal', '--dry-run=client', '--values', join(CHART_DIR, f)]);
        expect({ f, code: r.code, stderr: r.stderr }).toEqual({ f, code: 0, stderr: '' });
        const notes = r.stdout.slice(r.stdout.indexOf('NOTES:'));
        expect(notes).toContain('kubectl -n metal port-forward svc/solgate 6385:6385');
        expect(notes).toContain('kubectl -n metal exec statefulset/solgate -- /app/bin/solgate conductors');
        expect(notes).toContain('[serial_console]');
        expect(notes).toContain('endpoint_override = http://solgate.metal.svc.cluster.local:6385');
      }),
    );
  });

  it('renders only objects that the Kubernetes API schemas accept (kubernetes-models)', async () => {
    for (const f of CI_FILES) {
      expect({ values: f, problems: await validateWithModels(rendered.get(f)!) }).toEqual({ values: f, problems: [] });
    }
  });

  it('renders no unknown fields and no values outside an enum (strict type check)', () => {
    // one program for all variants: the checker is the slow part
    const all = CI_FILES.flatMap((f) => rendered.get(f)!.map((o) => ({ ...o, metadata: { ...o.metadata, name: `${o.metadata.name} [${f}]` } })));
    expect(strictTypeCheck(all)).toEqual([]);
  });

  it('catches an unknown field and a wrong type (the validators are not vacuous)', async () => {
    const objects = rendered.get('ci/default-values.yaml')!;
    const broken = structuredClone(findObject(objects, 'StatefulSet', 'conductor'));
    broken.spec.template.spec.containers[0].readinesProbe = broken.spec.template.spec.containers[0].readinessProbe;
    broken.spec.replicas = 'three';
    expect(strictTypeCheck([broken]).join('\n')).toMatch(/readinesProbe/);
    expect((await validateWithModels([broken])).join('\n')).toMatch(/replicas must be integer/);
  });

  describe.each(CI_FILES)('%s', (file) => {
    let objects: K8sObject[];
    let values: { hostNetwork: boolean; networkPolicy: boolean; bundledRedis: boolean };
    beforeAll(() => {
      objects = rendered.get(file)!;
      const { pod } = conductorOf(objects);
      values = {
        hostNetwork: pod.hostNetwork === true,
        networkPolicy: objectsOfKind(objects, 'NetworkPolicy').length > 0,
        bundledRedis: objects.some((o) => o.kind === 'StatefulSet' && o.metadata.labels?.['app.kubernetes.io/component'] === 'redis'),
      };
    });

    it('runs the conductors as a StatefulSet: parallel, one-at-a-time rolling updates, headless service', () => {
      const { sts, container } = conductorOf(objects);
      expect(sts.spec.podManagementPolicy).toBe('Parallel');
      expect(sts.spec.updateStrategy.type).toBe('RollingUpdate');
      expect(sts.spec.updateStrategy.rollingUpdate?.maxUnavailable ?? 1).toBe(1);
      expect(sts.spec.replicas).toBeGreaterThanOrEqual(3);
      const headless = objects.find((o) => o.kind === 'Service' && o.metadata.name === sts.spec.serviceName);
      expect(headless?.spec.clusterIP).toBe('None');
      expect(selects(sts.spec.selector.matchLabels, sts.spec.template.metadata.labels)).toBe(true);
      // a Service named like the release would otherwise inject SOLGATE_SERVICE_HOST, SOLGATE_PORT_...
      expect(conductorOf(objects).pod.enableServiceLinks).toBe(false);
      expect(container.args).toEqual(['/app/bin/solgate-conductor']);
      expect(container.command).toBeUndefined(); // keep the image's tini ENTRYPOINT
      expect(existsSync(join(REPO_ROOT, 'bin/solgate-conductor'))).toBe(true);
    });

    it('probes /readyz for readiness and /healthz for liveness on the API port', () => {
      const { container } = conductorOf(objects);
      const env = conductorEnv(objects);
      const apiPort = container.ports.find((p: any) => p.name === 'api');
      expect(apiPort.containerPort).toBe(Number(env.SOLGATE_API_PORT));
      expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'api' });
      expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'api' });
      if (container.startupProbe) expect(container.startupProbe.httpGet.path).toBe('/healthz');
    });

    it('sets only environment variables the conductor reads (no typos)', () => {
      const { container } = conductorOf(objects);
      const names = containerEnvNames(objects, container);
      const known = Object.keys(CONFIG_VARIABLES);
      const unknown = names.filter((n) => !known.includes(n) && !AUXILIARY_ENV.includes(n));
      expect(unknown).toEqual([]);
      // auxiliary variables exist only to be expanded into SOLGATE_* values
      const values = (container.env ?? []).map((e: any) => String(e.value ?? '')).join('\n');
      for (const aux of names.filter((n) => AUXILIARY_ENV.includes(n))) expect(values).toContain(`$(${aux})`);
      // and every variable is defined once in env (envFrom may be overridden on purpose)
      const envNames = (container.env ?? []).map((e: any) => e.name);
      expect(envNames).toEqual([...new Set(envNames)]);
    });

    it('produces a configuration the conductor accepts (loadConfig) and a Redis URL it can parse', () => {
      const env = conductorEnv(objects);
      const config = loadConfig(env);
      expect(config.conductorId).toBe('solgate-1');
      const ip = values.hostNetwork ? '192.0.2.7' : '10.1.2.3';
      expect(config.socatAddress).toBe(ip);
      // the advertised API is this pod's own address, never a Service
      expect(config.apiUrl).toMatch(new RegExp(`^http://(${ip.replace(/\./g, '\\.')}|\\[${ip}\\]):${config.apiPort}$`));
      expect(config.terminalPidDir.startsWith('/run/solgate/')).toBe(true);
      expect(() => parseRedisUrl(config.redisUrl)).not.toThrow();
      if (env.REDIS_PASSWORD !== undefined) {
        const parsed = parseRedisUrl(config.redisUrl);
        expect(parsed.options.password).toBe(env.REDIS_PASSWORD);
      }
    });

    it('uses the pod name as the stable member id and the pod (or host) IP as console address', () => {
      const { container, pod } = conductorOf(objects);
      const byName = Object.fromEntries((container.env ?? []).map((e: any) => [e.name, e]));
      expect(byName.SOLGATE_CONDUCTOR_ID.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
      expect(byName.SOLGATE_SOCAT_ADDRESS.valueFrom).toEqual({ fieldRef: { fieldPath: values.hostNetwork ? 'status.hostIP' : 'status.podIP' } });
      expect(byName.POD_IP.valueFrom).toEqual({ fieldRef: { fieldPath: 'status.podIP' } });
      expect(byName.SOLGATE_API_URL.value).toContain('$(POD_IP)');
      if (values.hostNetwork) expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet');
    });

    it('gives each pod enough time to hand its consoles over (grace ≥ kill + heartbeat timeout + 10 s)', () => {
      const { pod } = conductorOf(objects);
      const config = loadConfig(conductorEnv(objects));
      const needed = config.killTimeoutMs / 1000 + config.heartbeatTimeoutMs / 1000 + 10;
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(needed);
      // SIGTERM does the work: no preStop hook that could eat into the grace period
      expect(conductorOf(objects).container.lifecycle?.preStop).toBeUndefined();
    });

    it('has a PodDisruptionBudget over the conductors allowing one disruption at a time', () => {
      const { sts } = conductorOf(objects);
      const pdb = findObject(objects, 'PodDisruptionBudget', 'conductor');
      expect(selects(pdb.spec.selector.matchLabels, sts.spec.template.metadata.labels)).toBe(true);
      const max = pdb.spec.maxUnavailable;
      if (typeof max === 'number') expect(max).toBe(1);
      else expect(Math.floor((parseInt(max, 10) / 100) * sts.spec.replicas)).toBeLessThanOrEqual(1);
    });

    it('spreads conductors across nodes: preferred, or required with hostNetwork', () => {
      const { pod, sts } = conductorOf(objects);
      const anti = pod.affinity.podAntiAffinity;
      const terms = values.hostNetwork
        ? anti.requiredDuringSchedulingIgnoredDuringExecution
        : [...(anti.requiredDuringSchedulingIgnoredDuringExecution ?? []), ...(anti.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((t: any) => t.podAffinityTerm)];
      expect(terms.length).toBeGreaterThan(0);
      expect(terms.some((t: any) => t.topologyKey === 'kubernetes.io/hostname' && selects(t.labelSelector.matchLabels, sts.spec.template.metadata.labels))).toBe(true);
    });

    it('runs no container as root, with a read-only root filesystem and no privileges', () => {
      for (const { owner, spec } of podSpecs(objects)) {
        const psc = spec.securityContext ?? {};
        expect({ owner: owner.metadata.name, hostPath: (spec.volumes ?? []).filter((v: any) => v.hostPath) }).toEqual({ owner: owner.metadata.name, hostPath: [] });
        for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
          const sc = c.securityContext ?? {};
          const who = `${owner.kind}/${owner.metadata.name}/${c.name}`;
          const uid = sc.runAsUser ?? psc.runAsUser;
          expect({ who, runAsNonRoot: sc.runAsNonRoot ?? psc.runAsNonRoot, uidIsNonZeroNumber: Number.isInteger(uid) && uid > 0 }).toEqual({
            who,
            runAsNonRoot: true,
            uidIsNonZeroNumber: true,
          });
          expect({ who, readOnlyRootFilesystem: sc.readOnlyRootFilesystem, allowPrivilegeEscalation: sc.allowPrivilegeEscalation, drop: sc.capabilities?.drop, privileged: sc.privileged ?? false }).toEqual({
            who,
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            drop: ['ALL'],
            privileged: false,
          });
          expect({ who, seccomp: (sc.seccompProfile ?? psc.seccompProfile)?.type }).toEqual({ who, seccomp: 'RuntimeDefault' });
        }
        expect({ owner: owner.metadata.name, automount: spec.automountServiceAccountToken }).toEqual({ owner: owner.metadata.name, automount: false });
      }
    });

    it('keeps pid, lease and password files on an in-memory emptyDir and gives /tmp a volume', () => {
      const { pod, container } = conductorOf(objects);
      const env = conductorEnv(objects);
      const mounts: { name: string; mountPath: string }[] = container.volumeMounts;
      const mountOf = (path: string) => mounts.filter((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`)).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
      const pidMount = mountOf(env.SOLGATE_TERMINAL_PID_DIR);
      const pidVolume = pod.volumes.find((v: any) => v.name === pidMount?.name);
      expect(pidVolume?.emptyDir?.medium).toBe('Memory');
      expect(pod.volumes.find((v: any) => v.name === mountOf('/tmp')?.name)?.emptyDir).toBeDefined();
      const sa = findObject(objects, 'ServiceAccount', 'conductor');
      expect(sa.automountServiceAccountToken).toBe(false);
    });

    it('writes full console logs where SOLGATE_CONSOLE_LOG_DIR points: a volume per replica (claim template), or an emptyDir without persistence', () => {
      const { sts, pod, container } = conductorOf(objects);
      const env = conductorEnv(objects);
      expect(env.SOLGATE_CONSOLE_LOG_DIR).toBeTruthy();
      const dir = env.SOLGATE_CONSOLE_LOG_DIR!;
      const mount = (container.volumeMounts as { name: string; mountPath: string }[])
        .filter((m) => dir === m.mountPath || dir.startsWith(`${m.mountPath}/`))
        .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
      expect(mount).toBeDefined();
      const claim = (sts.spec.volumeClaimTemplates ?? []).find((t: any) => t.metadata.name === mount!.name);
      const volume = (pod.volumes ?? []).find((v: any) => v.name === mount!.name);
      if (claim) {
        expect(volume).toBeUndefined(); // the claim template is the volume: one per pod
        expect(claim.spec.accessModes).toEqual(['ReadWriteOnce']);
        expect(claim.spec.resources.requests.storage).toMatch(/^\d+(Mi|Gi|Ti)$/);
      } else expect(volume?.emptyDir).toBeDefined();
      expect(Number(env.SOLGATE_CONSOLE_LOG_FILE_BYTES)).toBeGreaterThan(0);
      expect(Number(env.SOLGATE_CONSOLE_LOG_FILE_COUNT)).toBeGreaterThan(0);
    });

    it('serves the API through a Service on port 6385 (or the configured one) to the conductors', () => {
      const { sts } = conductorOf(objects);
      const api = objectsOfKind(objects, 'Service').find((s) => s.metadata.labels?.['solgate.io/service'] === 'api')!;
      expect(api.spec.ports).toEqual([expect.objectContaining({ name: 'api', targetPort: 'api' })]);
      expect(selects(api.spec.selector, sts.spec.template.metadata.labels)).toBe(true);
      if (file === 'ci/default-values.yaml') expect({ type: api.spec.type, port: api.spec.ports[0].port }).toEqual({ type: 'ClusterIP', port: 6385 });
    });

    it('admits the console port range only from the serial proxy (NetworkPolicy), unless hostNetwork', () => {
      if (values.hostNetwork) {
        expect(values.networkPolicy).toBe(false);
        return;
      }
      const config = loadConfig(conductorEnv(objects));
      const { sts } = conductorOf(objects);
      const np = objectsOfKind(objects, 'NetworkPolicy').find((n) => selects(n.spec.podSelector.matchLabels, sts.spec.template.metadata.labels))!;
      expect(np.spec.policyTypes).toEqual(['Ingress']);
      const consoleRule = np.spec.ingress.find((r: any) => r.ports?.some((p: any) => p.port === config.portRange.start));
      expect(consoleRule.ports).toEqual([{ port: config.portRange.start, endPort: config.portRange.stop - 1, protocol: 'TCP' }]);
      expect(consoleRule.from.length).toBeGreaterThan(0);
      for (const peer of consoleRule.from) expect(peer.podSelector?.matchLabels ?? peer.ipBlock?.cidr).toBeTruthy();
      const apiRule = np.spec.ingress.find((r: any) => r.ports?.some((p: any) => p.port === config.apiPort));
      expect(apiRule).toBeDefined();
      // nothing else opens a port without a source restriction
      for (const r of np.spec.ingress) if (r !== apiRule) expect(r.from?.length ?? 0).toBeGreaterThan(0);
    });

    it('keeps passwords and tokens in Secrets, never in ConfigMaps or plain env values', () => {
      const { container } = conductorOf(objects);
      for (const cm of objectsOfKind(objects, 'ConfigMap')) {
        for (const [k, v] of Object.entries(cm.data ?? {})) {
          expect({ key: k, secretish: /PASSWORD|TOKEN|SECRET/i.test(k) || /\/\/[^/@\s]*:[^/@\s]+@/.test(String(v)) }).toEqual({ key: k, secretish: false });
        }
      }
      const byName = Object.fromEntries((container.env ?? []).map((e: any) => [e.name, e]));
      if (byName.SOLGATE_AUTH_TOKEN) expect(byName.SOLGATE_AUTH_TOKEN.valueFrom.secretKeyRef).toBeDefined();
      if (byName.REDIS_PASSWORD) expect(byName.REDIS_PASSWORD.valueFrom.secretKeyRef).toBeDefined();
      const url = byName.SOLGATE_REDIS_URL.value as string;
      // a password in the URL is only ever the $(REDIS_PASSWORD) reference
      const auth = /^[a-z-]+:\/\/([^@/]*)@/.exec(url)?.[1];
      if (auth !== undefined) expect(auth.replace(/^[^:]*:/, '')).toBe('$(REDIS_PASSWORD)');
      // a named existing Secret is used, not shadowed by a chart-made one
      for (const e of container.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (!ref) continue;
        const made = objects.find((o) => o.kind === 'Secret' && o.metadata.name === ref.name);
        if (made) expect(made.data?.[ref.key]).toBeDefined();
      }
    });

    it('mounts the console TLS Secret read-only where SOLGATE_CONSOLE_TLS_* point (consoleTls), or sets none', () => {
      const { pod, container } = conductorOf(objects);
      const env = conductorEnv(objects);
      const tlsVolume = pod.volumes.find((v: any) => v.name === 'console-tls');
      if (!env.SOLGATE_CONSOLE_TLS_CERT) {
        expect({ tlsVolume, key: env.SOLGATE_CONSOLE_TLS_KEY, ca: env.SOLGATE_CONSOLE_TLS_CA }).toEqual({ tlsVolume: undefined, key: undefined, ca: undefined });
        return;
      }
      const config = loadConfig(env);
      const mount = container.volumeMounts.find((m: any) => m.name === 'console-tls');
      expect(mount.readOnly).toBe(true);
      const files = [config.consoleTls!.certFile, config.consoleTls!.keyFile, ...(config.consoleTls!.caFile ? [config.consoleTls!.caFile] : [])];
      for (const f of files) expect(f.startsWith(`${mount.mountPath}/`)).toBe(true);
      // every file the conductor reads is an item of the Secret, readable by its group only (fsGroup)
      expect(tlsVolume.secret.items.map((i: any) => `${mount.mountPath}/${i.path}`).sort()).toEqual([...files].sort());
      expect(tlsVolume.secret.defaultMode & 0o007).toBe(0);
      expect(tlsVolume.secret.secretName).toBeTruthy();
    });

    it('deploys the bundled Redis only when no external Redis is configured', () => {
      const env = conductorEnv(objects);
      if (!values.bundledRedis) {
        expect(env.SOLGATE_REDIS_URL).not.toContain('-redis.metal.svc');
        return;
      }
      const redis = findObject(objects, 'StatefulSet', 'redis');
      const c = redis.spec.template.spec.containers[0];
      expect(c.image).toMatch(/\/redis:7[.\d]*(-\w+)?$/);
      expect(c.args.join('\n')).toContain('appendonly yes');
      const svc = objectsOfKind(objects, 'Service').find((s) => s.metadata.name === `${redis.metadata.name}`)!;
      expect(env.SOLGATE_REDIS_URL).toContain(`${svc.metadata.name}.metal.svc.cluster.local:${svc.spec.ports[0].port}/`);
      const persistent = (redis.spec.volumeClaimTemplates ?? []).some((t: any) => t.metadata.name === 'data');
      if (file === 'ci/default-values.yaml') expect(persistent).toBe(true);
      // the password reaches redis through a config file, not argv
      expect(c.args.join('\n')).not.toMatch(/--requirepass/);
    });

    it('has a helm test hook that calls GET /v1 through the API Service', () => {
      const tests = objectsOfKind(objects, 'Pod').filter((p) => p.metadata.annotations?.['helm.sh/hook'] === 'test');
      if (file === 'ci/ipv6-values.yaml') {
        expect(tests).toEqual([]); // disabled there on purpose
        return;
      }
      expect(tests).toHaveLength(1);
      const script = tests[0].spec.containers[0].args.join('\n');
      const api = objectsOfKind(objects, 'Service').find((s) => s.metadata.labels?.['solgate.io/service'] === 'api')!;
      expect(script).toContain(`http://${api.metadata.name}.metal.svc.cluster.local:${api.spec.ports[0].port}/v1`);
    });
  });

  it('monitoring: the ServiceMonitor scrapes the headless Service the PrometheusRule selects; the dashboard ConfigMap carries the JSON', () => {
    const objects = rendered.get('ci/monitoring-values.yaml')!;
    const sm = findObject(objects, 'ServiceMonitor');
    const headless = objectsOfKind(objects, 'Service').find((s) => s.spec.clusterIP === 'None' && s.metadata.labels?.['app.kubernetes.io/component'] === 'conductor')!;
    expect(selects(sm.spec.selector.matchLabels, headless.metadata.labels!)).toBe(true);
    expect(headless.spec.ports.map((p: any) => p.name)).toContain(sm.spec.endpoints[0].port);
    expect(sm.spec.endpoints[0].path).toBe('/metrics');
    const rule = findObject(objects, 'PrometheusRule');
    expect(rule.metadata.labels?.release).toBe('prometheus');
    const exprs = rule.spec.groups.flatMap((g: any) => g.rules.map((r: any) => r.expr)).join('\n');
    expect(exprs).toContain(`namespace="metal", service="${headless.metadata.name}"`);
    const dashboard = objectsOfKind(objects, 'ConfigMap').find((c) => c.metadata.labels?.grafana_dashboard === '1')!;
    expect(Object.keys(dashboard.data)).toEqual(['solgate.json']);
    expect(JSON.parse(dashboard.data['solgate.json']).panels.length).toBeGreaterThan(10);
  });

  it('renders durations as the conductor reads them, also fractions given with --set', async () => {
    const objects = await renderChart({ set: { 'conductor.killTimeout': 0.5, 'conductor.heartbeatInterval': '0.25', 'conductor.terminalTimeout': 3600 } });
    const env = conductorEnv(objects);
    expect([env.SOLGATE_KILL_TIMEOUT, env.SOLGATE_HEARTBEAT_INTERVAL, env.SOLGATE_TERMINAL_TIMEOUT]).toEqual(['0.5', '0.25', '3600']);
    const config = loadConfig(env);
    expect([config.killTimeoutMs, config.heartbeatIntervalMs, config.terminalTimeoutS]).toEqual([500, 250, 3600]);
  });

  describe('rejects bad values with a clear message', () => {
    it('a wrong type: --set replicaCount=three', async () => {
      const stderr = await helmFails({ set: { replicaCount: 'three' } });
      expect(stderr).toMatch(/replicaCount/);
      expect(stderr).toMatch(/want integer|Expected: integer|integer/);
    });

    it('a misspelt value name', async () => {
      const stderr = await helmFails({ set: { replicaCout: 3 } });
      expect(stderr).toMatch(/replicaCout/);
    });

    it.each<[string, Record<string, string | number | boolean>, RegExp]>([
      ['bundled Redis and an external URL', { 'externalRedis.url': 'redis://redis.example.net:6379' }, /redis\.enabled[\s\S]*Choose one/],
      ['bundled Redis and Sentinel', { 'externalRedis.sentinel.enabled': true, 'externalRedis.sentinel.masterName': 'm', 'externalRedis.sentinel.hosts[0]': 'h:26379' }, /Choose one/],
      ['no Redis at all', { 'redis.enabled': false }, /No Redis/],
      ['Sentinel without a master name', { 'redis.enabled': false, 'externalRedis.sentinel.enabled': true, 'externalRedis.sentinel.hosts[0]': 'h:26379' }, /without a master name/],
      ['Sentinel without hosts', { 'redis.enabled': false, 'externalRedis.sentinel.enabled': true, 'externalRedis.sentinel.masterName': 'm' }, /without any Sentinel address/],
      ['a URL and Sentinel', { 'redis.enabled': false, 'externalRedis.url': 'redis://r:6379', 'externalRedis.sentinel.enabled': true, 'externalRedis.sentinel.masterName': 'm', 'externalRedis.sentinel.hosts[0]': 'h:26379' }, /not both/],
      ['a password inside the external URL', { 'redis.enabled': false, 'externalRedis.url': 'redis://:hunter2@r:6379' }, /contains a password/],
      ['a token and an existing token Secret', { 'auth.token': 't', 'auth.existingSecret': 's' }, /auth\.token and auth\.existingSecret/],
      ['a token with auth disabled', { 'auth.enabled': false, 'auth.token': 't' }, /auth\.enabled is false/],
      ['a Redis password that breaks the URL', { 'redis.auth.password': 'p@ss/word' }, /URL-safe/],
      ['hostNetwork with a NetworkPolicy', { hostNetwork: true }, /NetworkPolicies do not apply/],
      ['hostNetwork with a soft custom affinity', { hostNetwork: true, 'networkPolicy.enabled': false, 'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key': 'k', 'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator': 'Exists' }, /podAntiAffinity\.requiredDuringScheduling/],
      ['a grace period shorter than the handover', { terminationGracePeriodSeconds: 10 }, /too short for a graceful handover[\s\S]*= 16s/],
      ['a grace period that ignores a longer kill timeout', { 'conductor.killTimeout': 30 }, /at least[\s\S]*= 45s/],
      ['the API port inside the console range', { 'conductor.apiPort': 12000 }, /API port 12000 is inside the console port range/],
      ['an empty console range', { 'conductor.portRange.start': 20000, 'conductor.portRange.stop': 20000 }, /must be lower than stop/],
      ['a heartbeat timeout under two intervals', { 'conductor.heartbeatTimeout': 1.5 }, /at least twice heartbeatInterval/],
      ['console TLS without a Secret', { 'consoleTls.enabled': true }, /consoleTls\.existingSecret/],
      ['client certificates without TLS', { 'consoleTls.clientCA': true }, /consoleTls\.clientCA needs consoleTls\.enabled/],
      ['no source admitted to the consoles', { 'networkPolicy.serialProxy.from': 'null' }, /admit nobody to the console ports/],
    ])('contradictory values: %s', async (_what, set, message) => {
      const stderr = await helmFails({ set });
      expect(stderr).toContain('VALUES VALIDATION');
      expect(stderr).toMatch(message);
    });

    it('lists every problem at once', async () => {
      const stderr = await helmFails({ set: { 'redis.enabled': false, 'auth.token': 't', 'auth.existingSecret': 's', terminationGracePeriodSeconds: 5 } });
      expect(stderr).toMatch(/No Redis[\s\S]*auth\.token and auth\.existingSecret[\s\S]*too short/);
    });
  });

  it('documents every value with ## @param, and README.md has the current parameter tables', async () => {
    const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, [join(REPO_ROOT, 'deploy/helm/readme-params.mjs'), '--check'], (err, _out, stderr) =>
        resolve({ code: err ? 1 : 0, stderr }),
      ),
    );
    expect(r).toEqual({ code: 0, stderr: '' });
  });
});
