import { randomBytes } from 'node:crypto';
import type { ConductorProcess } from './conductor-process.js';
import type { IpmiSimBmc } from './ipmi-sim.js';
import { findProcesses } from './procs.js';
import { waitFor } from './wait.js';

/** A key prefix no other test uses (tests share nothing in Redis). */
export const uniquePrefix = (name: string) => `t-${name}-${randomBytes(3).toString('hex')}`;

/** Enrol a node for an ipmi_sim BMC through the API; returns its uuid. */
export async function enrol(c: ConductorProcess, bmc: IpmiSimBmc, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await c.api('POST', '/v1/nodes', { name: bmc.nodeName, driver: 'ipmi', console_interface: 'ipmitool-socat', driver_info: bmc.driverInfo(), ...extra });
  if (r.status !== 201) throw new Error(`enrol failed: ${r.status} ${r.text}`);
  return r.body.uuid;
}

export async function setConsole(c: ConductorProcess, ident: string, enabled: boolean): Promise<void> {
  const r = await c.api('PUT', `/v1/nodes/${ident}/states/console`, { enabled });
  if (r.status !== 202) throw new Error(`console ${enabled} failed: ${r.status} ${r.text}`);
}

/** Poll GET states/console as Nova does until the console serves; returns its URL. */
export async function waitConsoleUrl(c: ConductorProcess, ident: string, timeoutMs = 10_000, notUrl?: string): Promise<string> {
  return waitFor(
    async () => {
      const r = await c.api('GET', `/v1/nodes/${ident}/states/console`);
      const url = r.body?.console_enabled ? (r.body.console_info?.url as string) : undefined;
      return url && url !== notUrl ? url : undefined;
    },
    { timeoutMs, intervalMs: 10, what: `console of ${ident} to serve` },
  );
}

/** socat, ipmitool and client relay processes that mention a node (its uuid appears in their pid/argv/socket paths). */
export function consoleProcessesOf(uuid: string) {
  return findProcesses(uuid).filter((p) => /socat|ipmitool|sol-session|console-relay/.test(p.argv.join(' ')));
}
