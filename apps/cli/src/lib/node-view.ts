import type { ConsoleView } from '#libs/console';
import type { NodeRecord } from '#libs/nodes';
// The API's own document builder, so the CLI's JSON cannot drift from the API's.
import { nodeDocument, nodeLastError } from '#libs/ironic';

/** The microversion python-ironicclient speaks; CLI JSON matches the API's answer at this version. */
const IRONIC_1_78 = { major: 1, minor: 78 };
/** Link fields need the API's base URL, which the CLI (talking to Redis) does not have. */
const LINK_FIELDS = ['links', 'ports', 'states', 'portgroups', 'volume'];

/** A node with what the cluster says about its console right now. */
export interface NodeFacts {
  node: NodeRecord;
  console: ConsoleView;
  /** Its observed status was written by a conductor that is alive with that incarnation (console.phase.reporterLive). */
  runsOnLiveConductor: boolean;
}

/** `GET /v1/nodes/{id}` at 1.78, without the link fields. */
export function nodeJson(node: NodeRecord, v: ConsoleView): Record<string, unknown> {
  const doc = nodeDocument(node, { base: '', version: IRONIC_1_78, conductor: v.conductor, status: v.status, consoleServing: v.serving, consoleState: v.phase.label });
  for (const k of LINK_FIELDS) delete doc[k];
  return doc;
}

/**
 * `GET /v1/nodes/{id}/states/console` (console_enabled = serving, console_info), plus what an
 * operator needs to see why: intent, observed state, ring owner, the conductor that reported it.
 */
export function consoleJson(f: NodeFacts): Record<string, unknown> {
  const { node, console: v } = f;
  return {
    uuid: node.uuid,
    name: node.name,
    console_enabled: v.serving,
    console_info: v.serving ? { type: 'socat', url: v.url } : null,
    desired: node.console_enabled ? 'enabled' : 'disabled',
    state: consoleStateLabel(f),
    owner: v.conductor,
    conductor: v.status.conductor,
    conductor_group: node.conductor_group,
    console_interface: node.console_interface,
    pid: v.status.pid,
    restarts: v.status.restarts,
    last_error: nodeLastError(node, { conductor: v.conductor, status: v.status }),
    updated_at: v.status.updated_at === null ? null : new Date(v.status.updated_at).toISOString(),
  };
}

/**
 * One word for the console column: running (serving), starting, restarting, error, stopping,
 * stopped, or "no conductor" when the node's group has no live conductor (consolePhase's label,
 * the same word the API and metrics use).
 */
export function consoleStateLabel(f: NodeFacts): string {
  return f.console.phase.label;
}

export { nodeLastError };
