import { existsSync } from 'node:fs';
import { assertTrustedDirectory } from './trusted-path.js';

/**
 * Where the conductor's children look programs up (perl, socat, ipmitool, the session script's
 * `sleep`): the standard system directories only — sudo's `secure_path` — and of those only the
 * ones no other local user can write. Never the conductor's own PATH, which may hold `.`, a home
 * directory or a world-writable one.
 */
export const SECURE_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

let cached: Readonly<Record<string, string>> | undefined;

/**
 * The whole environment of every process a conductor starts (the launcher, socat, the session
 * script, ipmitool): PATH (see SECURE_PATH) and nothing else, so neither SOLGATE_AUTH_TOKEN nor the
 * Redis URL's password nor anything else of the conductor's environment reaches them.
 */
export function childProcessEnv(): Readonly<Record<string, string>> {
  if (cached) return cached;
  const dirs = SECURE_PATH.filter((d) => {
    if (!existsSync(d)) return false;
    try {
      assertTrustedDirectory(d, 'program directory');
      return true;
    } catch {
      return false; // left out: nothing is looked up where another user could plant it
    }
  });
  cached = Object.freeze({ PATH: dirs.join(':') });
  return cached;
}
