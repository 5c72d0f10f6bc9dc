/**
 * apk v3 index signatures. A SIG block signs, with SHA-512, the message
 * `u32le(schema) ‖ the SIG payload's first 18 bytes ‖ H(ADB block payload)`, H being the block's
 * hash algorithm; keys are matched by apk's key id (`trusted-keys.ts`). Only the ADB block is
 * covered, so the index's packages are exactly what was signed.
 */
import { createHash, verify } from 'node:crypto';
import { UntrustedInputError, UntrustedKeyError } from '../../errors.js';
import type { TrustedKeys } from '../../feeds/trusted-keys.js';
import { ADB_SCHEMA_INDEX } from './adb.js';
import { type ApkIndex, type ApkSignature, readApkIndexEnvelope } from './apk-index.js';

const SIGN_VERSION = 0;

/** H(ADB payload) per apk's digest numbering; undefined for one apk does not sign with. */
function digest(hashAlg: number, payload: Buffer): Buffer | undefined {
  switch (hashAlg) {
    case 3:
      return createHash('sha256').update(payload).digest();
    case 4:
      return createHash('sha512').update(payload).digest();
    case 5:
      return createHash('sha256').update(payload).digest().subarray(0, 20);
    default:
      return undefined;
  }
}

function signedMessage(sig: ApkSignature, hash: Buffer): Buffer {
  const head = Buffer.alloc(4 + 18);
  head.writeUInt32LE(ADB_SCHEMA_INDEX, 0);
  head[4] = SIGN_VERSION;
  head[5] = sig.hashAlg;
  head.write(sig.keyId, 6, 'hex');
  return Buffer.concat([head, hash]);
}

/**
 * Checks that at least one SIG block of the index was made by a trusted apk key; returns that
 * key's id. Throws `UntrustedInputError` when there is no signature, when no signature names a
 * trusted key (the message lists the key ids found and the trusted ones), or when none verifies.
 * Accepts the parsed index or the raw `packages.adb`.
 */
export function verifyApkIndex(
  index: Pick<ApkIndex, 'signatures' | 'adbPayload'> | Buffer,
  keys: Pick<TrustedKeys, 'ecdsa'>,
  what = 'packages.adb',
): { keyId: string } {
  const { signatures, adbPayload } = Buffer.isBuffer(index) ? readApkIndexEnvelope(index, { what }) : index;
  if (signatures.length === 0)
    throw new UntrustedInputError(`${what}: the index is not signed (no SIG block)`);

  const failures: string[] = [];
  const digests = new Map<number, Buffer | undefined>(); // hash the payload once per algorithm
  for (const sig of signatures) {
    const key = keys.ecdsa.get(sig.keyId);
    if (key === undefined) continue;
    if (!digests.has(sig.hashAlg)) digests.set(sig.hashAlg, digest(sig.hashAlg, adbPayload));
    const hash = digests.get(sig.hashAlg);
    if (hash === undefined) {
      failures.push(`key ${sig.keyId}: unsupported hash algorithm ${sig.hashAlg}`);
      continue;
    }
    let valid = false;
    try {
      valid = verify('sha512', signedMessage(sig, hash), key.key, sig.signature);
    } catch {
      // A signature that is not even well-formed DER does not verify either.
    }
    if (valid) return { keyId: sig.keyId };
    failures.push(`key ${sig.keyId} (${key.source}): the signature does not verify`);
  }
  if (failures.length > 0) {
    throw new UntrustedInputError(`${what}: bad signature: ${failures.join('; ')}`);
  }
  const found = [...new Set(signatures.map((s) => s.keyId))];
  const trusted = [...keys.ecdsa.values()].map((k) => `${k.keyId} (${k.source})`).join(', ');
  throw new UntrustedKeyError(
    `${what}: signed by apk key ${found.join(', ')}, which is not trusted (trusted apk keys: ${trusted || 'none: no .pem key in the keys directory'})`,
    found,
    'apk',
  );
}
