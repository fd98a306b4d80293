import { Inject, Module, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import { BrokerConsoles } from './broker.backend.js';
import type { ConductorRuntime } from '../runtime/conductor.runtime.js';
import { ConsoleGateway, DEFAULT_GATEWAY_OPTIONS } from './console-gateway.js';
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
    // the runtime's: a node's owner is checked fresh in Redis (a killed owner is noticed at once)
    const consoles = rt.consoles;
    const gateway = new ConsoleGateway(
      { memberId: rt.config.conductorId, ...DEFAULT_GATEWAY_OPTIONS },
      auth,
      new RelayCredentials(rt.redis, rt.keys.uiRelaySecret()),
      rt.nodes,
      consoles,
      () => rt.membership.view,
      // every console interface has a broker on its owner: clients attach to it in-process
      new BrokerConsoles(rt.consoleBrokers),
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
