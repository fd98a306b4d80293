import { Body, Controller, Get, Inject, Param, Put, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { invalidInput } from '#libs/common';
import type { ConsoleControl } from '#libs/console';
import { parseIronicBoolean } from '#libs/nodes';
import type { ConductorRuntime } from '../runtime/conductor.runtime.js';
import { atLeast } from '#libs/ironic';
import { baseUrl } from './links.js';
import { CONSOLE_CONTROL, RUNTIME } from './tokens.js';

/**
 * The console API Nova's ironic driver uses: GET answers `console_enabled: true` with a URL only
 * while the console really serves (consolePhase; its conductor's liveness read fresh, so Nova's poll
 * never hands out a dead URL); PUT records intent and answers 202 with Location, like Ironic — once
 * the owner has acted (console serving, or stopped), at most SOLGATE_CONSOLE_PUT_WAIT later, so a
 * client's first poll already sees the final state.
 */
@Controller('v1/nodes/:ident/states/console')
export class ConsoleController {
  constructor(
    @Inject(RUNTIME) private readonly rt: ConductorRuntime,
    @Inject(CONSOLE_CONTROL) private readonly consoles: ConsoleControl,
  ) {}

  @Get()
  async get(@Req() req: Request, @Param('ident') ident: string) {
    const node = await this.rt.nodes.getByIdent(ident, { allowName: atLeast(req.apiVersion!, '1.5') });
    const v = await this.consoles.get(node);
    return { console_enabled: v.serving, console_info: v.serving ? { type: 'socat', url: v.url } : null };
  }

  @Put()
  async put(@Req() req: Request, @Res() res: Response, @Param('ident') ident: string, @Body() body: unknown) {
    if (!body || typeof body !== 'object' || Array.isArray(body) || !('enabled' in body)) throw invalidInput('Missing mandatory parameter: enabled');
    const enabled = parseIronicBoolean('enabled', (body as { enabled: unknown }).enabled);
    const node = await this.rt.nodes.getByIdent(ident, { allowName: atLeast(req.apiVersion!, '1.5') });
    await this.consoles.setEnabled(node, enabled);
    const waitMs = this.rt.config.consolePutWaitMs;
    if (waitMs > 0) await this.consoles.awaitSettled(node.uuid, enabled, waitMs, this.rt.consoleEvents);
    res.status(202);
    res.setHeader('Location', `${baseUrl(req, this.rt.config.apiUrl)}/v1/nodes/${ident}/states/console`);
    res.setHeader('Content-Length', '0');
    res.end();
  }
}
