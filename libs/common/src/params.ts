import { invalidInput } from './errors.js';

/**
 * An integer request parameter (query string, header) checked at the edge, before it can reach
 * Redis or arithmetic: decimal digits only (no `1e9`, `0x10`, blanks, signs unless min < 0), at most
 * 15 digits, within [min, max]; a repeated parameter (`?limit=1&limit=2` arrives as an array) is
 * refused. Undefined when absent. Throws INVALID_INPUT (400 in Ironic's body) naming the parameter.
 */
export function parseIntegerParam(name: string, raw: unknown, { min = 0, max = Number.MAX_SAFE_INTEGER }: { min?: number; max?: number } = {}): number | undefined {
  if (raw === undefined) return undefined;
  const text = typeof raw === 'string' ? raw : undefined;
  const ok = text !== undefined && (min < 0 ? /^-?\d{1,15}$/ : /^\d{1,15}$/).test(text);
  const n = ok ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw invalidInput(`Invalid ${name} ${JSON.stringify(typeof raw === 'string' ? raw.slice(0, 40) : raw)}: an integer between ${min} and ${max}.`);
  return n;
}
