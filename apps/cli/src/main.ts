import { buildProgram } from './program.js';

// Exit codes: 0 ok, 1 failure, 2 usage (commander's own usage errors are mapped to 2).
const program = buildProgram();
program.exitOverride((err) => {
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
  process.exit(2);
});
try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
