import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { CliError, UsageError } from './errors.js';

/**
 * BMC passwords reach the CLI only from a file or a prompt without echo: never from argv (every
 * user on the host can read a process's argv) and never printed back.
 */
export function readPasswordFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read the password file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  // One trailing line break is how editors and `echo` end a file, not part of the password.
  return text.replace(/\r?\n$/, '');
}

/**
 * Ask for a password on the terminal without echoing it. When stdin is not a terminal (a pipe),
 * the first line of stdin is the password.
 */
export async function promptPassword(prompt = 'BMC password: '): Promise<string> {
  const input = process.stdin;
  const muted = new Writable({ write: (_chunk, _enc, cb) => cb() });
  if (input.isTTY) process.stderr.write(prompt);
  const rl = createInterface({ input, output: muted, terminal: !!input.isTTY });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let answered = false;
      rl.once('line', (l) => {
        answered = true;
        resolve(l);
      });
      rl.once('close', () => {
        if (!answered) reject(new CliError('no password given (stdin closed)'));
      });
      rl.once('SIGINT', () => reject(new CliError('interrupted', 130)));
    });
    return line;
  } finally {
    rl.close();
    if (input.isTTY) process.stderr.write('\n');
  }
}

/** The password from `--password-file` or `--password-prompt` (at most one), or undefined. */
export async function passwordFromOptions(o: { passwordFile?: string; passwordPrompt?: boolean }): Promise<string | undefined> {
  if (o.passwordFile !== undefined && o.passwordPrompt) throw new UsageError('use either --password-file or --password-prompt, not both');
  if (o.passwordFile !== undefined) return readPasswordFile(o.passwordFile);
  if (o.passwordPrompt) return promptPassword();
  return undefined;
}
