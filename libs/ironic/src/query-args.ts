import { invalidInput } from '#libs/common';
import { parseIronicBoolean } from '#libs/nodes';

/**
 * Ironic's query-string validation (ironic/common/args.py with pecan's argument passing): every
 * parameter is known, typed and converted, or the request is a 400 with Ironic's message. Nothing
 * unvalidated reaches a repository.
 */
export type QueryArgSpec = 'string' | 'boolean' | 'uuid' | 'name' | 'integer' | 'string_list';

/** Python's repr of what pecan hands over for a repeated parameter (a list of strings). */
const pyRepr = (v: unknown): string => (Array.isArray(v) ? `[${v.map((x) => `'${String(x)}'`).join(', ')}]` : String(v));

/** oslo's is_uuid_like (any case, braces, urn:uuid:, with or without dashes), normalized to Ironic's form. */
export function normalizeUuidLike(value: string): string | undefined {
  const hex = value.replace(/^urn:/i, '').replace(/^uuid:/i, '').replace(/[{}-]/g, '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) return undefined;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Ironic's logical names (RFC 3986 unreserved characters). */
const LOGICAL_NAME_RE = /^[A-Za-z0-9\-._~]+$/;

function convert(name: string, kind: QueryArgSpec, value: unknown): unknown {
  if (typeof value !== 'string') throw invalidInput(`Expected string for ${name}: ${pyRepr(value)}`);
  switch (kind) {
    case 'string':
      return value;
    case 'boolean':
      return parseIronicBoolean(name, value);
    case 'uuid': {
      const uuid = normalizeUuidLike(value);
      if (!uuid) throw invalidInput(`Expected UUID for ${name}: ${value}`);
      return uuid;
    }
    case 'name':
      if (!LOGICAL_NAME_RE.test(value)) throw invalidInput(`Expected name for ${name}: ${value}`);
      return value;
    case 'integer': {
      // Python's int(): optional sign, digits with single underscores, surrounding blanks
      if (!/^\s*[+-]?\d+(_\d+)*\s*$/.test(value)) throw invalidInput(`Expected an integer for ${name}: ${value}`);
      return Number(value.replace(/_/g, ''));
    }
    case 'string_list': {
      const items: string[] = [];
      for (const part of value.split(',')) {
        const v = part.trim().toLowerCase();
        if (v && !items.includes(v)) items.push(v);
      }
      return items;
    }
  }
}

/**
 * Validate a parsed query string against a parameter list (in the handler's signature order, as
 * Ironic checks them). Unknown parameters: "Unexpected arguments: …".
 */
export function parseQueryArgs(raw: Record<string, unknown>, spec: Record<string, QueryArgSpec>): Record<string, unknown> {
  // own names only: `?constructor=x` or `?toString=x` is as unexpected as any unknown parameter
  const unexpected = Object.keys(raw).filter((k) => !Object.hasOwn(spec, k));
  if (unexpected.length > 0) throw invalidInput(`Unexpected arguments: ${unexpected.sort().join(', ')}`);
  const out: Record<string, unknown> = {};
  for (const [name, kind] of Object.entries(spec)) if (raw[name] !== undefined) out[name] = convert(name, kind, raw[name]);
  return out;
}
