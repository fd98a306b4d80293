import { Command } from 'commander';
import { registerPowerCommands } from './commands/power.command.js';
import { registerSolCommands } from './commands/sol.command.js';

/**
 * The `solgate` admin CLI. Each command group lives in commands/<group>.command.ts and exports a
 * `register<Group>Commands(program)` function that is called here.
 */
export function buildProgram(): Command {
  const program = new Command('solgate')
    .description('Operate a solgate cluster: nodes, consoles, conductors, the ring, and IPMI tools')
    .showSuggestionAfterError(true)
    .showHelpAfterError('(add --help for usage)');
  // command groups: (registered below; keep one line per group)
  registerSolCommands(program);
  registerPowerCommands(program);
  return program;
}
