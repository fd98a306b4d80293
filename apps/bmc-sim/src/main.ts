import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { BmcFleet, CIPHER_SUITES, startFleetControlServer, type FleetControlServer } from '#libs/ipmi';

/**
 * solgate-bmc-sim: many simulated IPMI v2.0 BMCs with SOL in one process (libs/ipmi/src/sim).
 *
 * stdout: one JSON line per BMC ({"index","name","address","port","user","cipherSuites"}), then
 * {"control":"http://..."} when --control-port is given, then the line `ready`. Chatter goes to
 * stderr. SIGTERM/SIGINT stop every BMC and exit 0. Exit codes: 0 ok, 1 failure, 2 usage.
 */
const int = (name: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer ${min}-${max}`);
  return n;
};

const suites = (v: string) => {
  const list = v.split(',').map((s) => Number(s.trim()));
  for (const id of list) if (!Number.isInteger(id) || !CIPHER_SUITES[id]) throw new InvalidArgumentError(`unsupported cipher suite "${id}" (supported: ${Object.keys(CIPHER_SUITES).join(', ')})`);
  return list;
};

const program = new Command('solgate-bmc-sim')
  .description('Simulate a fleet of IPMI v2.0 BMCs with Serial-over-LAN (for tests and benchmarks)')
  .option('--count <n>', 'number of BMCs', int('--count', 1, 20000), 1)
  .option('--port <port>', 'UDP port of the first BMC (the others follow); 0 = the kernel picks each', int('--port', 0, 65535), 0)
  .option('--address <ip>', 'address to bind', '127.0.0.1')
  .option('--user <name>', 'user name on every BMC', 'admin')
  .option('--password <password>', 'password on every BMC (simulator only)', 'password')
  .option('--password-file <file>', 'read the password from a file instead')
  .option('--cipher-suites <list>', 'accepted RMCP+ cipher suites', suites, [3, 17])
  .option('--session-timeout-ms <ms>', 'idle session timeout', int('--session-timeout-ms', 100, 86_400_000), 60_000)
  .option('--serial <mode>', 'node serial line: shell (echo + login prompt) or silent', 'shell')
  .option('--name-prefix <prefix>', 'node names are <prefix><index>', 'node')
  .option('--control-port <port>', 'serve an HTTP/JSON control endpoint on 127.0.0.1:<port> (0 = any)', int('--control-port', 0, 65535))
  .showHelpAfterError('(add --help for usage)')
  .exitOverride((err) => {
    process.exit(err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2);
  });

program.parse(process.argv);
const o = program.opts<{
  count: number;
  port: number;
  address: string;
  user: string;
  password: string;
  passwordFile?: string;
  cipherSuites: number[];
  sessionTimeoutMs: number;
  serial: string;
  namePrefix: string;
  controlPort?: number;
}>();
if (o.serial !== 'shell' && o.serial !== 'silent') {
  process.stderr.write('error: --serial must be "shell" or "silent"\n');
  process.exit(2);
}

let fleet: BmcFleet | undefined;
let control: FleetControlServer | undefined;
let stopping = false;

async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`solgate-bmc-sim: ${signal}, stopping ${fleet?.bmcs.length ?? 0} BMC(s)\n`);
  await control?.close().catch(() => undefined);
  await fleet?.stop().catch(() => undefined);
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));

try {
  const password = o.passwordFile ? readFileSync(o.passwordFile, 'utf8').replace(/\r?\n$/, '') : o.password;
  fleet = await BmcFleet.start({
    count: o.count,
    port: o.port,
    address: o.address,
    user: o.user,
    password,
    cipherSuites: o.cipherSuites,
    sessionTimeoutMs: o.sessionTimeoutMs,
    serial: o.serial,
    namePrefix: o.namePrefix,
  });
  const lines = fleet.describe().map((d) => JSON.stringify(d));
  if (o.controlPort !== undefined) {
    control = await startFleetControlServer(fleet, { port: o.controlPort });
    lines.push(JSON.stringify({ control: control.url }));
  }
  lines.push('ready');
  process.stdout.write(lines.join('\n') + '\n');
} catch (e) {
  process.stderr.write(`solgate-bmc-sim: ${e instanceof Error ? e.message : String(e)}\n`);
  await fleet?.stop().catch(() => undefined);
  process.exit(1);
}
