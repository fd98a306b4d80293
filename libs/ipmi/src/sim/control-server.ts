import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { BmcFleet } from './fleet.js';
import type { SimBmc } from './sim-bmc.js';

/**
 * A small HTTP/JSON endpoint so tests in another process can inspect and drive a fleet started by
 * bin/solgate-bmc-sim (loopback only by default):
 *
 *   GET    /bmcs                    summary of every BMC
 *   GET    /bmcs/:index             one BMC, with its SOL history and what its node received
 *   POST   /bmcs/:index/print       body = text the node prints on its serial port
 *   POST   /bmcs/:index/power       body {"state":"on"|"off"}
 *   POST   /bmcs/:index/unresponsive body {"value":true|false}
 *   DELETE /bmcs/:index/received    forget what the node received
 */
export interface FleetControlServer {
  url: string;
  close(): Promise<void>;
}

export function summarizeBmc(b: SimBmc) {
  return {
    index: b.index,
    name: b.name,
    port: b.port,
    power: b.power,
    activeSessions: b.activeSessions,
    solOwner: b.solOwner,
    solActivations: b.solHistory.length,
    solActivationsRefused: b.solActivationsRefused,
    maxConcurrentSolSessions: b.maxConcurrentSolSessions,
    receivedBytes: b.received.length,
    unresponsive: b.unresponsive,
  };
}

export function detailBmc(b: SimBmc) {
  return { ...summarizeBmc(b), solHistory: b.solHistory, received: b.received, sessionsOpened: b.sessionsOpened, packetsDropped: b.packetsDropped };
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 1024 * 1024) throw new Error('body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('latin1');
}

function send(res: ServerResponse, status: number, value?: unknown): void {
  if (value === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

export async function startFleetControlServer(fleet: BmcFleet, opts: { port?: number; address?: string } = {}): Promise<FleetControlServer> {
  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((e: unknown) => send(res, 400, { error: e instanceof Error ? e.message : String(e) }));
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] !== 'bmcs') return send(res, 404, { error: 'not found' });
    if (parts.length === 1 && req.method === 'GET') return send(res, 200, fleet.bmcs.map(summarizeBmc));
    const b = fleet.bmcs[Number(parts[1]) - 1];
    if (!b) return send(res, 404, { error: `no BMC ${parts[1]}` });
    if (parts.length === 2 && req.method === 'GET') return send(res, 200, detailBmc(b));
    const action = `${req.method} ${parts[2]}`;
    switch (action) {
      case 'POST print':
        b.print(await body(req));
        return send(res, 204);
      case 'POST power': {
        const { state } = JSON.parse(await body(req)) as { state?: string };
        if (state !== 'on' && state !== 'off') return send(res, 400, { error: 'state must be "on" or "off"' });
        b.setPower(state);
        return send(res, 204);
      }
      case 'POST unresponsive':
        b.unresponsive = !!(JSON.parse(await body(req)) as { value?: boolean }).value;
        return send(res, 204);
      case 'DELETE received':
        b.serial.clearReceived();
        return send(res, 204);
      default:
        return send(res, 404, { error: `unknown action ${action}` });
    }
  }
  const address = opts.address ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, address, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
