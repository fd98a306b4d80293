import 'reflect-metadata';
import { errorMessage } from '#libs/common';
import { ConfigError, loadConfig, type SolgateConfig } from '#libs/config';
import { checkConsoleTls, ConsoleTlsError, PidDirectory, prepareLogDirectory, UnsafePathError, verifyConsoleInstallation, type ConsoleTlsSummary } from '#libs/console';
import { createLogger } from '#libs/logging';
import { redactRedisUrl } from '#libs/redis';
import { createApiServer } from './api-server.js';
import { ConductorRuntime } from './runtime/conductor.runtime.js';
import { connectionBudget, readNofileLimit } from './runtime/fd-budget.js';

/**
 * One conductor: read and validate the configuration (all problems at once), join the cluster,
 * serve the API. SIGTERM/SIGINT leave gracefully: consoles stopped and handed over, nothing left.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`solgate-conductor: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  const { tls, warnings: hostWarnings } = prepareHost(config);
  const log = createLogger(config.logLevel, { member: config.conductorId });
  for (const w of hostWarnings) log.warn(w);
  if (tls) {
    const { warnings, ...cert } = tls;
    log.info(cert, 'console ports serve TLS' + (cert.clientCa ? ' and require a client certificate' : ''));
    for (const w of warnings) log.warn({ certFile: config.consoleTls?.certFile }, w);
  }
  const rt = new ConductorRuntime(config, log);
  rt.nodes.problems.onReport = (p, repeat) =>
    log.warn({ key: p.key, node: p.uuid ?? undefined, problem: p.problem, repeat }, 'skipping an unreadable record in Redis (solgate doctor lists them)');
  const nofile = readNofileLimit(); // Node already raised the soft limit to the hard one
  const budget = connectionBudget(nofile.soft, config.apiMaxConnections);
  if (budget.clamped)
    log.warn({ configured: config.apiMaxConnections, maxConnections: budget.maxConnections, openFilesLimit: nofile.soft }, 'SOLGATE_API_MAX_CONNECTIONS lowered to keep descriptors for heartbeats and consoles');
  if (nofile.soft < 4096) log.warn({ openFilesLimit: nofile.soft }, 'the open-files limit is low: raise it (LimitNOFILE=, ulimit -n) for many consoles and API clients');
  const app = await createApiServer(rt, { maxConnections: budget.maxConnections });

  let stopping: Promise<void> | undefined;
  const shutdown = (signal: string) => {
    stopping ??= (async () => {
      log.info({ signal }, 'shutting down: handing consoles over');
      const t0 = performance.now();
      await rt.close();
      await app.close().catch((e) => log.warn({ err: errorMessage(e) }, 'closing the HTTP server failed'));
      log.info({ ms: Math.round(performance.now() - t0) }, 'stopped');
      log.flush();
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  if (!config.authToken && !isLoopback(config.apiHost))
    log.warn({ listen: `${config.apiHost}:${config.apiPort}` }, 'SOLGATE_AUTH_TOKEN is not set: anyone who reaches the API can enrol nodes and read console URLs (see docs/security.md)');
  else if (config.authToken && config.authToken.length < 16) log.warn('SOLGATE_AUTH_TOKEN is shorter than 16 characters: use a long random token');
  await app.listen(config.apiPort, config.apiHost);
  await rt.start();
  log.info(
    { api: config.apiUrl, listen: `${config.apiHost}:${config.apiPort}`, maxConnections: budget.maxConnections, maxConsoleClients: rt.consoleClientSlots.max, openFilesLimit: nofile.soft, redis: redactRedisUrl(config.redisUrl), consoles: `${config.socatAddress}:${config.portRange.start}-${config.portRange.stop - 1}` },
    'conductor started',
  );
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/**
 * Before anything connects or listens: the code this conductor will run for consoles must be where
 * no other local user can change it, its runtime directory must be its own (created here, 0700),
 * the console log directory (if any) must be its own and writable by nobody else, and the console
 * TLS files (if configured) must be usable by socat (console-tls.ts). Otherwise it stops with the
 * reason (a local user could otherwise run code as the conductor, read BMC credentials, or have
 * console output written into a file of their choice). Returns what to log once the logger exists.
 */
function prepareHost(config: Readonly<SolgateConfig>): { tls?: ConsoleTlsSummary; warnings: string[] } {
  try {
    verifyConsoleInstallation();
    new PidDirectory(config.terminalPidDir).init();
    const warnings = config.consoleLogDir ? prepareLogDirectory(config.consoleLogDir) : [];
    return { tls: config.consoleTls ? checkConsoleTls(config.consoleTls) : undefined, warnings };
  } catch (e) {
    if (e instanceof UnsafePathError || e instanceof ConsoleTlsError || (e as NodeJS.ErrnoException).code !== undefined) {
      process.stderr.write(`solgate-conductor: refusing to start: ${errorMessage(e)}\n`);
      process.exit(1);
    }
    throw e;
  }
}

main().catch((e) => {
  process.stderr.write(`solgate-conductor: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
