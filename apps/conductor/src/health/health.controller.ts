import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { errorMessage } from '#libs/common';
import type { ConductorRuntime } from '../runtime/conductor.runtime.js';
import { RUNTIME } from '../api/tokens.js';

/** Liveness (/healthz: the process answers) and readiness (/readyz: Redis reachable and registered). */
@Controller()
export class HealthController {
  constructor(@Inject(RUNTIME) private readonly rt: ConductorRuntime) {}

  @Get('healthz')
  healthz() {
    return { status: 'ok' };
  }

  @Get('readyz')
  async readyz(@Res() res: Response) {
    const problems: string[] = [];
    try {
      await Promise.race([this.rt.redis.ping(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout after 1 s')), 1000).unref())]);
    } catch (e) {
      problems.push(`redis: ${errorMessage(e)}`);
    }
    if (!this.rt.membership.registered) problems.push(`membership: not registered (${this.rt.membership.membershipState})`);
    else if (!this.rt.membership.leaseValid()) problems.push('membership: lease lapsed (self-fenced)');
    res.status(problems.length ? 503 : 200).json({ status: problems.length ? 'not ready' : 'ready', member: this.rt.config.conductorId, problems });
  }
}
