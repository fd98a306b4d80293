/**
 * `table[key]` for a key that came from outside (a request body, a CLI argument, a CSV header):
 * only the table's own entries, never what its prototype has (`toString`, `constructor`,
 * `__proto__` would otherwise read as known names). The fuzzing found `driver: "toString"` accepted.
 */
export function ownEntry<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}
