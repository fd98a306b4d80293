import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, chownSync, copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeTestCertificates, type TestCertificates } from '#libs/testing';
import { checkConsoleTls, ConsoleTlsError } from './console-tls.js';

describe('checkConsoleTls (the conductor refuses console TLS files socat could not use)', () => {
  let certs: TestCertificates;
  beforeAll(() => {
    certs = makeTestCertificates();
  });
  afterAll(() => certs.remove());

  it('accepts a certificate with its key, and a client CA; summarises them for the start log', () => {
    const s = checkConsoleTls({ certFile: certs.serverCert, keyFile: certs.serverKey, caFile: certs.caCert });
    expect(s.subject).toBe('CN=solgate console');
    expect(s.issuer).toBe('CN=solgate test CA');
    expect(s.clientCa).toBe('CN=solgate test CA');
    expect(s.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(s.warnings).toEqual([expect.stringContaining('expires on')]); // a one-day certificate
  });

  it.each([
    ['a missing certificate', (c: TestCertificates) => ({ certFile: join(c.dir, 'nope.crt'), keyFile: c.serverKey }), /SOLGATE_CONSOLE_TLS_CERT .*nope\.crt: ENOENT/],
    ['a key that is not the certificate’s', (c: TestCertificates) => ({ certFile: c.serverCert, keyFile: c.clientKey }), /is not the key of the certificate/],
    ['a certificate that is not PEM', (c: TestCertificates) => ({ certFile: c.serverKey, keyFile: c.serverKey }), /is not a PEM certificate/],
    ['a key that is not a key', (c: TestCertificates) => ({ certFile: c.serverCert, keyFile: c.serverCert }), /is not an unencrypted PEM private key/],
    ['a CA that is not a certificate', (c: TestCertificates) => ({ certFile: c.serverCert, keyFile: c.serverKey, caFile: c.serverKey }), /SOLGATE_CONSOLE_TLS_CA .* is not a PEM certificate/],
  ])('refuses %s, naming the variable and the file', (_what, files, message) => {
    expect(() => checkConsoleTls(files(certs))).toThrow(ConsoleTlsError);
    expect(() => checkConsoleTls(files(certs))).toThrow(message);
  });

  it('refuses an expired certificate', () => {
    expect(() => checkConsoleTls({ certFile: certs.serverCert, keyFile: certs.serverKey }, Date.now() + 3 * 86_400_000)).toThrow(/expired on/);
  });

  it('warns about a key any local user may read', () => {
    const key = join(certs.dir, 'open.key');
    copyFileSync(certs.serverKey, key);
    chmodSync(key, 0o644);
    const s = checkConsoleTls({ certFile: certs.serverCert, keyFile: key });
    expect(s.warnings).toContainEqual(expect.stringContaining('may be read by any local user (mode 644)'));
  });

  it('refuses files another local user could replace: a CA anybody may write, a key in a directory of someone else’s', () => {
    const ca = join(certs.dir, 'open-ca.crt');
    copyFileSync(certs.caCert, ca);
    chmodSync(ca, 0o666);
    expect(() => checkConsoleTls({ certFile: certs.serverCert, keyFile: certs.serverKey, caFile: ca })).toThrow(/SOLGATE_CONSOLE_TLS_CA: .*open-ca\.crt \(mode 0666\) is writable by other users/);
    const theirs = join(certs.dir, 'theirs');
    mkdirSync(theirs);
    copyFileSync(certs.serverKey, join(theirs, 'server.key'));
    chownSync(theirs, 65534, 65534);
    expect(() => checkConsoleTls({ certFile: certs.serverCert, keyFile: join(theirs, 'server.key') })).toThrow(/SOLGATE_CONSOLE_TLS_KEY: .*theirs is owned by uid 65534/);
  });
});
