import { isIP } from 'node:net';
import { invalidInput } from '#libs/common';
import { IPMI_USERNAME_RE, isValidHost, PRIV_LEVELS, type DriverInfo } from '#libs/nodes';

/**
 * The one place that builds command lines for socat and ipmitool. Pure functions: no I/O, no
 * shell. Every value is validated again here (defence in depth: the API validated it on write).
 */

/**
 * socat parses its address arguments itself: `,` `:` `!` quotes, brackets and backslashes are
 * syntax, and EXEC's command string is split again on blanks. We never let user data into an
 * address (ipmitool's arguments travel through a file, see sol-session.sh). What does enter one —
 * paths under the validated pid directory — must be plain; anything else is refused, and the
 * address syntax characters are escaped all the same.
 */
export function socatToken(value: string): string {
  if (value === '' || /[\s'"\0]/.test(value)) throw invalidInput(`refusing ${JSON.stringify(value)} in a socat address: blanks and quotes are not allowed`);
  return value.replace(/[\\,:!()[\]{}]/g, (c) => `\\${c}`);
}

export interface IpmitoolTarget {
  address: string;
  port?: number;
  username?: string;
  privLevel: string;
  cipherSuite?: number;
}

/** Validated connection parameters from driver_info (throws INVALID_INPUT naming the bad field). */
export function ipmitoolTarget(info: DriverInfo): IpmitoolTarget {
  const address = info.ipmi_address;
  if (typeof address !== 'string' || !isValidHost(address)) throw invalidInput(`Invalid ipmi_address ${JSON.stringify(address)}.`);
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const num = (v: unknown) => (v === undefined || v === null || v === '' ? undefined : Number(v));
  const port = num(info.ipmi_port);
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw invalidInput(`Invalid ipmi_port ${JSON.stringify(info.ipmi_port)}.`);
  const username = info.ipmi_username === undefined || info.ipmi_username === '' ? undefined : String(info.ipmi_username);
  if (username !== undefined && !IPMI_USERNAME_RE.test(username)) throw invalidInput(`Invalid ipmi_username ${JSON.stringify(username)}.`);
  const privLevel = String(info.ipmi_priv_level ?? 'ADMINISTRATOR').toUpperCase();
  if (!PRIV_LEVELS.includes(privLevel as never)) throw invalidInput(`Invalid ipmi_priv_level ${JSON.stringify(info.ipmi_priv_level)}.`);
  const cipherSuite = num(info.ipmi_cipher_suite);
  if (cipherSuite !== undefined && (!Number.isInteger(cipherSuite) || cipherSuite < 0 || cipherSuite > 17))
    throw invalidInput(`Invalid ipmi_cipher_suite ${JSON.stringify(info.ipmi_cipher_suite)}.`);
  return { address: isIP(bare) === 6 ? bare : address, port, username, privLevel, cipherSuite };
}

/**
 * ipmitool's connection arguments, without the subcommand (`sol activate`, `sol deactivate`,
 * `power status` are appended by the caller). The password is read from `passwordFile` (0600).
 */
export function buildIpmitoolArgv(target: IpmitoolTarget, passwordFile: string, ipmitool = 'ipmitool'): string[] {
  const argv = [ipmitool, '-I', 'lanplus', '-H', target.address, '-L', target.privLevel];
  if (target.port !== undefined) argv.push('-p', String(target.port));
  if (target.username !== undefined) argv.push('-U', target.username);
  if (target.cipherSuite !== undefined) argv.push('-C', String(target.cipherSuite));
  argv.push('-f', passwordFile);
  return argv;
}

/** What the password file holds: Ironic writes a single NUL byte for an empty password. */
export function passwordFileContent(password: string | undefined): string {
  return password === undefined || password === '' ? '\0' : password;
}

export interface SocatListenSpec {
  address: string;
  port: number;
  /** socat -L: written with socat's pid, refused if it exists; named after the node. */
  pidFile: string;
  /** socat -T: close a connection idle for this long; 0 = never. */
  terminalTimeoutS: number;
  /** Where socat connects each client: a command it runs (plain paths only, see socatToken) or a UNIX socket. */
  peer: SocatPeer;
}

/**
 * The password reaches ipmitool as an inherited file descriptor, never as a file that stays on disk:
 * the launcher writes it to a fresh file, unlinks it at once and hands it to socat as this fd, which
 * socat's per-connection children inherit; ipmitool's `-f <uuid>.pw` is a symbolic link to
 * /proc/self/fd/3, so each process reads its own inherited copy.
 */
export const PASSWORD_FD = 3;
export const INHERITED_PASSWORD = `/proc/self/fd/${PASSWORD_FD}`;

/** A secret the launcher turns into fd PASSWORD_FD of the process (see PASSWORD_FD). */
export interface InheritedSecret {
  /** Where the short-lived file is created (inside the private runtime directory). */
  path: string;
  content: string;
}

/**
 * `relay`: the console broker's relay (console-relay.pl), run by socat's per-connection child itself
 * (EXEC …,nofork: the client's TCP socket is its stdin/stdout, its peer in SOCAT_PEERADDR/PORT);
 * many clients at once, at most `maxClients`.
 */
export type SocatPeer = { exec: string[]; secret?: InheritedSecret } | { unixSocket: string } | { relay: string[]; maxClients: number };

/**
 * socat's argv (Ironic's shape, improved): one client at a time, the listener survives disconnects,
 * a pty for the per-client command in raw mode (no echo of bytes typed before ipmitool is ready).
 * `-d -d` makes socat report "listening on", which tells us the port accepts without connecting.
 */
export function buildSocatArgv(spec: SocatListenSpec): string[] {
  const family = isIP(spec.address) === 6 ? 'TCP6-LISTEN' : 'TCP4-LISTEN';
  const bind = isIP(spec.address) === 6 ? `[${spec.address}]` : spec.address;
  if (isIP(spec.address) === 0) throw invalidInput(`socat bind address must be an IP address, got ${JSON.stringify(spec.address)}`);
  if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535) throw invalidInput(`invalid console port ${spec.port}`);
  const argv = ['-d', '-d'];
  if (spec.terminalTimeoutS > 0) argv.push(`-T${spec.terminalTimeoutS}`);
  argv.push(`-L${spec.pidFile}`);
  const peer = spec.peer;
  // broker relays: many clients share the node's one SOL session (the broker holds it)
  const maxChildren = 'relay' in peer ? peer.maxClients : 1;
  if (!Number.isInteger(maxChildren) || maxChildren < 1) throw invalidInput(`invalid max clients ${maxChildren}`);
  // socat's default listen backlog is 5: clients arriving together would wait for SYN retries
  const backlog = 'relay' in peer ? `,backlog=${Math.min(1024, Math.max(16, maxChildren))}` : '';
  argv.push(`${family}:${spec.port},bind=${bind},reuseaddr,fork,max-children=${maxChildren}${backlog}`);
  if ('relay' in peer) argv.push(`EXEC:${peer.relay.map(socatToken).join(' ')},nofork`);
  else argv.push('exec' in peer ? `EXEC:${peer.exec.map(socatToken).join(' ')},pty,raw,echo=0,stderr` : `UNIX-CONNECT:${socatToken(peer.unixSocket)}`);
  return argv;
}

/**
 * How a console is started (by the launcher, in a new process group): with a parent-death signal,
 * so the kernel kills the socat listener whenever its parent goes (see launcher.mjs).
 */
export function buildConsoleCommand(socatArgv: string[]): { command: string; args: string[] } {
  return { command: 'setpriv', args: ['--pdeathsig', 'KILL', '--', 'socat', ...socatArgv] };
}
