/**
 * OpenWrt usign (signify-style) keys and signatures, as opkg checks `Packages.sig`:
 * a line `untrusted comment: …`, then one line of base64 of `"Ed"` + 8-byte key fingerprint +
 * the 32-byte ed25519 public key (key file) or the 64-byte signature (signature file).
 */
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { UntrustedInputError, UntrustedKeyError } from '../errors.js';
import type { TrustedKeys } from './trusted-keys.js';

export interface UsignPublicKey {
  /** 16 lowercase hex digits; opkg names the key file after it. */
  fingerprint: string;
  /** The text after `untrusted comment:`: for people only, never trusted. */
  comment: string;
  key: KeyObject;
}

export interface UsignSignature {
  /** Fingerprint of the key that made the signature. */
  fingerprint: string;
  signature: Buffer;
  comment: string;
}

const PKALG = 'Ed';
const FINGERPRINT_BYTES = 8;
const PUBLIC_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;
/** A real key or signature file is about 150 bytes; anything much larger is not one. */
const MAX_FILE_CHARS = 4096;
const COMMENT_PREFIX = 'untrusted comment:';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The comment and the decoded payload of a usign file, checked for algorithm and length. */
function decodeUsignFile(
  text: string,
  payloadBytes: number,
): { comment: string; fingerprint: string; payload: Buffer } {
  if (text.length > MAX_FILE_CHARS) throw new Error(`larger than ${MAX_FILE_CHARS} characters`);
  const lines = text.split('\n').map((line) => line.replace(/\r$/, ''));
  while (lines.length > 0 && (lines.at(-1) ?? '').trim() === '') lines.pop();
  const [first, second, ...rest] = lines;
  if (first === undefined || !first.startsWith(COMMENT_PREFIX)) {
    throw new Error(`first line is not "${COMMENT_PREFIX} …"`);
  }
  const b64 = second?.trim();
  if (b64 === undefined || b64 === '') throw new Error('no base64 line after the comment');
  if (rest.length > 0) throw new Error('unexpected lines after the base64 line');
  if (!BASE64.test(b64) || b64.length % 4 !== 0) throw new Error('second line is not base64');
  const raw = Buffer.from(b64, 'base64');
  const expected = PKALG.length + FINGERPRINT_BYTES + payloadBytes;
  if (raw.length !== expected) throw new Error(`decodes to ${raw.length} bytes, expected ${expected}`);
  const alg = raw.subarray(0, 2).toString('latin1');
  if (alg !== PKALG) throw new Error(`algorithm is ${JSON.stringify(alg)}, expected "${PKALG}" (ed25519)`);
  return {
    comment: first.slice(COMMENT_PREFIX.length).trim(),
    fingerprint: raw.subarray(2, 2 + FINGERPRINT_BYTES).toString('hex'),
    payload: raw.subarray(2 + FINGERPRINT_BYTES),
  };
}

/** Parses a usign public key file; throws `UntrustedInputError` saying what is wrong with it. */
export function parseUsignPublicKey(text: string): UsignPublicKey {
  let decoded: ReturnType<typeof decodeUsignFile>;
  try {
    decoded = decodeUsignFile(text, PUBLIC_KEY_BYTES);
  } catch (err) {
    throw new UntrustedInputError(`malformed usign public key: ${(err as Error).message}`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: decoded.payload.toString('base64url') },
      format: 'jwk',
    });
  } catch (err) {
    throw new UntrustedInputError(`malformed usign public key: not an ed25519 key`, { cause: err });
  }
  return { fingerprint: decoded.fingerprint, comment: decoded.comment, key };
}

/** Parses a usign signature file (`Packages.sig`); throws `UntrustedInputError` when malformed. */
export function parseUsignSignature(text: string): UsignSignature {
  try {
    const decoded = decodeUsignFile(text, SIGNATURE_BYTES);
    return { fingerprint: decoded.fingerprint, signature: decoded.payload, comment: decoded.comment };
  } catch (err) {
    throw new UntrustedInputError(`malformed signature file: ${(err as Error).message}`);
  }
}

/**
 * Checks that `message` (the uncompressed `Packages`) carries a valid signature by a trusted key.
 * Returns the signing key's fingerprint; throws `UntrustedInputError` naming the reason.
 */
export function verifyUsign(
  message: Buffer,
  signatureText: string,
  keys: Pick<TrustedKeys, 'usign'>,
): { fingerprint: string } {
  const sig = parseUsignSignature(signatureText);
  const trusted = keys.usign.get(sig.fingerprint);
  if (trusted === undefined) {
    const known = [...keys.usign.keys()].sort().join(', ') || 'none';
    throw new UntrustedKeyError(
      `signed by usign key ${sig.fingerprint}, which is not trusted (trusted usign keys: ${known})`,
      [sig.fingerprint],
      'usign',
    );
  }
  if (!verify(null, message, trusted.key, sig.signature)) {
    throw new UntrustedInputError(
      `signature does not match: the data is not what key ${sig.fingerprint} signed`,
    );
  }
  return { fingerprint: sig.fingerprint };
}
