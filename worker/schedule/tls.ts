/**
 * The certificate nginx serves HTTPS with, in TLS_DIR (the stack's `tls` volume). With TLS=self-signed
 * the worker makes one at its start, with Debian's `openssl` (the nginx image has none), and keeps it
 * until it no longer names every TLS_NAMES entry or is about to expire. A certificate the user put
 * there is never replaced, whatever TLS says: the worker only says what it is.
 */
import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TlsConfig } from '../config.js';
import type { Logger } from '../log.js';

/** The file names nginx's entrypoint script looks for (nginx/docker-entrypoint.d/50-openwrt-mirror-tls.sh). */
export const CERT_FILE = 'cert.pem';
export const KEY_FILE = 'key.pem';
/**
 * The SHA-256 fingerprints of the certificates this worker made, one a line. A cert.pem whose
 * fingerprint is not listed is the user's. A list rather than one line, so a start interrupted
 * between the renames of a renewal still knows the certificate it finds for its own.
 */
export const MADE_FILE = 'made-by-openwrt-mirror';
const MADE_KEPT = 20;

/** About two years: the longest validity browsers accept for a certificate trusted by hand (825 days). */
export const VALIDITY_DAYS = 825;
/** A certificate of ours that expires sooner than this is renewed at the worker's start. */
export const RENEW_DAYS = 30;

export interface CertificateReport {
  /** What the worker did: made one (none was there), renewed its own, kept its own, or left the user's. */
  action: 'created' | 'renewed' | 'kept' | 'user';
  /** Why a certificate of ours was renewed, or what is wrong with the user's. */
  reason?: string;
  names: string[];
  notAfter: Date;
  /** `AB:CD:…`, as browsers and `openssl x509 -fingerprint -sha256` show it. */
  fingerprint: string;
}

export interface CertificateOptions {
  now?: Date;
  /** The openssl binary; `openssl` on PATH by default. */
  openssl?: string;
}

/**
 * Makes sure TLS_DIR holds a certificate for `tls.names` (TLS=self-signed): makes one when none is
 * there, renews one of ours that misses a name, expires within RENEW_DAYS or lost its key, and leaves
 * any other certificate alone. Returns what it found or made.
 */
export async function ensureSelfSigned(
  tls: Pick<TlsConfig, 'dir' | 'names'>,
  options: CertificateOptions = {},
): Promise<CertificateReport> {
  const now = options.now ?? new Date();
  await fs.mkdir(tls.dir, { recursive: true });
  const found = await readCertificate(tls.dir);
  const made = await madeFingerprints(tls.dir);

  if (found.cert === undefined) {
    if ((found.key !== undefined || found.keyUnreadable) && !found.certPresent && made.length === 0) {
      throw new Error(
        `${path.join(tls.dir, KEY_FILE)} is there without ${CERT_FILE} and was not made by openwrt-mirror: left alone; put its certificate beside it, or remove it to get a self-signed one`,
      );
    }
    if (found.certPresent && !made.includes(found.certFingerprint ?? '')) {
      throw new Error(
        `${path.join(tls.dir, CERT_FILE)} is not a PEM certificate and was not made by openwrt-mirror: left alone; replace it, or remove it (and ${KEY_FILE}) to get a self-signed one`,
      );
    }
    return { ...(await makeCertificate(tls, options.openssl, now)), action: 'created' };
  }

  const cert = found.cert;
  const fingerprint = fingerprintOf(cert);
  if (!made.includes(fingerprint)) {
    // A key copied in as root may be closed to the worker: nginx reads it, the worker need not.
    const problem = certificateProblem(cert, found.keyUnreadable ? null : found.key, tls.names, now);
    return { action: 'user', ...(problem && { reason: problem }), ...describe(cert) };
  }
  const problem = certificateProblem(cert, found.key, tls.names, now);
  if (problem === undefined) return { action: 'kept', ...describe(cert) };
  return { ...(await makeCertificate(tls, options.openssl, now)), action: 'renewed', reason: problem };
}

/** What is in TLS_DIR now (TLS=off, or to compare): undefined when there is no certificate. */
export async function describeCertificateIn(dir: string): Promise<CertificateReport | undefined> {
  const { cert } = await readCertificate(dir);
  if (cert === undefined) return undefined;
  const made = await madeFingerprints(dir);
  return { action: made.includes(fingerprintOf(cert)) ? 'kept' : 'user', ...describe(cert) };
}

/**
 * Why this certificate cannot serve `names` well from `now` on: the first problem, or undefined.
 * `key` null: not looked at (the worker may not read it).
 */
export function certificateProblem(
  cert: X509Certificate,
  key: string | undefined | null,
  names: string[],
  now: Date,
): string | undefined {
  if (key === undefined) return `there is no ${KEY_FILE}`;
  if (key !== null) {
    try {
      if (!cert.checkPrivateKey(createPrivateKey(key))) return `${KEY_FILE} is not the key of ${CERT_FILE}`;
    } catch {
      return `${KEY_FILE} cannot be read as a private key`;
    }
  }
  const missing = names.filter((name) => !covers(cert, name));
  if (missing.length > 0) return `it does not name ${missing.join(', ')} (TLS_NAMES)`;
  const notAfter = new Date(cert.validTo);
  if (notAfter.getTime() - now.getTime() < RENEW_DAYS * 86_400_000) {
    return notAfter <= now
      ? `it expired on ${isoDay(notAfter)}`
      : `it expires on ${isoDay(notAfter)}, within ${RENEW_DAYS} days`;
  }
  return undefined;
}

/** The names and addresses a certificate is good for (its subjectAltName), as TLS_NAMES spells them. */
export function namesOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .map((entry) => /^(DNS|IP Address):(.+)$/.exec(entry))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => (match[1] === 'IP Address' ? compactIp(match[2] as string) : (match[2] as string)));
}

/** Logs what TLS_DIR holds and how routers can trust it; never throws. */
export async function prepareTls(tls: TlsConfig, logger: Logger, options: CertificateOptions = {}) {
  const meta = { phase: 'tls' };
  try {
    const report =
      tls.mode === 'self-signed'
        ? await ensureSelfSigned(tls, options)
        : await describeCertificateIn(tls.dir);
    if (report === undefined) return undefined;
    logger.log(report.action === 'user' && report.reason ? 'warn' : 'info', reportLine(report, tls), {
      ...meta,
      certificate: {
        action: report.action,
        names: report.names,
        notAfter: report.notAfter.toISOString(),
        sha256: report.fingerprint,
      },
    });
    return report;
  } catch (error) {
    logger.error(
      `TLS: no certificate made in ${tls.dir}: ${(error as Error).message}. nginx serves HTTP only until there is one`,
      meta,
    );
    return undefined;
  }
}

function reportLine(report: CertificateReport, tls: TlsConfig): string {
  const what = {
    created: 'made a self-signed certificate',
    renewed: `renewed the self-signed certificate (${report.reason})`,
    kept: 'the self-signed certificate made before stays',
    user: 'nginx serves the certificate put in the tls volume (not made by openwrt-mirror, never replaced by it)',
  }[report.action];
  const urls = report.names.map(
    (name) => `https://${isIP(name) === 6 ? `[${name}]` : name}:${tls.httpsPort}/`,
  );
  const problem = report.action === 'user' && report.reason ? `; beware: ${report.reason}` : '';
  return `TLS: ${what}: for ${report.names.join(', ') || 'no name'}, valid until ${isoDay(report.notAfter)}, SHA-256 fingerprint ${report.fingerprint}${problem}. HTTPS at ${urls.join(' ')}; a router trusts it once ${path.join(tls.dir, CERT_FILE)} is its /etc/ssl/certs/openwrt-mirror.crt (README: HTTPS)`;
}

async function makeCertificate(
  tls: Pick<TlsConfig, 'dir' | 'names'>,
  openssl = 'openssl',
  now: Date,
): Promise<Omit<CertificateReport, 'action'>> {
  const certTmp = path.join(tls.dir, `${CERT_FILE}.${process.pid}.tmp`);
  const keyTmp = path.join(tls.dir, `${KEY_FILE}.${process.pid}.tmp`);
  const first = tls.names.find((name) => isIP(name) === 0);
  const altNames = tls.names.map((name) => (isIP(name) === 0 ? `DNS:${name}` : `IP:${name}`)).join(',');
  try {
    // -config /dev/null: nothing from the system's openssl.cnf (its v3_ca would make this a CA).
    // P-256: every TLS stack a router has speaks it (mbedTLS, wolfSSL, OpenSSL), and it is quick to make.
    await promisify(execFile)(
      openssl,
      [
        'req',
        '-x509',
        '-config',
        '/dev/null',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        keyTmp,
        '-out',
        certTmp,
        '-days',
        String(VALIDITY_DAYS),
        '-subj',
        `/O=openwrt-mirror/CN=${first ?? 'openwrt-mirror'}`,
        '-addext',
        `subjectAltName=${altNames}`,
        '-addext',
        'basicConstraints=critical,CA:FALSE',
        '-addext',
        'keyUsage=critical,digitalSignature',
        '-addext',
        'extendedKeyUsage=serverAuth',
      ],
      { timeout: 60_000 },
    );
    const cert = new X509Certificate(await fs.readFile(certTmp));
    if (new Date(cert.validFrom).getTime() > now.getTime() + 86_400_000) {
      throw new Error(`openssl made a certificate valid only from ${cert.validFrom}: is the clock right?`);
    }
    // Listed before it is in place: a start cut short between the renames still finds it ours.
    const fingerprint = fingerprintOf(cert);
    const made = [...(await madeFingerprints(tls.dir)), fingerprint].slice(-MADE_KEPT);
    await writeAtomically(path.join(tls.dir, MADE_FILE), `${made.join('\n')}\n`);
    await fs.chmod(keyTmp, 0o600);
    await fs.chmod(certTmp, 0o644);
    await fs.rename(keyTmp, path.join(tls.dir, KEY_FILE));
    await fs.rename(certTmp, path.join(tls.dir, CERT_FILE));
    return describe(cert);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && (error as { path?: string }).path === openssl) {
      throw new Error(`${openssl} is not installed (the worker image has it: apt-get install openssl)`);
    }
    throw new Error(`openssl could not make the certificate: ${stderr || (error as Error).message}`, {
      cause: error,
    });
  } finally {
    await fs.rm(certTmp, { force: true });
    await fs.rm(keyTmp, { force: true });
  }
}

interface Found {
  cert?: X509Certificate;
  /** cert.pem exists, parsed or not. */
  certPresent: boolean;
  /** The fingerprint of cert.pem's bytes' first certificate, when it parses. */
  certFingerprint?: string;
  key?: string;
  /** key.pem is there but the worker may not read it. */
  keyUnreadable?: boolean;
}

async function readCertificate(dir: string): Promise<Found> {
  const certText = await readOptional(path.join(dir, CERT_FILE));
  let key: string | undefined;
  let keyUnreadable = false;
  try {
    key = await readOptional(path.join(dir, KEY_FILE));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EACCES') throw error;
    keyUnreadable = true;
  }
  let cert: X509Certificate | undefined;
  if (certText !== undefined) {
    try {
      cert = new X509Certificate(certText);
    } catch {
      cert = undefined;
    }
  }
  return {
    ...(cert && { cert, certFingerprint: fingerprintOf(cert) }),
    certPresent: certText !== undefined,
    ...(key !== undefined && { key }),
    ...(keyUnreadable && { keyUnreadable }),
  };
}

async function madeFingerprints(dir: string): Promise<string[]> {
  const text = await readOptional(path.join(dir, MADE_FILE));
  return (text ?? '').split('\n').filter((line) => /^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/.test(line));
}

function fingerprintOf(cert: X509Certificate): string {
  return createHash('sha256').update(cert.raw).digest('hex').toUpperCase().match(/../g)?.join(':') ?? '';
}

function describe(cert: X509Certificate): Omit<CertificateReport, 'action'> {
  return { names: namesOf(cert), notAfter: new Date(cert.validTo), fingerprint: fingerprintOf(cert) };
}

function covers(cert: X509Certificate, name: string): boolean {
  return isIP(name) === 0
    ? cert.checkHost(name, { subject: 'never', wildcards: false }) !== undefined
    : cert.checkIP(name) !== undefined;
}

/** OpenSSL spells an IPv6 SAN out in full (FD00:0:0:0:0:0:0:1); TLS_NAMES would say fd00::1. */
function compactIp(address: string): string {
  return address.includes(':') ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
}

function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, text, { mode: 0o644 });
  await fs.rename(tmp, file);
}
