import { All, Controller, Inject, Param, Req } from '@nestjs/common';
import type { Request } from 'express';
import { invalidInput } from '#libs/common';
import { atLeast } from '#libs/ironic';
import type { ConductorRuntime } from '../runtime/conductor.runtime.js';
import { RUNTIME } from './tokens.js';

/**
 * Everything of Ironic's API (as python-ironicclient's `baremetal` drives it) that solgate does not
 * implement answers like an Ironic whose feature is unavailable: 400 with Ironic's error body, the
 * way Ironic refuses a feature a node's driver lacks (UnsupportedDriverExtension, an Invalid: 400,
 * e.g. a console on a no-console node), and saying that this service does not support the call.
 * Not 404: clients read that as "the node is missing" (openstacksdk's ResourceNotFound, Nova's
 * InstanceNotFound). Not 405: the method is not the problem. Not 501: a 5xx reads as a server fault
 * that clients and monitoring retry or page on. A node-scoped call on a missing node is still
 * Ironic's 404 "Node X could not be found.", checked first as Ironic does.
 */

/** [path under /v1/nodes/{ident}/, what it is]: the node sub-resources of Ironic's API up to 1.82. */
const NODE_FEATURES: [string, string][] = [
  ['states/power', 'Power management'],
  ['states/provision', 'Provisioning (deploy, clean, inspect, manage, rescue...)'],
  ['states/raid', 'RAID configuration'],
  ['states/boot_mode', 'Boot mode management'],
  ['states/secure_boot', 'Secure boot management'],
  ['management/boot_device{/*rest}', 'Boot device management'],
  ['management/inject_nmi', 'NMI injection'],
  ['management/indicators{/*rest}', 'Indicator management'],
  ['validate', 'Driver interface validation'],
  ['vendor_passthru{/*rest}', 'Vendor passthru'],
  ['vifs{/*rest}', 'VIF attachment'],
  ['bios{/*rest}', 'BIOS settings'],
  ['history{/*rest}', 'Node history'],
  ['inventory', 'Hardware inventory'],
  ['ports{/*rest}', 'Ports'],
  ['portgroups{/*rest}', 'Port groups'],
  ['volume{/*rest}', 'Volume connectors and targets'],
  ['allocation', 'Allocations'],
];

/** [top-level collection, what it is]. */
const COLLECTION_FEATURES: [string, string][] = [
  ['ports', 'Ports'],
  ['portgroups', 'Port groups'],
  ['chassis', 'Chassis'],
  ['drivers', 'Driver information and driver vendor passthru'],
  ['volume', 'Volume connectors and targets'],
  ['allocations', 'Allocations'],
  ['deploy_templates', 'Deploy templates'],
  ['events', 'Events'],
  ['shards', 'Shards'],
  ['lookup', 'The ramdisk lookup API'],
  ['heartbeat', 'The ramdisk heartbeat API'],
];

const NODE_PATTERNS = NODE_FEATURES.map(([path, feature]) => ({ re: new RegExp(`^/v1/nodes/[^/]+/${path.replace('{/*rest}', '(/.*)?')}/?$`), feature }));
const COLLECTION_PATTERNS = COLLECTION_FEATURES.map(([name, feature]) => ({ re: new RegExp(`^/v1/${name}(/.*)?$`), feature }));

const scope = "solgate implements Ironic's node records and serial consoles only";

export function notSupported(feature: string, req: Pick<Request, 'method' | 'path'>) {
  return invalidInput(`${feature} ${feature.endsWith('s') && !feature.endsWith('ss') ? 'are' : 'is'} not supported by this service: ${scope} (${req.method} ${req.path}).`);
}

@Controller()
export class UnsupportedController {
  constructor(@Inject(RUNTIME) private readonly rt: ConductorRuntime) {}

  @All(NODE_FEATURES.map(([path]) => `v1/nodes/:ident/${path}`))
  async nodeScoped(@Req() req: Request, @Param('ident') ident: string): Promise<never> {
    await this.rt.nodes.getByIdent(ident, { allowName: atLeast(req.apiVersion!, '1.5') });
    throw notSupported(NODE_PATTERNS.find((p) => p.re.test(req.path))?.feature ?? 'This call', req);
  }

  @All(COLLECTION_FEATURES.flatMap(([name]) => [`v1/${name}`, `v1/${name}/{*rest}`]))
  collection(@Req() req: Request): never {
    throw notSupported(COLLECTION_PATTERNS.find((p) => p.re.test(req.path))?.feature ?? 'This call', req);
  }
}
