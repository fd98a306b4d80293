/**
 * Ironic's microversions. We advertise the same range as the Ironic we were measured against
 * (1.1–1.82): python-ironicclient asks for 1.78 and must not get a 406.
 */
export const MIN_VERSION = '1.1';
export const MAX_VERSION = '1.82';

export interface ApiVersion {
  major: number;
  minor: number;
}

export const parseVersion = (v: string): ApiVersion | undefined => {
  const m = /^(\d+)\.(\d+)$/.exec(v.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
};

const MIN = parseVersion(MIN_VERSION)!;
const MAX = parseVersion(MAX_VERSION)!;

export const versionString = (v: ApiVersion) => `${v.major}.${v.minor}`;

/** a >= b */
export function atLeast(a: ApiVersion, b: string): boolean {
  const bb = parseVersion(b)!;
  return a.major > bb.major || (a.major === bb.major && a.minor >= bb.minor);
}

export type Negotiation = { ok: true; version: ApiVersion } | { ok: false; kind: 'invalid' | 'unsupported'; requested: string };

/** No header means 1.1; `latest` means the maximum; anything outside the range is refused (406). */
export function negotiate(header: string | undefined): Negotiation {
  if (header === undefined || header.trim() === '') return { ok: true, version: MIN };
  const h = header.trim();
  if (h.toLowerCase() === 'latest') return { ok: true, version: MAX };
  const v = parseVersion(h);
  if (!v) return { ok: false, kind: 'invalid', requested: h };
  if (!atLeast(v, MIN_VERSION) || !atLeast(MAX, versionString(v))) return { ok: false, kind: 'unsupported', requested: h };
  return { ok: true, version: v };
}

/**
 * Writable fields and the microversion that introduced them (older clients get 406 for them).
 * No prototype: a patch path like `/constructor` or `/__proto__` names no field here.
 */
export const NODE_FIELD_MIN_VERSION: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, {
  name: '1.5',
  resource_class: '1.21',
  console_interface: '1.31',
  traits: '1.37',
  conductor_group: '1.46',
  owner: '1.50',
  description: '1.51',
  lessee: '1.65',
  shard: '1.82',
});

/**
 * Ironic's reject_fields_in_newer_versions: a POST body may carry a field newer than the requested
 * version only with its empty value (null; '' for conductor_group). Returns the offending field.
 */
export function fieldTooNew(body: Record<string, unknown>, version: ApiVersion): string | undefined {
  for (const [field, min] of Object.entries(NODE_FIELD_MIN_VERSION)) {
    if (atLeast(version, min) || !(field in body)) continue;
    const value = body[field];
    if (value === null || (field === 'conductor_group' && value === '')) continue;
    return field;
  }
  return undefined;
}

/** Ironic's reject_patch_in_newer_versions: a patch that sets a field newer than the requested version. */
export function patchTooNew(ops: unknown[], version: ApiVersion): string | undefined {
  for (const op of ops) {
    if (!op || typeof op !== 'object') continue;
    const { path, op: verb } = op as { path?: unknown; op?: unknown };
    if (typeof path !== 'string' || verb === 'remove') continue;
    const top = path.split('/')[1] ?? '';
    const min = NODE_FIELD_MIN_VERSION[top];
    if (min && !atLeast(version, min)) return top;
  }
  return undefined;
}
