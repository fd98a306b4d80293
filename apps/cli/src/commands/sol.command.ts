import { Command, InvalidArgumentError } from 'commander';
import { ESCAPE_HELP, EscapeSequenceParser, IpmiSession, type SolConsole } from '#libs/ipmi';
import {
  connectionOptions,
  type IpmiConnectionFlags,
  outputFormatOf,
  renderStructured,
  reportError,
  runWithSession,
  usageExitCodes,
  withIpmiConnectionOptions,
  withOutputOption,
} from './power.command.js';

/**
 * `solgate sol activate|deactivate|info`: Serial-over-LAN over native IPMI v2.0 (lanplus).
 *
 * `activate` bridges stdin/stdout to the node's serial console: raw bytes only on stdout, status on
 * stderr, stdin in raw mode when it is a terminal. It ends on `~.` at the start of a line, on EOF
 * of stdin, on SIGTERM/SIGHUP/SIGINT, or when the BMC ends the payload; in every case but the last
 * it deactivates the payload and closes the session first, so an immediate reconnect finds SOL free.
 */

const escapeChar = (v: string) => {
  if (v.length !== 1) throw new InvalidArgumentError('must be a single character');
  return v;
};


async function activate(flags: IpmiConnectionFlags & { force?: boolean; escapeChar: string }): Promise<void> {
  let options;
  try {
    options = connectionOptions(flags);
  } catch (e) {
    process.exitCode = reportError(e);
    return;
  }
  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  let session: IpmiSession | undefined;
  let sol: SolConsole | undefined;
  let finishing = false;
  // The action settles only when the console session is over: the CLI's entry point exits the
  // process as soon as the action's promise does.
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));

  const restoreTty = () => {
    if (raw && stdin.isTTY) stdin.setRawMode(false);
  };
  const finish = async (code: number, message?: string) => {
    if (finishing) return;
    finishing = true;
    stdin.pause();
    if (message) process.stderr.write(message);
    try {
      await session?.close(); // deactivates SOL, then Close Session
    } finally {
      restoreTty();
      process.exitCode = code;
      stdin.destroy();
      done();
    }
  };

  for (const signal of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) {
    process.on(signal, () => void finish(0, `\r\n[${signal}: closing SOL session]\r\n`));
  }

  try {
    session = await IpmiSession.open(options);
    sol = await session.activateSol({ forceDeactivate: !!flags.force });
  } catch (e) {
    process.exitCode = reportError(e, options);
    await session?.close();
    finishing = true;
    return;
  }
  process.stderr.write(`[SOL Session operational.  Use ${flags.escapeChar}? for help]\r\n`);
  if (raw) stdin.setRawMode(true);

  sol.on('data', (d: Buffer) => process.stdout.write(d));
  sol.on('close', () => {
    if (finishing) return;
    const reason = sol?.closeReason;
    void finish(1, `\r\n[SOL session closed by BMC${reason ? `: ${reason.message} (${reason.code})` : ''}]\r\n`);
  });

  const parser = new EscapeSequenceParser(flags.escapeChar);
  stdin.on('data', (chunk: Buffer) => {
    if (finishing) return;
    for (const a of parser.feed(chunk)) {
      if (a.type === 'data') sol!.write(a.data);
      else if (a.type === 'break') {
        process.stderr.write(`${flags.escapeChar}B [send break]\r\n`);
        sol!.sendBreak();
      } else if (a.type === 'help') process.stderr.write(ESCAPE_HELP(flags.escapeChar));
      else if (a.type === 'terminate') {
        void finish(0, `${flags.escapeChar}. [terminated solgate]\r\n`);
        return;
      }
    }
  });
  stdin.on('end', () => void finish(0));
  stdin.resume();
  await finished;
}

const LABEL_WIDTH = 32;
const line = (label: string, value: unknown) => `${label.padEnd(LABEL_WIDTH)}: ${String(value)}\n`;

export function registerSolCommands(program: Command): void {
  const sol = program.command('sol').description("a node's serial console over IPMI Serial-over-LAN (lanplus)");

  withIpmiConnectionOptions(sol.command('activate').description('attach stdin/stdout to the serial console (~. at line start ends it)'))
    .option('--force', 'if another session holds SOL, deactivate it first (ends that console)')
    .option('-e, --escape-char <char>', 'escape character', escapeChar, '~')
    .action(activate);

  withIpmiConnectionOptions(sol.command('deactivate').description('deactivate the SOL payload, whichever session holds it')).action(async (flags: IpmiConnectionFlags) => {
    await runWithSession(flags, async (s) => {
      if (await s.deactivateSol()) return 0;
      process.stderr.write('Info: SOL payload already de-activated\n');
      return 1;
    });
  });

  withOutputOption(program, withIpmiConnectionOptions(sol.command('info').description('SOL configuration and whether the payload is active'))).action(
    async (flags: IpmiConnectionFlags, cmd: Command) => {
      const format = outputFormatOf(cmd);
      await runWithSession(flags, async (s) => {
        const config = await s.solConfiguration();
        const status = await s.solActivationStatus().catch(() => undefined);
        const info = { ...config, payloadActive: status ? status.activeInstances.includes(1) : undefined, cipherSuite: s.cipherSuite };
        if (format !== 'text') {
          process.stdout.write(renderStructured(format, info));
          return 0;
        }
        let out = '';
        if (config.enabled !== undefined) out += line('Enabled', config.enabled);
        if (config.forceEncryption !== undefined) out += line('Force Encryption', config.forceEncryption);
        if (config.forceAuthentication !== undefined) out += line('Force Authentication', config.forceAuthentication);
        if (config.privilegeLevel !== undefined) out += line('Privilege Level', config.privilegeLevel);
        if (config.characterAccumulateMs !== undefined) out += line('Character Accumulate Level (ms)', config.characterAccumulateMs);
        if (config.characterSendThreshold !== undefined) out += line('Character Send Threshold', config.characterSendThreshold);
        if (config.retryCount !== undefined) out += line('Retry Count', config.retryCount);
        if (config.retryIntervalMs !== undefined) out += line('Retry Interval (ms)', config.retryIntervalMs);
        if (config.volatileBitRateKbps !== undefined) out += line('Volatile Bit Rate (kbps)', config.volatileBitRateKbps);
        if (config.nonVolatileBitRateKbps !== undefined) out += line('Non-Volatile Bit Rate (kbps)', config.nonVolatileBitRateKbps);
        if (config.payloadChannel !== undefined) out += line('Payload Channel', `${config.payloadChannel} (0x${config.payloadChannel.toString(16).padStart(2, '0')})`);
        if (config.payloadPort !== undefined) out += line('Payload Port', config.payloadPort);
        if (info.payloadActive !== undefined) out += line('Payload Active', info.payloadActive);
        process.stdout.write(out);
        return 0;
      });
    },
  );
  usageExitCodes(sol);
}
