import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { PinoNestLogger } from '#libs/logging';
import { authenticate } from './api/auth.middleware.js';
import { ironicHeaders } from './api/ironic-headers.middleware.js';
import { useJsonBody } from './api/json-body.js';
import { AppModule } from './app.module.js';
import type { ConductorRuntime } from './runtime/conductor.runtime.js';

/**
 * The HTTP face of a conductor, built in one place for main.ts and for the tests that walk every
 * route. Order matters: authentication first (nothing runs for a refused request: no routing, no
 * body parsing, no handler), then Ironic's version negotiation, then the body parser.
 */
export async function createApiServer(rt: ConductorRuntime): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRuntime(rt), { logger: new PinoNestLogger(rt.log), bodyParser: false });
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(authenticate(rt.config.authToken));
  app.use(ironicHeaders());
  useJsonBody(app);
  return app;
}
