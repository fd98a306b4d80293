/**
 * What Nova's ironic driver sends for a serial console, against an Ironic endpoint (here: HAProxy),
 * step for step: nova/virt/ironic/driver.py `_get_node_console_with_reset` and `get_serial_console`
 * (node lookup by instance, GET console, disable and poll until disabled if it was enabled, enable and
 * poll until enabled: first poll at once, then every ~1 s, 10 s budget = [ironic]
 * serial_console_state_timeout), then the socat/tcp checks. nova-serialproxy's
 * `validate_console_port` runs the same sequence again and compares the port with the token's.
 */
export interface NovaConsole {
  host: string;
  port: number;
  /** Whole sequence, ms. */
  ms: number;
  node: string;
}

const HEADERS = { 'X-OpenStack-Ironic-API-Version': '1.78', 'X-Auth-Token': 'nova-service-token', 'Content-Type': 'application/json' };

async function call(endpoint: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
  const r = await fetch(`${endpoint}${path}`, { method, headers: HEADERS, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: r.status, json, text };
}

export async function novaGetSerialConsole(endpoint: string, instanceUuid: string, { pollMs = 1000, timeoutMs = 10_000 } = {}): Promise<NovaConsole> {
  const t0 = performance.now();
  // _validate_instance_and_node: openstacksdk nodes(instance_id=..., details=True)
  const found = await call(endpoint, 'GET', `/v1/nodes/detail?instance_uuid=${instanceUuid}`);
  if (found.status !== 200 || found.json?.nodes?.length !== 1) throw new Error(`InstanceNotFound: ${found.status} ${found.text.slice(0, 300)}`);
  const node: string = found.json.nodes[0].uuid;
  const getConsole = async () => {
    const r = await call(endpoint, 'GET', `/v1/nodes/${node}/states/console`);
    if (r.status !== 200) throw new Error(`get_node_console: ${r.status} ${r.text.slice(0, 300)}`);
    return r.json as { console_enabled: boolean; console_info: { type: string; url: string } | null };
  };
  const setMode = async (enabled: boolean) => {
    const started = performance.now();
    const r = await call(endpoint, 'PUT', `/v1/nodes/${node}/states/console`, { enabled });
    if (r.status !== 202) throw new Error(`set_node_console_mode(${enabled}): ${r.status} ${r.text.slice(0, 300)}`);
    // BackOffLoopingCall(_wait_state): the first check at once, then ~1 s apart
    for (;;) {
      const c = await getConsole();
      if (c.console_enabled === enabled) return c;
      if (performance.now() - started + pollMs > timeoutMs) throw new Error(`ConsoleNotAvailable: console still ${!enabled ? 'enabled' : 'disabled'} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  };
  const first = await getConsole();
  if (first.console_enabled) await setMode(false);
  const c = await setMode(true);
  if (!c.console_info || c.console_info.type !== 'socat') throw new Error(`ConsoleTypeUnavailable: ${JSON.stringify(c.console_info)}`);
  const url = new URL(c.console_info.url);
  if (url.protocol !== 'tcp:') throw new Error(`ConsoleTypeUnavailable: ${c.console_info.url}`);
  return { host: url.hostname, port: Number(url.port), ms: performance.now() - t0, node };
}
