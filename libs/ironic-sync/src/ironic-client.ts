import { IronicSyncError } from './errors.js';
import { HttpClient, openstackErrorMessage, safeUrl, type HttpResponse } from './http.js';
import type { IronicAuth } from './keystone.js';

/** A node as Ironic lists it with the fields the sync asks for (absent ones are those the microversion lacks). */
export interface IronicNode {
  uuid: string;
  name?: string | null;
  driver?: string;
  driver_info?: Record<string, unknown> | null;
  conductor_group?: string | null;
  console_interface?: string | null;
  console_enabled?: boolean;
  instance_uuid?: string | null;
  maintenance?: boolean;
  maintenance_reason?: string | null;
  provision_state?: string | null;
  resource_class?: string | null;
  owner?: string | null;
  lessee?: string | null;
  traits?: string[] | null;
  shard?: string | null;
}

/** The newest version we know (Ironic 21.4's maximum, with shard); 1.46 is the oldest with conductor_group. */
export const PREFERRED_VERSION = '1.82';
export const MINIMUM_VERSION = '1.46';

/** Node fields the sync reads, with the microversion that introduced each. */
const FIELD_VERSIONS: [string, string][] = [
  ['uuid', '1.1'],
  ['name', '1.5'],
  ['driver', '1.1'],
  ['driver_info', '1.1'],
  ['console_enabled', '1.1'],
  ['instance_uuid', '1.1'],
  ['maintenance', '1.1'],
  ['maintenance_reason', '1.1'],
  ['provision_state', '1.1'],
  ['resource_class', '1.21'],
  ['console_interface', '1.31'],
  ['conductor_group', '1.46'],
  ['owner', '1.50'],
  ['lessee', '1.65'],
  ['traits', '1.37'],
  ['shard', '1.82'],
];

export function compareVersions(a: string, b: string): number {
  const [a1, a2] = a.split('.').map(Number);
  const [b1, b2] = b.split('.').map(Number);
  return a1 - b1 || a2 - b2;
}

const VERSION_RE = /^\d+\.\d+$/;

/** Ironic's base URL as given (http://host:6385, …/baremetal, with or without /v1), without /v1 and trailing slashes. */
export function ironicBaseUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new IronicSyncError('CONFIG', `--url ${JSON.stringify(url)} is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new IronicSyncError('CONFIG', `Ironic's URL must be http:// or https://, not ${u.protocol}`);
  if (u.username || u.password) throw new IronicSyncError('CONFIG', "Ironic's URL must not carry credentials: use --token or --os-cloud");
  u.search = '';
  u.hash = '';
  return u.toString().replace(/\/+$/, '').replace(/\/v1$/, '');
}

/**
 * The few calls of Ironic's API the sync makes: version negotiation on GET /v1 and the node list,
 * page by page (`limit`, then the `marker` of the `next` link), with `fields` so Ironic sends only
 * what the sync mirrors. A refused token is renewed once (Keystone) before the call fails.
 */
export class IronicClient {
  readonly baseUrl: string;
  version: string | undefined;

  constructor(
    url: string,
    private readonly auth: IronicAuth,
    private readonly http: HttpClient,
  ) {
    this.baseUrl = ironicBaseUrl(url);
  }

  private async call(path: string, { versioned = true } = {}): Promise<HttpResponse> {
    const url = `${this.baseUrl}${path}`;
    for (let attempt = 0; ; attempt++) {
      const token = await this.auth.token();
      const headers: Record<string, string> = {};
      if (token) headers['X-Auth-Token'] = token;
      if (versioned && this.version) headers['X-OpenStack-Ironic-API-Version'] = this.version;
      const res = await this.http.request('GET', url, { headers }).catch((e: Error) => {
        throw new IronicSyncError('IRONIC', `cannot reach Ironic: ${e.message}`);
      });
      if (res.status === 401 && attempt === 0 && token) {
        this.auth.invalidate();
        continue;
      }
      if (res.status === 401 || res.status === 403)
        throw new IronicSyncError('AUTH', `Ironic refused ${this.auth.describe} (${res.status} on GET ${safeUrl(url)}: ${openstackErrorMessage(res)})`);
      if (res.status !== 200) throw new IronicSyncError('IRONIC', `Ironic answered ${res.status} on GET ${safeUrl(url)}: ${openstackErrorMessage(res)}`);
      return res;
    }
  }

  /** Pick min(PREFERRED_VERSION, Ironic's maximum); Ironic older than 1.46 is refused. */
  async negotiate(): Promise<string> {
    const res = await this.call('/v1', { versioned: false });
    const max = res.headers['x-openstack-ironic-api-maximum-version'];
    const maxVersion = (Array.isArray(max) ? max[0] : max) ?? (res.json as { version?: { version?: string } })?.version?.version;
    if (typeof maxVersion !== 'string' || !VERSION_RE.test(maxVersion))
      throw new IronicSyncError('IRONIC', `${safeUrl(this.baseUrl + '/v1')} does not look like Ironic's API (no X-OpenStack-Ironic-API-Maximum-Version)`);
    if (compareVersions(maxVersion, MINIMUM_VERSION) < 0)
      throw new IronicSyncError('IRONIC', `Ironic's API maximum version is ${maxVersion}; the sync needs ${MINIMUM_VERSION} or newer (conductor groups)`);
    this.version = compareVersions(maxVersion, PREFERRED_VERSION) < 0 ? maxVersion : PREFERRED_VERSION;
    return this.version;
  }

  fields(): string[] {
    const v = this.version ?? MINIMUM_VERSION;
    return FIELD_VERSIONS.filter(([, since]) => compareVersions(v, since) >= 0).map(([f]) => f);
  }

  /** Every node, paged. `onPage` sees each page as it arrives (progress). */
  async listNodes({ pageSize = 500, onPage }: { pageSize?: number; onPage?: (nodes: IronicNode[]) => void } = {}): Promise<IronicNode[]> {
    if (!this.version) await this.negotiate();
    const out: IronicNode[] = [];
    const seen = new Set<string>();
    let marker: string | undefined;
    for (;;) {
      const q = new URLSearchParams({ fields: this.fields().join(','), limit: String(pageSize) });
      if (marker) q.set('marker', marker);
      const res = await this.call(`/v1/nodes?${q}`);
      const body = res.json as { nodes?: IronicNode[]; next?: string } | undefined;
      if (!body || !Array.isArray(body.nodes)) throw new IronicSyncError('IRONIC', `Ironic's node list has no "nodes" array`);
      for (const n of body.nodes) {
        if (typeof n?.uuid !== 'string') throw new IronicSyncError('IRONIC', "Ironic listed a node without a uuid");
        if (!seen.has(n.uuid)) out.push(n);
        seen.add(n.uuid);
      }
      onPage?.(body.nodes);
      const next = body.next ? new URL(body.next, this.baseUrl).searchParams.get('marker') : null;
      if (!next || body.nodes.length === 0) return out;
      if (next === marker) throw new IronicSyncError('IRONIC', `Ironic's node list repeats marker ${next}`);
      marker = next;
    }
  }
}
