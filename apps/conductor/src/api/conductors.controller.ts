import { Controller, Get, Inject, Param, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import { SolgateError } from '#libs/common';
import type { MemberView } from '#libs/cluster';
import {
  atLeast,
  checkConductorFields,
  checkFieldsAllowed,
  conductorDocument,
  conductorNextLink,
  parseConductorListQuery,
  parseQueryArgs,
  sortConductors,
  type ConductorFacts,
} from '#libs/ironic';
import type { ConductorRuntime } from '../runtime/conductor.runtime.js';
import { baseUrl } from './links.js';
import { RUNTIME } from './tokens.js';

/**
 * Ironic's conductor resource (1.49+): the cluster's members as the membership repository reports
 * them, `alive` by Redis's clock; `fields`, `detail` and paging as Ironic has them.
 */
@Controller('v1/conductors')
export class ConductorsController {
  constructor(@Inject(RUNTIME) private readonly rt: ConductorRuntime) {}

  private async members(req: Request): Promise<ConductorFacts[]> {
    if (!atLeast(req.apiVersion!, '1.49')) throw new SolgateError('NOT_FOUND', 'Resource could not be found.');
    return (await this.rt.membershipRepo.snapshot(this.rt.config.heartbeatTimeoutMs)).members.map(facts);
  }

  @Get()
  async list(@Req() req: Request, @Query() raw: Record<string, unknown>) {
    const base = baseUrl(req, this.rt.config.apiUrl);
    const members = await this.members(req);
    const q = parseConductorListQuery(raw, req.apiVersion!);
    const sorted = sortConductors(members, q.sortKey, q.sortDir);
    let start = 0;
    if (q.marker !== undefined) {
      start = sorted.findIndex((c) => c.hostname === q.marker) + 1;
      if (start === 0) throw new SolgateError('CONDUCTOR_NOT_FOUND', `Conductor ${q.marker} could not be found.`);
    }
    const page = sorted.slice(start, start + q.limit);
    const out: Record<string, unknown> = { conductors: page.map((c) => conductorDocument(c, base, q.fields)) };
    if (page.length > 0 && page.length === q.limit) out.next = conductorNextLink(base, q, page[page.length - 1].hostname);
    return out;
  }

  @Get(':hostname')
  async get(@Req() req: Request, @Param('hostname') hostname: string, @Query() raw: Record<string, unknown>) {
    const base = baseUrl(req, this.rt.config.apiUrl);
    const members = await this.members(req);
    const { fields } = parseQueryArgs(raw, { fields: 'string_list' }) as { fields?: string[] };
    checkFieldsAllowed(fields, req.apiVersion!);
    const m = members.find((x) => x.hostname === hostname);
    if (!m) throw new SolgateError('CONDUCTOR_NOT_FOUND', `Conductor ${hostname} could not be found.`);
    checkConductorFields(fields);
    return conductorDocument(m, base, fields);
  }
}

function facts(m: MemberView): ConductorFacts {
  return { hostname: m.id, conductorGroup: m.group, alive: m.alive, createdAtMs: m.joinedAtMs, updatedAtMs: m.lastHeartbeatMs };
}
