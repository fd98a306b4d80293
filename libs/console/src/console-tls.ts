import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { ConsoleTlsFiles } from './argv.js';
import { assertTrustedFile, UnsafePathError } from './trusted-path.js';

/** SOLGATE_CONSOLE_TLS_* files that socat could not use: the conductor refuses to start. */
export class ConsoleTlsError extends Error {
  readonly code = 'CONSOLE_TLS_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ConsoleTlsError';
  }
}

/** What the conductor logs about its console certificate when it starts. */
export interface ConsoleTlsSummary {
  subject: string;
  issuer: string;
  /** ISO time the certificate expires. */
  notAfter: string;
  fingerprint256: string;
  /** Subject of the CA client certificates must chain to; absent: no client certificate asked for. */
  clientCa?: string;
  /** Worth a warning, not a refusal (a key others may read, a certificate expiring soon). */
  warnings: string[];
}

const EXPIRY_WARNING_MS = 30 * 86_400_000;

function read(what: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new ConsoleTlsError(`${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function parseCertificate(what: string, path: string, pem: Buffer): X509Certificate {
  try {
    return new X509Certificate(pem); // the first certificate of the file (a chain may follow)
  } catch (e) {
    throw new ConsoleTlsError(`${what} ${path} is not a PEM certificate (${(e as Error).message})`);
  }
}

/**
 * socat reads the console certificate and key only when a console starts, and a bad file makes it
 * exit before it listens: every console would fail, one by one, with socat's terse message. So the
 * conductor checks them once at start and refuses to start with a clear one: the files are where no
 * other local user can change them (owned by root or us, not writable by others, in trusted
 * directories, see trusted-path.ts), can be read,
 * the certificate and key are PEM and belong together, the certificate is valid now, the CA (if
 * any) is a certificate. Files are re-read by each socat, so a renewed certificate takes effect for
 * consoles started after the renewal.
 */
export function checkConsoleTls(files: ConsoleTlsFiles, nowMs = Date.now()): ConsoleTlsSummary {
  // Another local user who could replace the CA would mint client certificates of their own; the
  // certificate and key, impersonate the console. So, as for the code we run: trusted places only.
  for (const [name, path] of [['SOLGATE_CONSOLE_TLS_CERT', files.certFile], ['SOLGATE_CONSOLE_TLS_KEY', files.keyFile], ['SOLGATE_CONSOLE_TLS_CA', files.caFile]] as const) {
    if (path === undefined) continue;
    try {
      assertTrustedFile(path, name);
    } catch (e) {
      if (e instanceof UnsafePathError) throw new ConsoleTlsError(`${e.message} (another local user could replace it)`);
      if ((e as NodeJS.ErrnoException).code) throw new ConsoleTlsError(`${name} ${path}: ${(e as NodeJS.ErrnoException).code}`);
      throw e;
    }
  }
  const cert = parseCertificate('SOLGATE_CONSOLE_TLS_CERT', files.certFile, read('SOLGATE_CONSOLE_TLS_CERT', files.certFile));
  let key;
  try {
    key = createPrivateKey(read('SOLGATE_CONSOLE_TLS_KEY', files.keyFile));
  } catch (e) {
    if (e instanceof ConsoleTlsError) throw e;
    throw new ConsoleTlsError(`SOLGATE_CONSOLE_TLS_KEY ${files.keyFile} is not an unencrypted PEM private key (${(e as Error).message})`);
  }
  if (!cert.checkPrivateKey(key)) throw new ConsoleTlsError(`SOLGATE_CONSOLE_TLS_KEY ${files.keyFile} is not the key of the certificate in ${files.certFile}`);
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  if (nowMs < notBefore) throw new ConsoleTlsError(`SOLGATE_CONSOLE_TLS_CERT ${files.certFile} is not valid before ${new Date(notBefore).toISOString()}`);
  if (nowMs >= notAfter) throw new ConsoleTlsError(`SOLGATE_CONSOLE_TLS_CERT ${files.certFile} expired on ${new Date(notAfter).toISOString()}`);

  const warnings: string[] = [];
  if (notAfter - nowMs < EXPIRY_WARNING_MS) warnings.push(`the console certificate expires on ${new Date(notAfter).toISOString()}`);
  // group-readable is how Kubernetes hands a Secret to a non-root user (fsGroup); world-readable is not
  const keyMode = statSync(files.keyFile).mode & 0o777;
  if ((keyMode & 0o004) !== 0) warnings.push(`${files.keyFile} may be read by any local user (mode ${keyMode.toString(8)}): make it 0600, 0400 or 0440`);

  let clientCa: string | undefined;
  if (files.caFile) {
    const ca = parseCertificate('SOLGATE_CONSOLE_TLS_CA', files.caFile, read('SOLGATE_CONSOLE_TLS_CA', files.caFile));
    clientCa = ca.subject.replace(/\n/g, ', ');
  }
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    issuer: cert.issuer.replace(/\n/g, ', '),
    notAfter: new Date(notAfter).toISOString(),
    fingerprint256: cert.fingerprint256,
    clientCa,
    warnings,
  };
}
