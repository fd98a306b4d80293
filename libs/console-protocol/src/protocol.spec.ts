import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { attachQuery, CLOSE, parseAttachQuery, parseClientMessage, shouldReconnect, tokenFromProtocols, tokenProtocol } from './protocol.js';

describe('console WebSocket protocol', () => {
  it('carries any token through a subprotocol that is a valid HTTP token, and back', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), (token) => {
        const p = tokenProtocol(token);
        expect(p).toMatch(/^[A-Za-z0-9._-]+$/);
        expect(tokenFromProtocols(['solgate.v1', p])).toBe(token);
      }),
    );
    expect(tokenFromProtocols(['solgate.v1'])).toBeUndefined();
    expect(tokenFromProtocols(['solgate.token.a+b'])).toBeUndefined();
    // Node's own base64url agrees
    expect(tokenProtocol('s3cr3t/tok+en')).toBe(`solgate.token.${Buffer.from('s3cr3t/tok+en').toString('base64url')}`);
  });

  it('reads only well-formed client messages', () => {
    expect(parseClientMessage('{"type":"take-write","force":true}')).toEqual({ type: 'take-write', force: true });
    expect(parseClientMessage('{"type":"take-write","force":"yes"}')).toEqual({ type: 'take-write', force: false });
    expect(parseClientMessage('{"type":"break"}')).toEqual({ type: 'break' });
    for (const bad of ['', 'null', '[]', '{"type":"resize","cols":80}', '{"type":1}', 'not json']) expect(parseClientMessage(bad)).toBeUndefined();
  });

  it('puts attach options in the query string and reads them back', () => {
    expect(attachQuery({})).toBe('');
    expect(attachQuery({ readOnly: true, forceWrite: true })).toBe('?read-only=1&force-write=1');
    expect(parseAttachQuery(new URLSearchParams('read-only=1'))).toEqual({ readOnly: true, forceWrite: false });
    expect(parseAttachQuery(new URLSearchParams('force-write=true&read-only=0'))).toEqual({ readOnly: false, forceWrite: true });
  });

  it('reconnects after a move or a drop, not after a detach, a disable or an unknown node', () => {
    expect(shouldReconnect(CLOSE.MOVING)).toBe(true);
    expect(shouldReconnect(1006)).toBe(true);
    expect(shouldReconnect(1001)).toBe(true);
    expect(shouldReconnect(CLOSE.UNAVAILABLE)).toBe(true);
    for (const c of [CLOSE.DETACHED, CLOSE.DISABLED, CLOSE.NOT_FOUND, CLOSE.BAD_REQUEST, 1000]) expect(shouldReconnect(c)).toBe(false);
  });
});
