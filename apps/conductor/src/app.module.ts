import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { NodeService } from '#libs/nodes';
import { ConductorsController } from './api/conductors.controller.js';
import { ConsoleController } from './api/console.controller.js';
import { IronicExceptionFilter } from './api/ironic-exception.filter.js';
import { NodesController } from './api/nodes.controller.js';
import { RootController } from './api/root.controller.js';
import { UnsupportedController } from './api/unsupported.controller.js';
import { CONSOLE_CONTROL, NODE_SERVICE, RUNTIME } from './api/tokens.js';
import { HealthController } from './health/health.controller.js';
import { MetricsController } from './health/metrics.controller.js';
import type { ConductorRuntime } from './runtime/conductor.runtime.js';
import { UiModule } from './ui/ui.module.js';

/** The HTTP layer around a ConductorRuntime (which owns everything else, its timers included). */
@Module({})
export class AppModule {
  static forRuntime(rt: ConductorRuntime): DynamicModule {
    return {
      module: AppModule,
      imports: [UiModule.forRuntime(rt)],
      controllers: [RootController, NodesController, ConsoleController, ConductorsController, UnsupportedController, HealthController, MetricsController],
      providers: [
        { provide: RUNTIME, useValue: rt },
        {
          provide: NODE_SERVICE,
          useValue: new NodeService(rt.nodes, { range: rt.config.portRange, allowPrivileged: rt.config.allowPrivilegedPorts, allowOutsideRange: rt.config.allowPortsOutsideRange }),
        },
        { provide: CONSOLE_CONTROL, useValue: rt.consoles },
        { provide: APP_FILTER, useFactory: () => new IronicExceptionFilter(rt.log) },
      ],
    };
  }
}
