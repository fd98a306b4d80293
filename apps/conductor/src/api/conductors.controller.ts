import { Controller, Get, Inject, Param, Req } from '@nestjs/common';
import type { Request } from 'express';
import { ironicTimestamp, SolgateError } from '#libs/common';
import type { MemberView } from '#libs/cluster';
import type { ConductorRuntime } from '../runtime/conductor.runtime.js';
import { atLeast, links } from '#libs/ironic';
import { baseUrl } from './links.js';
import { RUNTIME } from './tokens.js';

/** Ironic's conductor resource (1.49+): the cluster's members, alive by Redis's clock. */
@Controller('v1/conductors')
export class ConductorsController {
  constructor(@Inject(RUNTIME) private readonly rt: ConductorRuntime) {}

  private async members(req: Request): Promise<MemberView[]> {
    if (!atLeast(req.apiVersion!, '1.49')) throw new SolgateError('NOT_FOUND', 'Resource could not be found.');
    return (await this.rt.membershipRepo.snapshot(this.rt.config.heartbeatTimeoutMs)).members;
  }

  @Get()
  async list(@Req() req: Request) {
    const base = baseUrl(req, this.rt.config.apiUrl);
    const members = await this.members(req);
    return {
      conductors: members.map((m) => ({ hostname: m.id, conductor_group: m.group, links: links(base, `conductors/${m.id}`), alive: m.alive })),
    };
  }

  @Get(':hostname')
  async get(@Req() req: Request, @Param('hostname') hostname: string) {
    const base = baseUrl(req, this.rt.config.apiUrl);
    const m = (await this.members(req)).find((x) => x.id === hostname);
    if (!m) throw new SolgateError('CONDUCTOR_NOT_FOUND', `Conductor ${hostname} could not be found.`);
    return {
      created_at: ironicTimestamp(m.joinedAtMs),
      updated_at: ironicTimestamp(m.lastHeartbeatMs),
      hostname: m.id,
      conductor_group: m.group,
      drivers: ['ipmi'],
      links: links(base, `conductors/${m.id}`),
      alive: m.alive,
    };
  }
}
