import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findObject, renderChart, REPO_ROOT } from '../../deploy/helm.js';

const execFileP = promisify(execFile);

/** The lines of a section that decide routing, authorization and rewriting (addresses and discovery aside). */
function routingLines(cfg: string, section: string): string[] {
  const lines = cfg.split('\n');
  const start = lines.findIndex((l) => l.trim() === section);
  if (start < 0) throw new Error(`no "${section}" section`);
  const out: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (l.trim() !== '' && !/^\s/.test(l)) break; // the next section
    const t = l.trim();
    if (t === '' || t.startsWith('#') || /^(bind|server|server-template) /.test(t)) continue;
    out.push(t.replace(/http-request lua\.ironic_authz \S+/, 'http-request lua.ironic_authz <ironic>'));
  }
  return out;
}

/**
 * The chart's HAProxy mode (haproxy.enabled) runs the same routing as deploy/haproxy/haproxy.cfg, which
 * ironic-haproxy.test.ts exercises with a real Ironic; this checks that the two do not drift apart and
 * that Debian's HAProxy accepts the chart's configuration.
 */
describe('the chart’s HAProxy in front of Ironic', () => {
  it('renders deploy/haproxy’s routing, the same Lua, and a configuration HAProxy accepts', async () => {
    const objects = await renderChart({ valuesFiles: ['ci/haproxy-values.yaml'] });
    const cm = findObject(objects, 'ConfigMap', 'haproxy');
    const cfg: string = cm.data['haproxy.cfg'];
    const shipped = readFileSync(join(REPO_ROOT, 'deploy/haproxy/haproxy.cfg'), 'utf8');
    for (const section of ['frontend ironic_api', 'backend ironic', 'backend solgate']) expect(routingLines(cfg, section)).toEqual(routingLines(shipped, section));
    expect(cm.data['ironic-authz.lua']).toBe(readFileSync(join(REPO_ROOT, 'deploy/haproxy/ironic-authz.lua'), 'utf8'));
    expect(cfg).toMatch(/server-template conductor 5 solgate-headless\.metal\.svc\.cluster\.local:6385 resolvers kubernetes/);
    expect(cfg).toContain('http-request lua.ironic_authz http://ironic-api.openstack.svc.cluster.local:6385');

    const deployment = findObject(objects, 'Deployment', 'haproxy');
    const pod = deployment.spec.template.spec;
    expect(pod.containers[0].env).toEqual([{ name: 'SOLGATE_AUTH_TOKEN', valueFrom: { secretKeyRef: { name: 'solgate-auth', key: 'api-token' } } }]);
    expect(deployment.spec.template.metadata.labels['solgate-client']).toBe('true');
    expect(findObject(objects, 'Service', 'haproxy').spec.ports[0]).toMatchObject({ port: 6385, targetPort: 'ironic-api' });

    // Debian's HAProxy accepts it as rendered (the Lua file from the ConfigMap beside it)
    const dir = mkdtempSync(join(tmpdir(), 'solgate-haproxy-chart-'));
    try {
      writeFileSync(join(dir, 'ironic-authz.lua'), cm.data['ironic-authz.lua']);
      writeFileSync(join(dir, 'haproxy.cfg'), cfg.replace('/usr/local/etc/haproxy/ironic-authz.lua', join(dir, 'ironic-authz.lua')));
      const r = await execFileP('haproxy', ['-c', '-f', join(dir, 'haproxy.cfg')], { env: { PATH: process.env.PATH ?? '', SOLGATE_AUTH_TOKEN: 't' } }).catch((e) => e);
      expect(`${r.stdout}${r.stderr}`).toContain('Configuration file is valid');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses haproxy.enabled without Ironic’s URL', async () => {
    await expect(renderChart({ set: { 'haproxy.enabled': true } })).rejects.toThrow(/haproxy.enabled needs haproxy.ironicUrl/);
  });
});
