import { Command, CommanderError } from 'commander';
import { describeError, EXIT_OK, EXIT_USAGE } from './lib/errors.js';
import { buildProgram } from './program.js';

/**
 * Exit codes (kubectl's): 0 ok, 1 failure, 2 usage. Commander's usage errors (unknown command or
 * option, missing argument, bad option value, a group named without a subcommand) all exit 2, with
 * commander's message and its "Did you mean ...?" suggestion on stderr. Failures print one line,
 * `error: ...`, never a stack trace.
 */
function exit(code: number): void {
  // stdout may be a pipe: let pending data go out before the process ends.
  process.stdout.write('', () => process.exit(code));
}

function exitCodeOf(e: unknown): number {
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT_OK;
    if (e.code === 'commander.help') return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE; // a group without its subcommand
    return EXIT_USAGE; // commander has printed its message already
  }
  const { message, exitCode } = describeError(e);
  process.stderr.write(`error: ${message}\n`);
  return exitCode;
}

/** Route every command's parse errors here (commander copies exitOverride only to commands created after it). */
function throwOnExit(cmd: Command): void {
  cmd.exitOverride((err) => {
    throw err;
  });
  for (const sub of cmd.commands) throwOnExit(sub);
}

process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(EXIT_OK); // `solgate nodes list | head`
});

const program = buildProgram();
throwOnExit(program);
try {
  await program.parseAsync(process.argv);
  exit(typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK);
} catch (e) {
  exit(exitCodeOf(e));
}
