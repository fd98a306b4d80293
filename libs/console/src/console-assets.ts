import { join } from 'node:path';
import { packageRoot } from '#libs/common';
import { socatToken } from './argv.js';
import { assertTrustedDirectory, assertTrustedFile, UnsafePathError } from './trusted-path.js';

/** A file shipped in libs/console/assets (the launcher, the per-connection session script). */
export function consoleAsset(name: 'launcher.pl' | 'sol-session.sh' | 'console-relay.pl' | 'shellinabox-relay.pl'): string {
  return join(packageRoot(), 'libs', 'console', 'assets', name);
}

/**
 * Before the conductor runs anything: the code it executes as itself (and, on a console host,
 * usually as root) — the installation, node, the launcher and the session script socat runs for
 * every client — must be where no other local user can change it. Throws UnsafePathError naming
 * the path and the reason.
 */
export function verifyConsoleInstallation(): void {
  assertTrustedDirectory(packageRoot(), 'solgate installation');
  assertTrustedFile(process.execPath, 'node executable');
  assertTrustedFile(consoleAsset('launcher.pl'), 'console launcher');
  // run by socat and shellinaboxd for every client (the shellinabox relay execs console-relay.pl)
  assertTrustedFile(consoleAsset('console-relay.pl'), 'console relay');
  assertTrustedFile(consoleAsset('shellinabox-relay.pl'), 'shellinabox relay');
  const script = consoleAsset('sol-session.sh');
  assertTrustedFile(script, 'console session script');
  try {
    socatToken(script); // it is named in socat's EXEC address
  } catch {
    throw new UnsafePathError(`console session script: ${script} cannot be named in a socat address (blanks or quotes); install solgate under a plain path`);
  }
}
