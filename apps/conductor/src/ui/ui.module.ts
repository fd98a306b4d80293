import { Inject, Module, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import { ConsoleControl, type ConsoleBrokerRegistry } from '#libs/console';
import { BrokerConsoles, FirstOf } from './broker.backend.js';
import type { ConductorRuntime } from '../runtime/conductor.runtime.js';
import { ConsoleGateway, DEFAULT_GATEWAY_OPTIONS } from './console-gateway.js';
import { ConsolePortConsoles } from './console-port.backend.js';
import { RelayCredentials } from './relay-credential.js';
import { UiAssets } from './ui-assets.js';
import { UiAuth } from './ui-auth.js';
import { UiController } from './ui.controller.js';
import { UI_ASSETS, UI_AUTH, UI_CONSOLES, UI_RUNTIME } from './ui.tokens.js';

const UI_GATEWAY = Symbol('UiConsoleGateway');

/** Attaches the console WebSocket to the conductor's HTTP server once it exists, and closes it first on shutdown. */
class GatewayLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(UI_GATEWAY) private readonly gateway: ConsoleGateway,
    @Inject(HttpAdapterHost) private readonly http: HttpAdapterHost,
  ) {}

  onApplicationBootstrap() {
    this.gateway.listen(this.http.httpAdapter.getHttpServer() as Server);
  }

  onApplicationShutdown() {
    this.gateway.close();
  }
}

/**
 * The web console (`/ui/…`): pages, assets, the node list and the console WebSocket. Registered
 * in AppModule with one line.
 */
@Module({})
export class UiModule {
  static forRuntime(rt: ConductorRuntime): DynamicModule {
    const auth = new UiAuth(rt.config.authToken);
    const consoles = new ConsoleControl(rt.nodes, rt.statuses, () => rt.membership.view);
    const gateway = new ConsoleGateway(
      { memberId: rt.config.conductorId, ...DEFAULT_GATEWAY_OPTIONS },
      auth,
      new RelayCredentials(rt.redis, rt.keys.uiRelaySecret()),
      rt.nodes,
      consoles,
      () => rt.membership.view,
      new FirstOf([
        // the node's broker on this conductor (libs/console/src/broker) ...
        new BrokerConsoles(() => (rt as { brokers?: ConsoleBrokerRegistry }).brokers),
        // ... or, for a console without one, its TCP port as Nova would connect
        new ConsolePortConsoles(rt.statuses, () => ({ id: rt.config.conductorId, incarnation: rt.membership.incarnation })),
      ]),
      rt.log,
    );
    return {
      module: UiModule,
      controllers: [UiController],
      providers: [
        { provide: UI_RUNTIME, useValue: rt },
        { provide: UI_ASSETS, useValue: new UiAssets() },
        { provide: UI_AUTH, useValue: auth },
        { provide: UI_CONSOLES, useValue: consoles },
        { provide: UI_GATEWAY, useValue: gateway },
        GatewayLifecycle,
      ],
    };
  }
}
