import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { HttpClient, openstackErrorMessage, safeUrl } from './http.js';
import { IronicSyncError } from './errors.js';

/**
 * OpenStack credentials from clouds.yaml and Keystone v3 authentication, for `solgate ironic sync
 * --os-cloud NAME` and the conductor's periodic sync.
 *
 * Written here rather than taken from npm: no maintained Node package reads clouds.yaml or does
 * Keystone v3 auth (pkgcloud, the only broad one, is unmaintained and pulls in `request`); what the
 * sync needs is one POST /v3/auth/tokens, the service catalog, and token renewal — about a hundred
 * lines over node:https.
 */

/** One cloud's entry of clouds.yaml (with secure.yaml merged in): the keys openstacksdk uses that we support. */
export interface CloudConfig {
  name: string;
  auth_type?: string;
  auth: {
    auth_url?: string;
    username?: string;
    user_id?: string;
    password?: string;
    user_domain_name?: string;
    user_domain_id?: string;
    project_name?: string;
    project_id?: string;
    project_domain_name?: string;
    project_domain_id?: string;
    domain_name?: string;
    domain_id?: string;
    system_scope?: string;
    token?: string;
    application_credential_id?: string;
    application_credential_name?: string;
    application_credential_secret?: string;
  };
  region_name?: string;
  interface?: string;
  baremetal_interface?: string;
  baremetal_endpoint_override?: string;
  cacert?: string;
  verify?: boolean;
}

/**
 * Where openstacksdk looks for clouds.yaml (the first that exists wins): $OS_CLIENT_CONFIG_FILE,
 * ./clouds.yaml, ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml; secure.yaml (secrets
 * kept apart) in the same places, or $OS_CLIENT_SECURE_FILE.
 */
export function cloudFileCandidates(env: { OS_CLIENT_CONFIG_FILE?: string; OS_CLIENT_SECURE_FILE?: string; HOME?: string }, cwd: string): { clouds: string[]; secure: string[] } {
  const dirs = [cwd, ...(env.HOME ? [join(env.HOME, '.config', 'openstack')] : []), '/etc/openstack'];
  return {
    clouds: [...(env.OS_CLIENT_CONFIG_FILE ? [env.OS_CLIENT_CONFIG_FILE] : []), ...dirs.map((d) => join(d, 'clouds.yaml'))],
    secure: [...(env.OS_CLIENT_SECURE_FILE ? [env.OS_CLIENT_SECURE_FILE] : []), ...dirs.map((d) => join(d, 'secure.yaml'))],
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isObject(v) && isObject(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  return out;
}

function readCloudsFile(path: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new IronicSyncError('CONFIG', `cannot read ${path}: ${(e as Error).message.split('\n')[0]}`);
  }
  const clouds = isObject(doc) ? doc.clouds : undefined;
  if (!isObject(clouds)) throw new IronicSyncError('CONFIG', `${path} has no "clouds:" map`);
  return clouds;
}

/** The named cloud from the first clouds.yaml found (secure.yaml merged over it). */
export function loadCloudConfig(name: string, files: { clouds: string[]; secure: string[] }): CloudConfig & { file: string } {
  const file = files.clouds.find((f) => existsSync(f));
  if (!file) throw new IronicSyncError('CONFIG', `no clouds.yaml found (looked in ${files.clouds.join(', ')})`);
  const clouds = readCloudsFile(file);
  let entry = clouds[name];
  if (!isObject(entry)) throw new IronicSyncError('CONFIG', `cloud ${JSON.stringify(name)} is not in ${file} (it has: ${Object.keys(clouds).join(', ') || 'none'})`);
  const secureFile = files.secure.find((f) => existsSync(f));
  if (secureFile) {
    const secure = readCloudsFile(secureFile)[name];
    if (isObject(secure)) entry = deepMerge(entry, secure);
  }
  const cfg = entry as Record<string, unknown>;
  if (cfg.profile !== undefined) throw new IronicSyncError('CONFIG', `cloud ${name}: "profile" (vendor profiles) is not supported; spell the settings out`);
  const auth = isObject(cfg.auth) ? cfg.auth : {};
  const str = (v: unknown) => (v === undefined || v === null ? undefined : String(v));
  const authOut: CloudConfig['auth'] = {};
  for (const k of [
    'auth_url', 'username', 'user_id', 'password', 'user_domain_name', 'user_domain_id', 'project_name', 'project_id', 'project_domain_name',
    'project_domain_id', 'domain_name', 'domain_id', 'system_scope', 'token', 'application_credential_id', 'application_credential_name',
    'application_credential_secret',
  ] as const)
    authOut[k] = str(auth[k]);
  return {
    name,
    file,
    auth_type: str(cfg.auth_type),
    auth: authOut,
    region_name: str(cfg.region_name),
    interface: str(cfg.interface),
    baremetal_interface: str(cfg.baremetal_interface),
    baremetal_endpoint_override: str(cfg.baremetal_endpoint_override),
    cacert: str(cfg.cacert),
    verify: cfg.verify === undefined ? undefined : cfg.verify !== false && cfg.verify !== 'false',
  };
}

/** A source of the X-Auth-Token for Ironic calls. */
export interface IronicAuth {
  /** The token to send (undefined: send none, e.g. a noauth Ironic). */
  token(): Promise<string | undefined>;
  /** The token was refused (401): forget it so the next call authenticates again. */
  invalidate(): void;
  /** Ironic's endpoint from the service catalog, when this auth has one. */
  baremetalEndpoint?(): Promise<string | undefined>;
  readonly describe: string;
}

/** A fixed token (`--token`, SOLGATE_IRONIC_TOKEN) or none. */
export class StaticTokenAuth implements IronicAuth {
  constructor(private readonly value: string | undefined) {}
  get describe() {
    return this.value ? 'a token' : 'no authentication';
  }
  async token() {
    return this.value;
  }
  invalidate() {
    /* nothing to renew */
  }
}

interface CatalogEntry {
  type: string;
  endpoints: { interface: string; region?: string; region_id?: string; url: string }[];
}

/**
 * Keystone v3 authentication for one cloud: password, application credential or token methods,
 * scoped to a project, a domain or the system. The token is renewed a minute before it expires or
 * after Ironic refuses it.
 */
export class KeystoneAuth implements IronicAuth {
  private current: { token: string; expiresAtMs: number; catalog: CatalogEntry[] } | undefined;
  private pending: Promise<{ token: string; catalog: CatalogEntry[] }> | undefined;

  constructor(
    readonly cloud: CloudConfig,
    private readonly http: HttpClient,
    private readonly now: () => number = Date.now,
  ) {
    if (!cloud.auth.auth_url) throw new IronicSyncError('CONFIG', `cloud ${cloud.name}: auth.auth_url is missing`);
    const type = cloud.auth_type ?? 'password';
    if (!['password', 'v3password', 'v3applicationcredential', 'token', 'v3token'].includes(type))
      throw new IronicSyncError('CONFIG', `cloud ${cloud.name}: auth_type ${type} is not supported (password, v3applicationcredential or token)`);
  }

  get describe() {
    return `Keystone (cloud ${this.cloud.name})`;
  }

  /** auth_url with /v3 (openstacksdk accepts it with or without the version). */
  get identityUrl(): string {
    const base = this.cloud.auth.auth_url!.replace(/\/+$/, '');
    return /\/v3$/.test(base) ? base : `${base}/v3`;
  }

  /** The JSON body of POST /v3/auth/tokens (contains the secret: never logged). */
  authRequest(): Record<string, unknown> {
    const a = this.cloud.auth;
    const type = this.cloud.auth_type ?? 'password';
    const domain = (name?: string, id?: string) => (id ? { id } : name ? { name } : undefined);
    let identity: Record<string, unknown>;
    if (type === 'v3applicationcredential') {
      if (!a.application_credential_secret) throw new IronicSyncError('CONFIG', `cloud ${this.cloud.name}: application_credential_secret is missing`);
      const cred: Record<string, unknown> = { secret: a.application_credential_secret };
      if (a.application_credential_id) cred.id = a.application_credential_id;
      else if (a.application_credential_name && (a.user_id || a.username))
        cred.name = a.application_credential_name;
      else throw new IronicSyncError('CONFIG', `cloud ${this.cloud.name}: application_credential_id (or _name with a user) is missing`);
      if (cred.name) cred.user = a.user_id ? { id: a.user_id } : { name: a.username, domain: domain(a.user_domain_name ?? a.domain_name, a.user_domain_id ?? a.domain_id) ?? { id: 'default' } };
      // an application credential carries its own scope
      return { auth: { identity: { methods: ['application_credential'], application_credential: cred } } };
    }
    if (type === 'token' || type === 'v3token') {
      if (!a.token) throw new IronicSyncError('CONFIG', `cloud ${this.cloud.name}: auth.token is missing`);
      identity = { methods: ['token'], token: { id: a.token } };
    } else {
      if (!a.password) throw new IronicSyncError('CONFIG', `cloud ${this.cloud.name}: auth.password is missing (clouds.yaml or secure.yaml)`);
      if (!a.user_id && !a.username) throw new IronicSyncError('CONFIG', `cloud ${this.cloud.name}: auth.username (or user_id) is missing`);
      const user = a.user_id
        ? { id: a.user_id, password: a.password }
        : { name: a.username, domain: domain(a.user_domain_name ?? a.domain_name, a.user_domain_id ?? a.domain_id) ?? { id: 'default' }, password: a.password };
      identity = { methods: ['password'], password: { user } };
    }
    let scope: Record<string, unknown> | undefined;
    if (a.system_scope) scope = { system: { [a.system_scope]: true } };
    else if (a.project_id) scope = { project: { id: a.project_id } };
    else if (a.project_name)
      scope = { project: { name: a.project_name, domain: domain(a.project_domain_name ?? a.domain_name, a.project_domain_id ?? a.domain_id) ?? { id: 'default' } } };
    else if (a.domain_id || a.domain_name) scope = { domain: domain(a.domain_name, a.domain_id) };
    return { auth: { identity, ...(scope ? { scope } : {}) } };
  }

  private async authenticate(): Promise<{ token: string; catalog: CatalogEntry[] }> {
    const url = `${this.identityUrl}/auth/tokens`;
    const res = await this.http.request('POST', url, { body: this.authRequest() });
    if (res.status !== 201 && res.status !== 200)
      throw new IronicSyncError(res.status === 401 ? 'AUTH' : 'IRONIC', `Keystone refused the credentials of cloud ${this.cloud.name} (${safeUrl(url)}: ${res.status} ${openstackErrorMessage(res)})`);
    const header = res.headers['x-subject-token'];
    const token = Array.isArray(header) ? header[0] : header;
    if (!token) throw new IronicSyncError('IRONIC', `Keystone answered ${safeUrl(url)} without an X-Subject-Token`);
    const body = (res.json ?? {}) as { token?: { expires_at?: string; catalog?: CatalogEntry[] } };
    const expires = body.token?.expires_at ? Date.parse(body.token.expires_at) : NaN;
    const catalog = body.token?.catalog ?? [];
    this.current = { token, expiresAtMs: Number.isFinite(expires) ? expires : this.now() + 3600_000, catalog };
    return { token, catalog };
  }

  private async session(): Promise<{ token: string; catalog: CatalogEntry[] }> {
    if (this.current && this.current.expiresAtMs - 60_000 > this.now()) return this.current;
    // one authentication at a time, shared by concurrent callers
    this.pending ??= this.authenticate().finally(() => (this.pending = undefined));
    return this.pending;
  }

  async token(): Promise<string> {
    return (await this.session()).token;
  }

  invalidate(): void {
    this.current = undefined;
  }

  /** baremetal_endpoint_override, else the catalog's `baremetal` endpoint for the cloud's interface and region. */
  async baremetalEndpoint(): Promise<string | undefined> {
    if (this.cloud.baremetal_endpoint_override) return this.cloud.baremetal_endpoint_override;
    const { catalog } = await this.session();
    const iface = (this.cloud.baremetal_interface ?? this.cloud.interface ?? 'public').replace(/URL$/, '');
    const service = catalog.find((s) => s.type === 'baremetal');
    const ep = service?.endpoints.find((e) => e.interface === iface && (!this.cloud.region_name || (e.region_id ?? e.region) === this.cloud.region_name));
    return ep?.url;
  }
}
