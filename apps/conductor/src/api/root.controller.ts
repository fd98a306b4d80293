import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { ConductorRuntime } from '../runtime/conductor.runtime.js';
import { MAX_VERSION, MIN_VERSION } from '#libs/ironic';
import { baseUrl } from './links.js';
import { RUNTIME } from './tokens.js';

/** The version documents clients negotiate with: `GET /` and `GET /v1` (with or without the slash). */
@Controller()
export class RootController {
  constructor(@Inject(RUNTIME) private readonly rt: ConductorRuntime) {}

  private version(base: string) {
    return { id: 'v1', links: [{ href: `${base}/v1/`, rel: 'self' }], status: 'CURRENT', min_version: MIN_VERSION, version: MAX_VERSION };
  }

  @Get()
  root(@Req() req: Request, @Res() res: Response) {
    const base = baseUrl(req, this.rt.config.apiUrl);
    res.setHeader('Openstack-Request-Id', `req-${crypto.randomUUID()}`);
    res.json({
      name: 'OpenStack Ironic API',
      description: 'solgate: Ironic-compatible serial consoles for bare-metal nodes (node and console API subset).',
      default_version: this.version(base),
      versions: [this.version(base)],
    });
  }

  @Get(['v1', 'v1/'])
  v1(@Req() req: Request) {
    const base = baseUrl(req, this.rt.config.apiUrl);
    const res = (name: string) => [
      { href: `${base}/v1/${name}/`, rel: 'self' },
      { href: `${base}/${name}/`, rel: 'bookmark' },
    ];
    return {
      id: 'v1',
      links: [
        { href: `${base}/v1/`, rel: 'self' },
        { href: 'https://docs.openstack.org//ironic/latest/contributor//webapi.html', rel: 'describedby', type: 'text/html' },
      ],
      media_types: { base: 'application/json', type: 'application/vnd.openstack.ironic.v1+json' },
      chassis: res('chassis'),
      nodes: res('nodes'),
      ports: res('ports'),
      drivers: res('drivers'),
      version: this.version(base),
    };
  }
}
