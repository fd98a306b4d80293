import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Put, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { SolgateError } from '#libs/common';
import type { ConsoleControl } from '#libs/console';
import {
  atLeast,
  checkFieldsAllowed,
  checkNodeFields,
  fieldTooNew,
  parseNodeListQuery,
  parseQueryArgs,
  patchTooNew,
  statesDocument,
  type ApiVersion,
} from '#libs/ironic';
import { validateTraits, type NodeRecord, type NodeService } from '#libs/nodes';
import type { ConductorRuntime } from '../runtime/conductor.runtime.js';
import { baseUrl } from './links.js';
import { NodeListing } from './node-listing.js';
import { CONSOLE_CONTROL, NODE_SERVICE, RUNTIME } from './tokens.js';

const notAcceptable = () => new SolgateError('NOT_ACCEPTABLE', 'Request not acceptable.');
/** What Ironic answers for an endpoint newer than the requested microversion. */
const notFound = () => new SolgateError('NOT_FOUND', 'Resource could not be found.');

/** Node records, Ironic-shaped. Any conductor answers: everything is read from and written to Redis. */
@Controller('v1/nodes')
export class NodesController {
  private readonly listing: NodeListing;

  constructor(
    @Inject(RUNTIME) private readonly rt: ConductorRuntime,
    @Inject(NODE_SERVICE) private readonly nodeService: NodeService,
    @Inject(CONSOLE_CONTROL) private readonly consoles: ConsoleControl,
  ) {
    this.listing = new NodeListing(rt.nodes, consoles, () => rt.membership.view);
  }

  private base(req: Request) {
    return baseUrl(req, this.rt.config.apiUrl);
  }

  /** Names are looked up from 1.5 on; before that only UUIDs (as Ironic). */
  private find(ident: string, version: ApiVersion): Promise<NodeRecord> {
    return this.rt.nodes.getByIdent(ident, { allowName: atLeast(version, '1.5') });
  }

  private async document(node: NodeRecord, req: Request, fields?: string[]) {
    const [doc] = await this.listing.render([node], fields, this.base(req), req.apiVersion!);
    return doc;
  }

  @Post()
  async create(@Req() req: Request, @Res() res: Response, @Body() body: unknown) {
    const version = req.apiVersion!;
    if (body && typeof body === 'object' && !Array.isArray(body) && fieldTooNew(body as Record<string, unknown>, version)) throw notAcceptable();
    const node = await this.nodeService.create(body, { provisionState: atLeast(version, '1.11') ? 'enroll' : 'available' });
    res.status(201).setHeader('Location', `${this.base(req)}/v1/nodes/${node.uuid}`);
    res.json(await this.document(node, req));
  }

  @Get()
  async list(@Req() req: Request, @Query() q: Record<string, unknown>) {
    return this.listing.list(parseNodeListQuery(q, req.apiVersion!, 'nodes'), this.base(req), req.apiVersion!);
  }

  /** Nova's driver (and ironicclient's `node show --instance`) call this with ?instance_uuid=. */
  @Get('detail')
  async detail(@Req() req: Request, @Query() q: Record<string, unknown>) {
    return this.listing.list(parseNodeListQuery(q, req.apiVersion!, 'nodes/detail'), this.base(req), req.apiVersion!);
  }

  @Get(':ident')
  async get(@Req() req: Request, @Param('ident') ident: string, @Query() q: Record<string, unknown>) {
    const { fields } = parseQueryArgs(q, { fields: 'string_list' }) as { fields?: string[] };
    const node = await this.find(ident, req.apiVersion!);
    if (fields !== undefined && !atLeast(req.apiVersion!, '1.8')) throw notAcceptable();
    checkFieldsAllowed(fields, req.apiVersion!);
    if (fields) checkNodeFields(fields);
    return this.document(node, req, fields);
  }

  @Patch(':ident')
  async patch(@Req() req: Request, @Param('ident') ident: string, @Body() ops: unknown) {
    const version = req.apiVersion!;
    if (Array.isArray(ops) && patchTooNew(ops, version)) throw notAcceptable();
    const node = await this.find(ident, version);
    return this.document(await this.nodeService.patch(node, ops), req);
  }

  /** Ironic's `node maintenance set` (reason optional): 202, empty body. */
  @Put(':ident/maintenance')
  async setMaintenance(@Req() req: Request, @Res() res: Response, @Param('ident') ident: string, @Body() body: unknown) {
    const args = { ...(req.query as Record<string, unknown>), ...(body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {}) };
    const reason = args.reason === null ? undefined : args.reason;
    const { reason: r } = parseQueryArgs({ ...args, reason }, { reason: 'string' }) as { reason?: string };
    await this.nodeService.setMaintenance(await this.find(ident, req.apiVersion!), true, r ?? null);
    accepted(res);
  }

  @Delete(':ident/maintenance')
  async clearMaintenance(@Req() req: Request, @Res() res: Response, @Param('ident') ident: string) {
    await this.nodeService.setMaintenance(await this.find(ident, req.apiVersion!), false);
    accepted(res);
  }

  /** Ironic's traits endpoints (1.37+): list, replace all, add one, remove one or all. */
  @Get(':ident/traits')
  async traits(@Req() req: Request, @Param('ident') ident: string) {
    if (!atLeast(req.apiVersion!, '1.37')) throw notFound();
    return { traits: (await this.find(ident, req.apiVersion!)).traits };
  }

  @Put(':ident/traits')
  @HttpCode(204)
  async replaceTraits(@Req() req: Request, @Param('ident') ident: string, @Body() body: unknown) {
    if (!atLeast(req.apiVersion!, '1.37')) throw notFound();
    const node = await this.find(ident, req.apiVersion!);
    const traits = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>).traits : undefined;
    const extra = body && typeof body === 'object' && !Array.isArray(body) ? Object.keys(body).filter((k) => k !== 'traits') : [];
    if (extra.length > 0) throw new SolgateError('INVALID_INPUT', `Schema error for body: Additional properties are not allowed (${extra.map((k) => `'${k}'`).join(', ')} ${extra.length === 1 ? 'was' : 'were'} unexpected)`);
    if (traits === undefined)
      throw new SolgateError(
        'INVALID_INPUT',
        'A single node trait may be added via PUT /v1/nodes/<node identifier>/traits/<trait> with no body, or all node traits may be replaced via PUT /v1/nodes/<node identifier>/traits with the list of traits specified in the request body.',
      );
    await this.nodeService.setTraits(node, traits);
  }

  @Put(':ident/traits/:trait')
  async addTrait(@Req() req: Request, @Res() res: Response, @Param('ident') ident: string, @Param('trait') trait: string) {
    if (!atLeast(req.apiVersion!, '1.37')) throw notFound();
    const node = await this.find(ident, req.apiVersion!);
    validateTraits([trait]);
    await this.nodeService.setTraits(node, [...node.traits, trait]);
    res.status(204).setHeader('Location', `${this.base(req)}/v1/nodes/${ident}/traits/${trait}`);
    res.end();
  }

  @Delete(':ident/traits')
  @HttpCode(204)
  async removeTraits(@Req() req: Request, @Param('ident') ident: string) {
    if (!atLeast(req.apiVersion!, '1.37')) throw notFound();
    await this.nodeService.setTraits(await this.find(ident, req.apiVersion!), []);
  }

  @Delete(':ident/traits/:trait')
  @HttpCode(204)
  async removeTrait(@Req() req: Request, @Param('ident') ident: string, @Param('trait') trait: string) {
    if (!atLeast(req.apiVersion!, '1.37')) throw notFound();
    const node = await this.find(ident, req.apiVersion!);
    if (!node.traits.includes(trait)) throw new SolgateError('NOT_FOUND', `Node ${node.uuid} doesn't have a trait '${trait}'`);
    await this.nodeService.setTraits(node, node.traits.filter((t) => t !== trait));
  }

  @Delete(':ident')
  @HttpCode(204)
  async delete(@Req() req: Request, @Param('ident') ident: string) {
    const node = await this.find(ident, req.apiVersion!);
    await this.consoles.deleteNode(node, Math.max(this.rt.config.subprocessTimeoutMs, 5000) + this.rt.config.killTimeoutMs);
  }

  @Get(':ident/states')
  async states(@Req() req: Request, @Param('ident') ident: string) {
    const node = await this.find(ident, req.apiVersion!);
    const v = await this.consoles.get(node);
    return statesDocument(node, { conductor: v.conductor, status: v.status, version: req.apiVersion! });
  }
}

/** Ironic's 202 for an accepted state change: no body, no Content-Type. */
function accepted(res: Response): void {
  res.status(202);
  res.setHeader('Content-Length', '0');
  res.end();
}
