import { afterEach, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import type { ClusterView } from '#libs/cluster';
import { PROTOCOL, type ServerMessage } from '#libs/console-protocol';
import type { ConsoleControl } from '#libs/console';
import { createLogger } from '#libs/logging';
import type { NodeRepository } from '#libs/nodes';
import type { LocalConsoles } from './console-backend.js';
import { ConsoleGateway } from './console-gateway.js';
import type { RelayCredentials } from './relay-credential.js';
import { UiAuth } from './ui-auth.js';

const NODE = { uuid: '5e1f0c3a-0000-4000-8000-000000000001', name: 'n1', console_interface: 'native-ipmi-socat', console_enabled: true, conductor_group: '' };

/** One server-to-client text frame (unmasked), as a WebSocket server writes it. */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const head = payload.length < 126 ? Buffer.from([0x81, payload.length]) : Buffer.from([0x81, 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([head, payload]);
}

/**
 * A stand-in for the owner conductor that answers the relay's handshake and its `hello` in ONE
 * write, so both reach the relaying conductor in one read: what a loaded machine does now and then.
 */
function ownerAnsweringInOneWrite(hello: ServerMessage): Promise<TcpServer & { sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    let request = '';
    socket.on('error', () => undefined);
    socket.on('data', (d) => {
      request += d.toString('latin1');
      if (!request.includes('\r\n\r\n')) return;
      const key = /sec-websocket-key: *(\S+)/i.exec(request)![1];
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      const response = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: ${PROTOCOL}\r\n\r\n`;
      socket.write(Buffer.concat([Buffer.from(response, 'latin1'), textFrame(JSON.stringify(hello))]));
      socket.removeAllListeners('data');
      socket.resume();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(Object.assign(server, { sockets }))));
}

describe('ConsoleGateway relay', () => {
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const close of closers.splice(0)) close();
  });

  it('passes on the owner’s hello when it arrives in the same read as the handshake', async () => {
    const hello: ServerMessage = { type: 'hello', node: { uuid: NODE.uuid, name: NODE.name }, owner: 'c-owner', via: 'c-owner', clientId: 'v1', writer: false, replayBytes: 0 };
    const owner = await ownerAnsweringInOneWrite(hello);
    closers.push(() => {
      owner.close();
      for (const s of owner.sockets) s.destroy();
    });
    const ownerUrl = `http://127.0.0.1:${(owner.address() as AddressInfo).port}`;

    const gateway = new ConsoleGateway(
      { memberId: 'c-front', waitMs: 2000, pingIntervalMs: 60_000, maxBufferedBytes: 1 << 20 },
      new UiAuth(undefined),
      { sign: async () => 'credential' } as unknown as RelayCredentials,
      { getByIdent: async () => NODE } as unknown as NodeRepository,
      { get: async () => ({ serving: true, status: { conductor: 'c-owner' }, conductor: 'c-owner' }) } as unknown as ConsoleControl,
      () => ({ member: () => ({ apiUrl: ownerUrl }) }) as unknown as ClusterView,
      {} as LocalConsoles,
      createLogger('silent'),
    );
    const http: Server = createServer();
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    gateway.listen(http);
    closers.push(() => {
      gateway.close();
      http.closeAllConnections();
      http.close();
    });

    const client = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/ui/nodes/${NODE.uuid}/console/ws`, [PROTOCOL]);
    closers.push(() => client.terminate());
    const first = await new Promise<ServerMessage>((resolve, reject) => {
      client.on('message', (d) => resolve(JSON.parse(d.toString()) as ServerMessage));
      client.on('close', (code, reason) => reject(new Error(`closed ${code} ${reason.toString()}`)));
      setTimeout(() => reject(new Error('no message from the gateway within 3 s')), 3000).unref();
    });
    expect(first).toEqual({ ...hello, via: 'c-front' });
  });
});
