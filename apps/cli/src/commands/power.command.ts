import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import YAML from 'yaml';
import { describeSession, IpmiSession, isIpmiError, parsePrivilegeLevel, type IpmiSessionOptions } from '#libs/ipmi';

/**
 * `solgate power status|on|off|cycle|reset|soft`: chassis power over native IPMI v2.0 (lanplus),
 * with ipmitool's connection flags. This file also holds those flags for `solgate sol`.
 * Passwords never come from argv: `-f FILE` or `-E` (IPMI_PASSWORD). Exit codes: 0 ok, 1 failure, 2 usage.
 */

export interface IpmiConnectionFlags {
  host?: string;
  port: string;
  user: string;
  passwordFile?: string;
  envPassword?: boolean;
  password?: string;
  cipherSuite?: string;
  privLevel: string;
  timeout: string;
  retries: string;
  interface: string;
}

/** A usage error: printed with a hint, exit code 2. */
export class UsageError extends Error {}

/** Add ipmitool's connection flags to a command. */
export function withIpmiConnectionOptions(cmd: Command): Command {
  return cmd
    .option('-H, --host <host>', 'BMC host name or IP address')
    .option('-p, --port <port>', 'BMC UDP port', '623')
    .option('-U, --user <name>', 'BMC user name', '')
    .option('-f, --password-file <file>', 'read the BMC password from the first line of <file>')
    .option('-E, --env-password', 'read the BMC password from the IPMI_PASSWORD environment variable')
    .addOption(new Option('-P, --password <password>', 'refused: a password on the command line is visible to every user').hideHelp())
    .option('-C, --cipher-suite <id>', 'RMCP+ cipher suite (default: ask the BMC, else 3)')
    .option('-L, --priv-level <level>', 'session privilege: CALLBACK, USER, OPERATOR, ADMINISTRATOR', 'ADMINISTRATOR')
    .option('-N, --timeout <seconds>', 'seconds to wait for each answer before resending', '1')
    .option('-R, --retries <n>', 'resends before giving up', '2')
    .option('-I, --interface <name>', 'IPMI interface (only lanplus)', 'lanplus');
}

function integer(value: string, what: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${what} must be an integer ${min}-${max}`);
  return n;
}

/** Turn the flags into session options; usage problems throw UsageError. */
export function connectionOptions(flags: IpmiConnectionFlags, env: NodeJS.ProcessEnv = process.env): IpmiSessionOptions {
  if (flags.password !== undefined) throw new UsageError('-P is refused: a password on the command line is visible in ps; use -f <file> or -E (IPMI_PASSWORD)');
  if (!flags.host) throw new UsageError('-H <host> is required');
  if (flags.interface !== 'lanplus') throw new UsageError(`interface "${flags.interface}" is not supported (only lanplus)`);
  let password: string;
  if (flags.passwordFile) {
    try {
      password = readFileSync(flags.passwordFile, 'utf8').split(/\r?\n/)[0] ?? '';
    } catch (e) {
      throw new UsageError(`cannot read password file ${flags.passwordFile}: ${(e as Error).message}`);
    }
  } else if (flags.envPassword) {
    const fromEnv = env.IPMI_PASSWORD ?? env.IPMITOOL_PASSWORD;
    if (fromEnv === undefined) throw new UsageError('-E given but IPMI_PASSWORD is not set');
    password = fromEnv;
  } else {
    throw new UsageError('a password is required: -f <file> or -E (IPMI_PASSWORD)');
  }
  const timeoutSeconds = Number(flags.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0 || timeoutSeconds > 60) throw new UsageError('-N must be a number of seconds, 0-60');
  let privLevel;
  try {
    privLevel = parsePrivilegeLevel(flags.privLevel);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return {
    host: flags.host,
    port: integer(flags.port, '-p', 1, 65535),
    username: flags.user,
    password,
    cipherSuite: flags.cipherSuite === undefined ? undefined : integer(flags.cipherSuite, '-C', 0, 255),
    privLevel,
    timeoutMs: Math.round(timeoutSeconds * 1000),
    retries: integer(flags.retries, '-R', 0, 20),
  };
}

/**
 * Run a command body with a session; maps failures to exit codes: usage 2, IPMI failure 1.
 * The session is always closed (Close Session sent) before the process exits.
 */
export async function runWithSession(flags: IpmiConnectionFlags, body: (session: IpmiSession, options: IpmiSessionOptions) => Promise<number>): Promise<void> {
  let options: IpmiSessionOptions;
  try {
    options = connectionOptions(flags);
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\n(add --help for usage)\n`);
    process.exitCode = 2;
    return;
  }
  let session: IpmiSession | undefined;
  try {
    session = await IpmiSession.open(options);
    process.exitCode = await body(session, options);
  } catch (e) {
    process.exitCode = reportError(e, options);
  } finally {
    await session?.close();
  }
}

/** Print an error on stderr (never a password) and return the exit code. */
export function reportError(e: unknown, options?: IpmiSessionOptions): number {
  if (e instanceof UsageError) {
    process.stderr.write(`error: ${e.message}\n`);
    return 2;
  }
  if (isIpmiError(e)) {
    const where = options ? ` [${describeSession(options)}]` : '';
    process.stderr.write(`error: ${e.message} (${e.code})${where}\n`);
    return e.code === 'INVALID_ARGUMENT' ? 2 : 1;
  }
  process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  return 1;
}

/** Make usage errors of these commands exit with 2 (commander's default is 1). */
export function usageExitCodes(cmd: Command): Command {
  cmd.exitOverride((err) => {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') process.exit(0);
    process.exit(2);
  });
  for (const sub of cmd.commands) usageExitCodes(sub);
  return cmd;
}

const outputFormat = (v: string) => {
  if (!['text', 'table', 'wide', 'json', 'yaml'].includes(v)) throw new InvalidArgumentError('must be text, json or yaml');
  return v;
};

/**
 * `-o json|yaml` for a command: the program-wide --output when the program defines one (the admin
 * CLI does), else a local option. Anything but json/yaml prints ipmitool's text.
 */
export function withOutputOption(program: Command, cmd: Command): Command {
  if (program.options.some((o) => o.long === '--output')) return cmd;
  return cmd.option('-o, --output <format>', 'text, json or yaml', outputFormat, 'text');
}

export function outputFormatOf(cmd: Command): 'text' | 'json' | 'yaml' {
  const v = (cmd.optsWithGlobals() as { output?: string }).output;
  return v === 'json' || v === 'yaml' ? v : 'text';
}

/** Serialize structured output for -o json / -o yaml. */
export function renderStructured(format: 'json' | 'yaml', value: unknown): string {
  return format === 'json' ? `${JSON.stringify(value)}\n` : YAML.stringify(value);
}

const CONTROL_TEXT = { on: 'Up/On', off: 'Down/Off', cycle: 'Cycle', reset: 'Reset', soft: 'Soft' } as const;

export function registerPowerCommands(program: Command): void {
  const power = program.command('power').description('chassis power of a node, through its BMC (IPMI v2.0 lanplus)');

  withOutputOption(program, withIpmiConnectionOptions(power.command('status').description('print the power state: "Chassis Power is on|off"'))).action(
    async (flags: IpmiConnectionFlags, cmd: Command) => {
      const format = outputFormatOf(cmd);
      await runWithSession(flags, async (s) => {
        const state = await s.chassis.powerStatus();
        process.stdout.write(format === 'text' ? `Chassis Power is ${state}\n` : renderStructured(format, { power: state }));
        return 0;
      });
    },
  );

  for (const action of ['on', 'off', 'cycle', 'reset', 'soft'] as const) {
    const help = {
      on: 'power up',
      off: 'power down at once (no OS shutdown)',
      cycle: 'power down, then up again (the BMC refuses while off)',
      reset: 'hard reset',
      soft: 'ask the OS to shut down (ACPI soft-off)',
    }[action];
    withIpmiConnectionOptions(power.command(action).description(help)).action(async (flags: IpmiConnectionFlags) => {
      await runWithSession(flags, async (s) => {
        const c = s.chassis;
        await { on: c.powerOn, off: c.powerOff, cycle: c.powerCycle, reset: c.powerReset, soft: c.softShutdown }[action]();
        process.stdout.write(`Chassis Power Control: ${CONTROL_TEXT[action]}\n`);
        return 0;
      });
    });
  }
  usageExitCodes(power);
}
