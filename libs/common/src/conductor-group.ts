/**
 * Conductor groups, as in Ironic: case-insensitive names of at most 255 characters from
 * A-Z a-z 0-9 _ . -, "" being the default group. A node's `conductor_group` and a conductor's
 * SOLGATE_CONDUCTOR_GROUP must compare equal for the node to map onto that conductor, so every
 * place that accepts a group (node validation, the conductor's config, the CLI's selectors) stores
 * and compares it through `normalizeGroup` — one rule, so they cannot drift apart again.
 */
export const CONDUCTOR_GROUP_RE = /^[A-Za-z0-9_.-]{0,255}$/;

/** The rule in words, for error messages. */
export const CONDUCTOR_GROUP_RULE = 'at most 255 characters from A-Z a-z 0-9 _ . - (case-insensitive)';

/** Whether `value` is a valid conductor group name (any case). */
export function isValidGroup(value: string): boolean {
  return CONDUCTOR_GROUP_RE.test(value);
}

/**
 * The group's canonical form: lower case. Also safe on selector globs (`Rack*` → `rack*`), which
 * is why validity is checked apart, by `isValidGroup`.
 */
export function normalizeGroup(value: string): string {
  return value.toLowerCase();
}
