import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { SolgateError } from '#libs/common';
import type { ConsoleControl } from '#libs/console';
import type { NodeRecord, NodeService } from '#libs/nodes';
import type { ConductorRuntime } from '../runtime/conductor.runtime.js';
import { atLeast, fieldTooNew, nodeDocument, nodeListItem, patchTooNew, selectFields, statesDocument, type ApiVersion } from '#libs/ironic';
import { baseUrl } from './links.js';
import { CONSOLE_CONTROL, NODE_SERVICE, RUNTIME } from './tokens.js';

const notAcceptable = () => new SolgateError('NOT_ACCEPTABLE', 'Request not acceptable.');

/** Node records, Ironic-shaped. Any conductor answers: everything is read from and written to Redis. */
@Controller('v1/nodes')
export class NodesController {
  constructor(
    @Inject(RUNTIME) private readonly rt: ConductorRuntime,
    @Inject(NODE_SERVICE) private readonly nodeService: NodeService,
    @Inject(CONSOLE_CONTROL) private readonly consoles: ConsoleControl,
  ) {}

  private base(req: Request) {
    return baseUrl(req, this.rt.config.apiUrl);
  }

  /** Names are looked up from 1.5 on; before that only UUIDs (as Ironic). */
  private find(ident: string, version: ApiVersion): Promise<NodeRecord> {
    return this.rt.nodes.getByIdent(ident, { allowName: atLeast(version, '1.5') });
  }

  private async document(node: NodeRecord, req: Request) {
    const v = await this.consoles.get(node);
    return nodeDocument(node, { base: this.base(req), version: req.apiVersion!, conductor: v.conductor, status: v.status, consoleServing: v.serving });
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
  async list(@Req() req: Request, @Query() q: Record<string, string>) {
    return this.listNodes(req, q, ['true', '1', 'yes', 'on'].includes(String(q.detail ?? '').toLowerCase()));
  }

  @Get('detail')
  async detail(@Req() req: Request, @Query() q: Record<string, string>) {
    return this.listNodes(req, q, true);
  }

  private async listNodes(req: Request, q: Record<string, string>, detail: boolean) {
    const limit = q.limit !== undefined ? Number(q.limit) : undefined;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) throw new SolgateError('INVALID_INPUT', `Invalid limit ${JSON.stringify(q.limit)}: a non-negative integer.`);
    const uuids = await this.rt.nodes.listUuids({ limit: limit || undefined, marker: q.marker });
    const nodes = await this.rt.nodes.getMany(uuids);
    const base = this.base(req);
    let docs: Record<string, unknown>[];
    if (detail) {
      const views = await this.consoles.getMany(nodes);
      docs = nodes.map((n, i) =>
        nodeDocument(n, { base, version: req.apiVersion!, conductor: views[i].conductor, status: views[i].status, consoleServing: views[i].serving }),
      );
    } else docs = nodes.map((n) => nodeListItem(n, base, req.apiVersion!));
    const out: Record<string, unknown> = { nodes: docs.map((d) => selectFields(d, q.fields)) };
    if (limit && nodes.length === limit) out.next = `${base}/v1/nodes${detail ? '/detail' : ''}?limit=${limit}&marker=${nodes[nodes.length - 1].uuid}`;
    return out;
  }

  @Get(':ident')
  async get(@Req() req: Request, @Param('ident') ident: string, @Query('fields') fields?: string) {
    return selectFields(await this.document(await this.find(ident, req.apiVersion!), req), fields);
  }

  @Patch(':ident')
  async patch(@Req() req: Request, @Param('ident') ident: string, @Body() ops: unknown) {
    const version = req.apiVersion!;
    if (Array.isArray(ops) && patchTooNew(ops, version)) throw notAcceptable();
    const node = await this.find(ident, version);
    return this.document(await this.nodeService.patch(node, ops), req);
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
