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
  /** Serve TLS on the port (socat OPENSSL-LISTEN) instead of plain TCP; see ConsoleTlsFiles. */
  tls?: ConsoleTlsFiles;
}

/**
 * SOLGATE_CONSOLE_TLS_*: the console port's certificate and key (PEM files), and a CA whose
 * certificates clients must present (absent: no client certificate asked for). Paths only, read by
 * socat itself when the console starts (config validated them: absolute, no socat syntax).
 */
export interface ConsoleTlsFiles {
  certFile: string;
  keyFile: string;
  caFile?: string;
}

/**
 * socat's OPENSSL-LISTEN options for a console port: TLS 1.2 or later; with a CA, a client
 * certificate signed by it is required (socat's verify=1 fails the handshake without one); without,
 * none is asked for (verify=0: socat would otherwise demand one).
 */
export function socatTlsOptions(tls: ConsoleTlsFiles): string {
  const opts = [`cert=${socatToken(tls.certFile)}`, `key=${socatToken(tls.keyFile)}`];
  opts.push(tls.caFile ? `verify=1,cafile=${socatToken(tls.caFile)}` : 'verify=0');
  opts.push('min-version=TLS1.2');
  return opts.join(',');
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
export type SocatPeer = { exec: string[]; secret?: InheritedSecret } | { unixSocket: string; maxClients?: number } | { relay: string[]; maxClients: number };

/**
 * socat's argv (Ironic's shape, improved): one client at a time, the listener survives disconnects,
 * a pty for the per-client command in raw mode (no echo of bytes typed before ipmitool is ready).
 * `-d -d` makes socat report "listening on", which tells us the port accepts without connecting.
 */
export function buildSocatArgv(spec: SocatListenSpec): string[] {
  const v6 = isIP(spec.address) === 6;
  // OPENSSL-LISTEN has no 4/6 variants: the family is the pf option
  const family = spec.tls ? 'OPENSSL-LISTEN' : v6 ? 'TCP6-LISTEN' : 'TCP4-LISTEN';
  const bind = v6 ? `[${spec.address}]` : spec.address;
  if (isIP(spec.address) === 0) throw invalidInput(`socat bind address must be an IP address, got ${JSON.stringify(spec.address)}`);
  if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535) throw invalidInput(`invalid console port ${spec.port}`);
  const argv = ['-d', '-d'];
  if (spec.terminalTimeoutS > 0) argv.push(`-T${spec.terminalTimeoutS}`);
  argv.push(`-L${spec.pidFile}`);
  const peer = spec.peer;
  // broker relays: many clients share the node's one SOL session (the broker holds it)
  // a UNIX socket with maxClients: an HTTP server behind it (shellinaboxd), several connections per browser
  const maxChildren = 'relay' in peer ? peer.maxClients : 'unixSocket' in peer ? (peer.maxClients ?? 1) : 1;
  if (!Number.isInteger(maxChildren) || maxChildren < 1) throw invalidInput(`invalid max clients ${maxChildren}`);
  // socat's default listen backlog is 5: clients arriving together would wait for SYN retries
  const backlog = maxChildren > 1 ? `,backlog=${Math.min(1024, Math.max(16, maxChildren))}` : '';
  const tls = spec.tls ? `,pf=${v6 ? 'ip6' : 'ip4'},${socatTlsOptions(spec.tls)}` : '';
  argv.push(`${family}:${spec.port},bind=${bind}${tls},reuseaddr,fork,max-children=${maxChildren}${backlog}`);
  // with TLS the relay cannot hold the client's socket itself (socat holds the TLS session): no nofork
  if ('relay' in peer) argv.push(`EXEC:${peer.relay.map(socatToken).join(' ')}${spec.tls ? '' : ',nofork'}`);
  else argv.push('exec' in peer ? `EXEC:${peer.exec.map(socatToken).join(' ')},pty,raw,echo=0,stderr` : `UNIX-CONNECT:${socatToken(peer.unixSocket)}`);
  return argv;
}

/**
 * How a console is started: the launcher (assets/launcher.pl) puts it in a new process group and
 * sets its parent-death signal between fork and exec, so the kernel kills the socat listener
 * whenever its parent goes, without an extra exec (`setpriv`) per console.
 */
export function buildConsoleCommand(socatArgv: string[]): { command: string; args: string[] } {
  return { command: 'socat', args: socatArgv };
}

export interface ShellinaboxSpec {
  /** The UNIX socket shellinaboxd listens on (socat on the node's port connects each client to it). */
  socketPath: string;
  /** The user and group the server and its per-session command run as (the conductor's own). */
  uid: number;
  gid: number;
  /** The session command's working directory (the pid directory). */
  cwd: string;
  /** The command each browser session runs: the broker's relay (plain paths only, see shellinaboxToken). */
  command: string[];
  /** A directory holding certificate.pem (key and certificate): HTTPS (and HTTP refused); absent: HTTP only. */
  certDir?: string;
}

/**
 * shellinaboxd parses its service argument itself: `:` separates the fields before the command, and
 * the command is split on blanks with `${...}` expanded. Only plain paths we built enter it.
 */
export function shellinaboxToken(value: string, { colon = true } = {}): string {
  if (value === '' || /[\s'"\\$\0]/.test(value) || (!colon && value.includes(':')))
    throw invalidInput(`refusing ${JSON.stringify(value)} in a shellinaboxd service: blanks, quotes, backslashes, $ ${colon ? '' : 'and : '}are not allowed`);
  return value;
}

/**
 * shellinaboxd's argv for one node (Ironic's IPMIShellinaboxConsole, brokered): a UNIX socket instead
 * of a TCP port (socat binds the node's port on the configured address; shellinaboxd could only bind
 * every address), one service at `/` that runs the broker's relay as the conductor's user, transparent
 * SSL with the operator's certificate or none at all, `-v` for the "Listening on" line we wait for.
 */
export function buildShellinaboxArgv(spec: ShellinaboxSpec): string[] {
  for (const id of [spec.uid, spec.gid]) if (!Number.isInteger(id) || id < 0) throw invalidInput(`invalid uid/gid ${id}`);
  const socket = shellinaboxToken(spec.socketPath, { colon: false });
  const cwd = shellinaboxToken(spec.cwd, { colon: false });
  if (spec.command.length === 0) throw invalidInput('empty shellinabox command');
  const command = spec.command.map((a) => shellinaboxToken(a)).join(' ');
  const argv = ['-v', '--no-beep', '--disable-ssl-menu', '--disable-utmp-logging', '-u', String(spec.uid), '-g', String(spec.gid)];
  argv.push(`--unixdomain-only=${socket}:${spec.uid}:${spec.gid}:0600`);
  if (spec.certDir !== undefined) argv.push(`--cert=${shellinaboxToken(spec.certDir)}`);
  else argv.push('--disable-ssl');
  argv.push('-s', `/:${spec.uid}:${spec.gid}:${cwd}:${command}`);
  return argv;
}

/** How a node's shellinaboxd is started (by the launcher: its own process group, a parent-death signal). */
export function buildShellinaboxCommand(argv: string[]): { command: string; args: string[] } {
  return { command: 'shellinaboxd', args: argv };
}
