import { Controller, Get, Head, Inject, Param, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { ConductorRuntime } from '../runtime/conductor.runtime.js';
import { SOLGATE_VERSION } from '../runtime/conductor.runtime.js';
import { ironicErrorBody, sendJson } from '../api/ironic-error.js';
import { listNodes } from './node-list.js';
import { securityHeaders, UiAssets } from './ui-assets.js';
import { UiAuth } from './ui-auth.js';
import { UI_ASSETS, UI_AUTH, UI_CONSOLES, UI_RUNTIME } from './ui.tokens.js';
import type { ConsoleControl } from '#libs/console';

/**
 * The web console's pages, assets and the two JSON documents the pages read. Pages and assets are
 * public (they carry no data); /ui/api/* needs X-Auth-Token when SOLGATE_AUTH_TOKEN is set.
 */
@Controller('ui')
export class UiController {
  constructor(
    @Inject(UI_RUNTIME) private readonly rt: ConductorRuntime,
    @Inject(UI_ASSETS) private readonly assets: UiAssets,
    @Inject(UI_AUTH) private readonly auth: UiAuth,
    @Inject(UI_CONSOLES) private readonly consoles: ConsoleControl,
  ) {}

  @Get()
  @Head()
  nodesPage(@Req() req: Request, @Res() res: Response) {
    if (!req.originalUrl.split('?')[0].endsWith('/')) return res.redirect(308, `/ui/${req.originalUrl.slice('/ui'.length)}`);
    this.assets.sendPage(req, res, 'nodes');
  }

  @Get('nodes/:ident/console')
  @Head('nodes/:ident/console')
  consolePage(@Req() req: Request, @Res() res: Response) {
    this.assets.sendPage(req, res, 'console');
  }

  @Get('assets/:file')
  @Head('assets/:file')
  asset(@Req() req: Request, @Res() res: Response, @Param('file') file: string) {
    this.assets.sendAsset(req, res, file);
  }

  @Get('api/session')
  session(@Req() req: Request, @Res() res: Response) {
    if (!this.authorized(req, res)) return;
    this.json(res, { authRequired: this.auth.required, conductor: this.rt.config.conductorId, version: SOLGATE_VERSION });
  }

  @Get('api/nodes')
  async nodes(@Req() req: Request, @Res() res: Response, @Query() q: Record<string, unknown>) {
    if (!this.authorized(req, res)) return;
    const str = (v: unknown) => (typeof v === 'string' && v.length <= 256 ? v : undefined);
    const limit = Number(str(q.limit) ?? NaN);
    const list = await listNodes(this.rt.nodes, this.rt.statuses, this.consoles, {
      q: str(q.q),
      state: str(q.state),
      group: str(q.group),
      limit: Number.isInteger(limit) ? limit : undefined,
    });
    this.json(res, { conductor: this.rt.config.conductorId, ...list });
  }

  private authorized(req: Request, res: Response): boolean {
    if (this.auth.accepts(req.header('X-Auth-Token'))) return true;
    securityHeaders(res);
    sendJson(res, 401, ironicErrorBody(401, 'The request you have made requires authentication.'));
    return false;
  }

  private json(res: Response, body: unknown) {
    securityHeaders(res);
    res.setHeader('Cache-Control', 'no-store');
    sendJson(res, 200, JSON.stringify(body));
  }
}
