import { randomBytes, randomUUID } from 'node:crypto';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const newUuid = (): string => randomUUID();

/** Canonical lower-case UUID (Ironic accepts any case and stores lower case). */
export function isUuid(value: string): boolean {
  return UUID_RE.test(value.toLowerCase());
}

/** Short random id for process incarnations and request ids. */
export const newIncarnation = (): string => randomBytes(6).toString('hex');
