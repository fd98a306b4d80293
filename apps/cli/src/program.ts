import { Command } from 'commander';
import { registerConductorsCommands } from './commands/conductors.command.js';
import { registerConsoleCommands } from './commands/console.command.js';
import { registerDoctorCommands } from './commands/doctor.command.js';
import { registerDrainCommands } from './commands/drain.command.js';
import { registerIronicCommands } from './commands/ironic.command.js';
import { registerNodesCommands } from './commands/nodes.command.js';
import { registerPowerCommands } from './commands/power.command.js';
import { registerRingCommands } from './commands/ring.command.js';
import { registerSolCommands } from './commands/sol.command.js';
import { addGlobalOptions } from './lib/global-options.js';

/**
 * The `solgate` admin CLI. Each command group lives in commands/<group>.command.ts and exports a
 * `register<Group>Commands(program)` function that is called here.
 */
export function buildProgram(): Command {
  const program = new Command('solgate')
    .description('Operate a solgate cluster: nodes, consoles, conductors, the ring, and IPMI tools')
    .showSuggestionAfterError(true)
    .showHelpAfterError('(add --help for usage)');
  addGlobalOptions(program);
  program.addHelpText(
    'after',
    `
Talks to Redis directly (the conductors' repositories and Lua scripts), so it works with no conductor up.
Exit codes: 0 ok, 1 failure, 2 usage. Data goes to stdout, everything else to stderr.
Reference: docs/cli.md

Examples:
  solgate conductors
  solgate --redis redis-sentinel://s1:26379,s2:26379/solgate nodes list -o wide
  solgate console enable -l group=rack1 --wait
  solgate drain conductor-2 --wait && solgate doctor`,
  );
  // command groups: (registered below; keep one line per group)
  registerConductorsCommands(program);
  registerRingCommands(program);
  registerNodesCommands(program);
  registerConsoleCommands(program);
  registerDrainCommands(program);
  registerDoctorCommands(program);
  registerSolCommands(program);
  registerPowerCommands(program);
  registerIronicCommands(program);
  return program;
}
