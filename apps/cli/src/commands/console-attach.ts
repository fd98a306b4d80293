import { userInfo } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { RawData, WebSocket } from 'ws';
import { attachQuery, CLOSE, consoleWsPath, parseServerMessage, PROTOCOL, shouldReconnect, type ServerMessage } from '#libs/console-protocol';
import { withContext, type CliContext } from '../lib/context.js';
import { attachHelp, AttachEscapeParser, parseEscapeChar, type AttachAction } from '../lib/attach-escapes.js';
import { CliError, EXIT_FAILURE, EXIT_OK } from '../lib/errors.js';

/**
 * `solgate console attach NODE`: an interactive terminal on a node's console through the gateway.
 *
 * Transport: the console WebSocket of the conductors' API (the web console's, /ui/nodes/X/console/ws),
 * not the node's TCP console port: it carries the broker's control channel (write lock, who, break,
 * notices) beside the bytes, takes the API token in a header, works from wherever the API is
 * reachable (console ports are often only reachable from nova-serialproxy), and any conductor relays
 * to the owner. The CLI reads Redis (as every command does) to pick the owner's API URL first, then
 * the other live conductors. After a handover or a crash of the owner it reconnects by itself.
 *
 * The terminal is put in raw mode and restored on every way out: `~.`, the console going away,
 * an error, SIGTERM/SIGHUP, end of input. Exit status 0 after `~.` (or end of input), 1 when the
 * console cannot be reached or is disabled.
 */
interface AttachFlags {
  readOnly?: boolean;
  forceWrite?: boolean;
  escapeChar: string | undefined;
  authToken?: string;
  name?: string;
}

const RECONNECT_MAX_MS = 10_000;

export function registerConsoleAttach(group: Command): void {
  group
    .command('attach')
    .description('interactive terminal on a node’s console (raw mode; ~. to leave, ~? for help)')
    .argument('<node>', 'node uuid or name')
    .option('--read-only', 'watch only: never take the write lock')
    .option('--force-write', 'take the write lock from whoever holds it (they are told)')
    .addOption(
      new Option('-e, --escape-char <char>', 'escape character, or "none" to turn escapes off')
        .default('~')
        .argParser((v) => {
          try {
            return parseEscapeChar(v);
          } catch (e) {
            throw new InvalidArgumentError((e as Error).message);
          }
        }),
    )
    .addOption(new Option('--auth-token <token>', 'the conductors’ API token (SOLGATE_AUTH_TOKEN)').env('SOLGATE_AUTH_TOKEN'))
    .option('--name <name>', 'what other viewers see in who and notices (default: your user name)')
    .addHelpText(
      'after',
      `
Joins the node's console broker as one more viewer: the last few KB of history first, then live
output. The first viewer to attach holds the write lock; others are read-only until it is free
(${'~'}w) or taken with force (${'~'}W, or --force-write). Escapes (right after a newline): ~. disconnect,
~w take write, ~W force write, ~r release write, ~# who, ~B break, ~? help, ~~ a literal ~.
Talks to a conductor's API (found in Redis, the console's owner first): exit 0 after ~., 1 when the
console cannot be reached or is disabled.

Examples:
  solgate console attach node-17
  solgate console attach node-17 --read-only
  solgate console attach node-17 --escape-char '&'`,
    )
    .action(async (ident: string, flags: AttachFlags, cmd: Command) => {
      const target = await withContext(cmd, (ctx) => findTarget(ctx, ident));
      const defaultName = (() => {
        try {
          return userInfo().username;
        } catch {
          return undefined;
        }
      })();
      // loaded here, not at start-up: every other command starts without it
      const { WebSocket: Ws } = await import('ws');
      process.exitCode = await attach(Ws, target, { ...flags, name: flags.name ?? defaultName });
    });
}

interface Target {
  uuid: string;
  label: string;
  /** API base URLs to try, the console's owner first. */
  apiUrls: string[];
}

async function findTarget(ctx: CliContext, ident: string): Promise<Target> {
  const node = await ctx.findNode(ident);
  if (node.console_interface === 'no-console') throw new CliError(`node ${ident} has no console interface`);
  if (!node.console_enabled) throw new CliError(`the console of node ${ident} is disabled (solgate console enable ${ident})`);
  const [facts] = await ctx.factsOf([node]);
  const live = ctx.view.members.filter((m) => m.alive && m.apiUrl);
  const owner = facts.console.serving ? facts.console.status.conductor : facts.console.conductor;
  const ordered = [...live.filter((m) => m.id === owner), ...live.filter((m) => m.id !== owner)];
  if (ordered.length === 0) throw new CliError('no conductor is alive');
  return { uuid: node.uuid, label: node.name ?? node.uuid, apiUrls: ordered.map((m) => m.apiUrl) };
}

const err = (s: string) => process.stderr.write(s);
const say = (s: string) => err(`\r\n[solgate: ${s}]\r\n`);

function attach(Ws: typeof WebSocket, t: Target, flags: AttachFlags): Promise<number> {
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  const parser = new AttachEscapeParser(flags.escapeChar);
  const esc = flags.escapeChar;
  let ws: WebSocket | undefined;
  let writer = false;
  let attachedOnce = false;
  let attempt = 0;
  let urlIndex = 0;
  let retry: NodeJS.Timeout | undefined;
  let finished = false;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));

  const restoreTty = () => {
    if (tty && stdin.isTTY) stdin.setRawMode(false);
  };
  const finish = (code: number, message?: string) => {
    if (finished) return;
    finished = true;
    clearTimeout(retry);
    if (message) say(message);
    ws?.removeAllListeners('close');
    ws?.close(CLOSE.DETACHED, 'detached');
    ws = undefined;
    restoreTty();
    stdin.pause();
    stdin.removeListener('data', onInput);
    for (const s of SIGNALS) process.removeListener(s, onSignal);
    process.removeListener('exit', restoreTty);
    resolveDone(code);
  };
  const SIGNALS = ['SIGTERM', 'SIGHUP'] as const;
  const onSignal = (s: NodeJS.Signals) => finish(EXIT_OK, `${s}: detached`);
  for (const s of SIGNALS) process.on(s, onSignal);
  process.on('exit', restoreTty); // the last resort: never leave the terminal raw

  const act = (a: AttachAction) => {
    if (a.type === 'data') {
      if (ws?.readyState === Ws.OPEN && writer) ws.send(a.data, { binary: true });
      return;
    }
    if (a.type === 'disconnect') return finish(EXIT_OK, `${esc}. detached`);
    if (a.type === 'help') return err(`\r\n${attachHelp(esc ?? '~')}`);
    const msg = a.type === 'take' ? { type: 'take-write', force: a.force } : a.type === 'release' ? { type: 'release-write' } : a.type === 'who' ? { type: 'who' } : { type: 'break' };
    if (ws?.readyState !== Ws.OPEN) return say('not connected');
    ws.send(JSON.stringify(msg));
  };
  const onInput = (chunk: Buffer) => {
    for (const a of parser.feed(chunk)) {
      act(a);
      if (finished) return;
    }
  };

  const onMessage = (m: ServerMessage) => {
    switch (m.type) {
      case 'hello':
        attempt = 0;
        writer = m.writer;
        say(
          `${attachedOnce ? 'reconnected to' : 'attached to'} ${t.label} on ${m.owner}${m.via !== m.owner ? ` via ${m.via}` : ''}, ${writer ? 'read-write' : 'read-only'}${esc ? `; ${esc}? for help` : ''}`,
        );
        attachedOnce = true;
        break;
      case 'state':
        say(m.message);
        break;
      case 'lock':
        if (m.writer !== writer) say(m.writer ? 'you have the write lock' : `read-only${m.holderLabel ? `: ${m.holderLabel} has the write lock` : ''}`);
        writer = m.writer;
        break;
      case 'who':
        err(`\r\n[solgate: ${m.viewers.length} attached]\r\n${m.viewers.map((v) => `  ${v.you ? '*' : ' '} ${v.id} ${v.name ?? ''} ${v.via} ${v.address} since ${new Date(v.since).toISOString()}${v.writer ? ' (write)' : ''}`).join('\r\n')}\r\n`);
        break;
      case 'notice':
        say(m.text);
        break;
      case 'error':
        say(m.message);
        break;
    }
  };

  const connect = () => {
    if (finished) return;
    const base = t.apiUrls[urlIndex % t.apiUrls.length];
    const url = `${base.replace(/^http/, 'ws')}${consoleWsPath(t.uuid)}${attachQuery({ readOnly: flags.readOnly, forceWrite: flags.forceWrite && !attachedOnce, client: 'cli', name: flags.name })}`;
    const sock = new Ws(url, [PROTOCOL], { headers: flags.authToken ? { 'X-Auth-Token': flags.authToken } : {}, perMessageDeflate: false, handshakeTimeout: 5000 });
    ws = sock;
    let opened = false;
    sock.on('open', () => (opened = true));
    sock.on('message', (data: RawData, isBinary: boolean) => {
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (isBinary) process.stdout.write(buf);
      else {
        const m = parseServerMessage(buf.toString());
        if (m) onMessage(m);
      }
    });
    let refusedStatus: number | undefined;
    sock.on('unexpected-response', (_req, res) => {
      refusedStatus = res.statusCode;
      res.resume();
      sock.terminate();
    });
    sock.on('error', () => undefined);
    sock.on('close', (code: number, reasonBuf: Buffer) => {
      if (ws !== sock || finished) return;
      ws = undefined;
      writer = false;
      const reason = reasonBuf.toString() || (refusedStatus ? `HTTP ${refusedStatus}` : opened ? `connection closed (${code})` : `cannot connect to ${base}`);
      if (refusedStatus === 401) return finish(EXIT_FAILURE, 'the conductor wants the API token (--auth-token or SOLGATE_AUTH_TOKEN)');
      if (opened && !shouldReconnect(code)) return finish(code === CLOSE.DETACHED ? EXIT_OK : EXIT_FAILURE, reason);
      if (!opened) urlIndex++; // that conductor is gone: the next one relays
      attempt++;
      if (!attachedOnce && attempt > t.apiUrls.length * 3) return finish(EXIT_FAILURE, `${reason}; giving up`);
      const delay = code === CLOSE.MOVING && attempt === 1 ? 0 : Math.min(RECONNECT_MAX_MS, 250 * 2 ** Math.min(attempt, 6));
      say(`${reason} — reconnecting${delay ? ` in ${(delay / 1000).toFixed(1)} s` : ''}`);
      retry = setTimeout(connect, delay);
    });
  };

  if (tty) stdin.setRawMode(true);
  stdin.on('data', onInput);
  stdin.on('end', () => finish(EXIT_OK));
  stdin.resume();
  connect();
  return done;
}
