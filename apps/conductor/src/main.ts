import 'reflect-metadata';
import { errorMessage } from '#libs/common';
import { ConfigError, loadConfig, type SolgateConfig } from '#libs/config';
import { PidDirectory, UnsafePathError, verifyConsoleInstallation } from '#libs/console';
import { createLogger } from '#libs/logging';
import { redactRedisUrl } from '#libs/redis';
import { createApiServer } from './api-server.js';
import { ConductorRuntime } from './runtime/conductor.runtime.js';

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
  prepareHost(config);
  const log = createLogger(config.logLevel, { member: config.conductorId });
  const rt = new ConductorRuntime(config, log);
  rt.nodes.problems.onReport = (p, repeat) =>
    log.warn({ key: p.key, node: p.uuid ?? undefined, problem: p.problem, repeat }, 'skipping an unreadable record in Redis (solgate doctor lists them)');
  const app = await createApiServer(rt);

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
    { api: config.apiUrl, listen: `${config.apiHost}:${config.apiPort}`, redis: redactRedisUrl(config.redisUrl), consoles: `${config.socatAddress}:${config.portRange.start}-${config.portRange.stop - 1}` },
    'conductor started',
  );
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/**
 * Before anything connects or listens: the code this conductor will run for consoles must be where
 * no other local user can change it, and its runtime directory must be its own (created here, 0700).
 * Otherwise it stops with the reason (a local user could otherwise run code as the conductor or read
 * BMC credentials).
 */
function prepareHost(config: Readonly<SolgateConfig>): void {
  try {
    verifyConsoleInstallation();
    new PidDirectory(config.terminalPidDir).init();
  } catch (e) {
    if (e instanceof UnsafePathError || (e as NodeJS.ErrnoException).code !== undefined) {
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
