/**
 * Nova's side of a serial console, line for line, so tests and benchmarks see solgate exactly as Nova
 * does (openstack/nova master):
 * - nova/virt/ironic/driver.py: `_validate_instance_and_node` (the node looked up by instance_uuid with
 *   Nova's fields), `_get_node_console_with_reset` (GET console; if enabled: disable, poll until
 *   disabled, enable, poll until enabled; on failure one more enable) and `get_serial_console`
 *   (type must be socat, URL tcp://host:port);
 * - the polls are oslo.service's BackOffLoopingCall as Nova starts it: starting_interval 1 s, jitter
 *   0.5, timeout `[ironic] serial_console_state_timeout` (10 s): the first poll at once, then sleeps of
 *   max(interval·2·|gauss(0.5, 0.1)|, 1 ms) (about 1 s), LoopingCallTimeOut when the time slept would
 *   pass the timeout;
 * - nova/compute/manager.py `validate_console_port`, which nova-serialproxy calls before proxying: a
 *   second get_serial_console, compared by port only (as strings).
 * The HTTP calls are what openstacksdk sends for them (Nova's ironic_connection).
 */

/** Nova's _NODE_FIELDS (driver.py). */
export const NOVA_NODE_FIELDS = ['uuid', 'power_state', 'target_power_state', 'provision_state', 'target_provision_state', 'last_error', 'maintenance', 'properties', 'instance_uuid', 'traits', 'resource_class'];

export class ConsoleNotAvailable extends Error {}
export class ConsoleTypeUnavailable extends Error {}
class LoopingCallTimeOut extends Error {}

export interface NovaOptions {
  /** The Ironic endpoint Nova talks to, asked before every call (a test may move it to a survivor). */
  endpoint: () => string;
  /** `[ironic] serial_console_state_timeout`, seconds. */
  stateTimeoutS?: number;
  /** Nova's _CONSOLE_STATE_CHECKING_INTERVAL, seconds. */
  intervalS?: number;
  random?: () => number;
}

export interface SerialConsole {
  host: string;
  port: number;
  node: string;
  /** GET …/states/console calls made (Nova's polls, the first GET included). */
  polls: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class NovaIronicDriver {
  private readonly stateTimeoutS: number;
  private readonly intervalS: number;
  private readonly random: () => number;

  constructor(private readonly opts: NovaOptions) {
    this.stateTimeoutS = opts.stateTimeoutS ?? 10;
    this.intervalS = opts.intervalS ?? 1;
    this.random = opts.random ?? Math.random;
  }

  private async call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const r = await fetch(`${this.opts.endpoint()}${path}`, {
      method,
      headers: { 'X-OpenStack-Ironic-API-Version': '1.78', Accept: 'application/json', ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  }

  /** driver.py _validate_instance_and_node: exactly one node for the instance. */
  async validateInstanceAndNode(instanceUuid: string): Promise<{ uuid: string }> {
    const r = await this.call('GET', `/v1/nodes?instance_uuid=${instanceUuid}&fields=${NOVA_NODE_FIELDS.join(',')}`);
    if (r.status !== 200) throw new Error(`node lookup failed: ${r.status}`);
    const nodes = r.body.nodes as { uuid: string }[];
    if (nodes.length === 0) throw new Error(`InstanceNotFound: ${instanceUuid}`);
    if (nodes.length > 1) throw new Error(`Ironic returned more than one node for instance ${instanceUuid}`);
    return nodes[0];
  }

  /** oslo.service BackOffLoopingCall.start(starting_interval, timeout, jitter) around `fn`. */
  private async backOffLoop<T>(fn: () => Promise<{ done: T } | false>): Promise<T> {
    const jitter = 0.5;
    const minInterval = 0.001;
    const maxInterval = 300;
    let interval = this.intervalS;
    let errorTime = 0;
    for (;;) {
      const r = await fn();
      if (r) return r.done;
      const randomJitter = Math.abs(gauss(jitter, 0.1, this.random));
      const idle = Math.min(Math.max(interval * 2 * randomJitter, minInterval), maxInterval);
      interval = Math.max(interval * 2 * jitter, minInterval);
      if (this.stateTimeoutS > 0 && errorTime + idle > this.stateTimeoutS) throw new LoopingCallTimeOut(`Looping call timed out after ${(errorTime + idle).toFixed(2)} seconds`);
      errorTime += idle;
      await sleep(idle * 1000);
    }
  }

  /** driver.py _get_node_console_with_reset. */
  async getNodeConsoleWithReset(instanceUuid: string): Promise<{ node: string; console: any; polls: number }> {
    const node = await this.validateInstanceAndNode(instanceUuid);
    let polls = 0;
    const getConsole = async () => {
      polls++;
      const r = await this.call('GET', `/v1/nodes/${node.uuid}/states/console`);
      if (r.status >= 400) throw new ConsoleNotAvailable(`GET console: ${r.status}`);
      return r.body;
    };
    const enableConsole = async (mode: boolean) => {
      const r = await this.call('PUT', `/v1/nodes/${node.uuid}/states/console`, { enabled: mode });
      if (r.status >= 400) throw new ConsoleNotAvailable(`PUT console ${mode}: ${r.status}`);
      try {
        return await this.backOffLoop(async () => {
          const console = await getConsole();
          return console.console_enabled === mode ? { done: console } : false;
        });
      } catch (e) {
        if (e instanceof LoopingCallTimeOut) throw new ConsoleNotAvailable(`timed out waiting for console_enabled=${mode}`);
        throw e;
      }
    };
    let console = await getConsole();
    if (console.console_enabled) {
      try {
        await enableConsole(false);
        console = await enableConsole(true);
      } catch (e) {
        if (!(e instanceof ConsoleNotAvailable)) throw e;
        console = await enableConsole(true);
      }
    }
    if (console.console_enabled) return { node: node.uuid, console: console.console_info, polls };
    throw new ConsoleNotAvailable('console is disabled');
  }

  /** driver.py get_serial_console. */
  async getSerialConsole(instanceUuid: string): Promise<SerialConsole> {
    let result;
    try {
      result = await this.getNodeConsoleWithReset(instanceUuid);
    } catch (e) {
      if (e instanceof ConsoleNotAvailable) throw new ConsoleTypeUnavailable(`serial: ${e.message}`);
      throw e;
    }
    if (result.console?.type !== 'socat') throw new ConsoleTypeUnavailable(`console type ${result.console?.type}`);
    const m = /^([a-z]+):\/\/\[?([^\]/]+?)\]?:(\d+)$/.exec(result.console.url ?? '');
    if (!m) throw new ConsoleTypeUnavailable(`invalid socat console URL ${result.console.url}`);
    if (m[1] !== 'tcp') throw new ConsoleTypeUnavailable(`socat console URL is not tcp: ${result.console.url}`);
    return { host: m[2], port: Number(m[3]), node: result.node, polls: result.polls };
  }

  /** compute/manager.py validate_console_port: the port of a fresh get_serial_console, as strings. */
  async validateConsolePort(instanceUuid: string, port: string): Promise<{ valid: boolean; console: SerialConsole }> {
    const console = await this.getSerialConsole(instanceUuid);
    return { valid: String(console.port) === port, console };
  }
}

/** Python's random.gauss(mu, sigma) (Box-Muller). */
function gauss(mu: number, sigma: number, random: () => number): number {
  const u = 1 - random();
  const v = random();
  return mu + sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
