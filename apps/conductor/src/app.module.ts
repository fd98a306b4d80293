import { Inject, Module, type DynamicModule, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { ConsoleControl } from '#libs/console';
import { NodeService } from '#libs/nodes';
import { ConductorsController } from './api/conductors.controller.js';
import { ConsoleController } from './api/console.controller.js';
import { IronicExceptionFilter } from './api/ironic-exception.filter.js';
import { NodesController } from './api/nodes.controller.js';
import { RootController } from './api/root.controller.js';
import { CONSOLE_CONTROL, NODE_SERVICE, RUNTIME } from './api/tokens.js';
import { HealthController } from './health/health.controller.js';
import { MetricsController } from './health/metrics.controller.js';
import type { ConductorRuntime } from './runtime/conductor.runtime.js';

/** The periodic full reconcile pass and the listener check, through @nestjs/schedule (intervals from config). */
class ReconcileScheduler implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    @Inject(RUNTIME) private readonly rt: ConductorRuntime,
    @Inject(SchedulerRegistry) private readonly scheduler: SchedulerRegistry,
  ) {}

  onApplicationBootstrap() {
    this.scheduler.addInterval('reconcile', setInterval(() => void this.rt.reconcile(), this.rt.config.reconcileIntervalMs));
    this.scheduler.addInterval('check-listeners', setInterval(() => void this.rt.supervisor.checkListeners(), this.rt.config.subprocessCheckingIntervalMs));
  }

  onModuleDestroy() {
    for (const name of ['reconcile', 'check-listeners']) if (this.scheduler.doesExist('interval', name)) this.scheduler.deleteInterval(name);
  }
}

@Module({})
export class AppModule {
  static forRuntime(rt: ConductorRuntime): DynamicModule {
    return {
      module: AppModule,
      imports: [ScheduleModule.forRoot()],
      controllers: [RootController, NodesController, ConsoleController, ConductorsController, HealthController, MetricsController],
      providers: [
        { provide: RUNTIME, useValue: rt },
        {
          provide: NODE_SERVICE,
          useValue: new NodeService(rt.nodes, { range: rt.config.portRange, allowPrivileged: rt.config.allowPrivilegedPorts, allowOutsideRange: rt.config.allowPortsOutsideRange }),
        },
        { provide: CONSOLE_CONTROL, useValue: new ConsoleControl(rt.nodes, rt.statuses, () => rt.membership.view) },
        { provide: APP_FILTER, useFactory: () => new IronicExceptionFilter(rt.log) },
        ReconcileScheduler,
      ],
    };
  }
}
