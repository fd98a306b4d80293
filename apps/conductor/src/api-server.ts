import 'reflect-metadata';
import { createServer, type Server } from 'node:http';
import type { NestApplicationOptions } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { PinoNestLogger } from '#libs/logging';
import { authenticate } from './api/auth.middleware.js';
import { apiConnections } from './api/connection-stats.js';
import { ironicHeaders } from './api/ironic-headers.middleware.js';
import { useJsonBody } from './api/json-body.js';
import { AppModule } from './app.module.js';
import type { ConductorRuntime } from './runtime/conductor.runtime.js';
import { connectionBudget, readNofileLimit } from './runtime/fd-budget.js';


/** How often Node checks connections against the header and request timeouts (its default is 30 s). */
const CHECK_INTERVAL_MS = 500;

/**
 * Express under a Node server created with the timeouts (Nest's own adapter takes none): a client
 * that dribbles its headers or body is answered 408 and cut off within the timeout plus half a
 * second, instead of holding a descriptor for minutes.
 */
class TimeLimitedExpressAdapter extends ExpressAdapter {
  constructor(private readonly limits: { headersTimeoutMs: number; requestTimeoutMs: number }) {
    super();
  }

  override initHttpServer(options: NestApplicationOptions): void {
    if (options?.httpsOptions) return super.initHttpServer(options);
    const server = createServer(
      {
        headersTimeout: this.limits.headersTimeoutMs,
        requestTimeout: this.limits.requestTimeoutMs,
        connectionsCheckingInterval: Math.min(CHECK_INTERVAL_MS, this.limits.headersTimeoutMs),
      },
      this.getInstance(),
    );
    this.setHttpServer(server);
  }
}

/**
 * The HTTP face of a conductor, built in one place for main.ts and for the tests that walk every
 * route. Order matters: authentication first (nothing runs for a refused request: no routing, no
 * body parsing, no handler), then Ironic's version negotiation, then the body parser. Connections
 * are capped (`maxConnections`, default from the open-files limit, see fd-budget.ts) and timed out,
 * so slow or many clients cannot take the descriptors heartbeats and consoles need.
 */
export async function createApiServer(rt: ConductorRuntime, { maxConnections }: { maxConnections?: number } = {}): Promise<NestExpressApplication> {
  const c = rt.config;
  const adapter = new TimeLimitedExpressAdapter({ headersTimeoutMs: c.apiHeadersTimeoutMs, requestTimeoutMs: c.apiRequestTimeoutMs });
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRuntime(rt), adapter, { logger: new PinoNestLogger(rt.log), bodyParser: false });
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(authenticate(c.authToken));
  app.use(ironicHeaders());
  useJsonBody(app);

  const server = app.getHttpServer() as Server;
  server.maxConnections = maxConnections ?? connectionBudget(readNofileLimit().soft, c.apiMaxConnections).maxConnections;
  server.keepAliveTimeout = c.apiKeepAliveTimeoutMs;
  apiConnections.max = server.maxConnections;
  server.on('connection', (socket) => {
    apiConnections.open++;
    socket.once('close', () => apiConnections.open--);
  });
  let lastWarnMs = 0;
  let droppedSinceWarn = 0;
  server.on('drop', () => {
    apiConnections.dropped++;
    droppedSinceWarn++;
    const now = Date.now();
    if (now - lastWarnMs < 10_000) return;
    rt.log.warn({ maxConnections: server.maxConnections, dropped: droppedSinceWarn }, 'API connection limit reached: refusing new connections (SOLGATE_API_MAX_CONNECTIONS)');
    lastWarnMs = now;
    droppedSinceWarn = 0;
  });
  return app;
}
