/**
 * A throw-away usign (ed25519) key pair for tests: signs indexes the way OpenWrt's build does,
 * with node:crypto only, so it stays independent of the worker's own usign code.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';

export interface UsignSigner {
  /** 16 lowercase hex digits; a trusted-keys directory names the public key file by it. */
  fingerprint: string;
  /** `untrusted comment: …\n<base64 of "Ed" + fingerprint + 32-byte key>\n` */
  publicKeyFile: string;
  /** The `.sig` file for `data`: `untrusted comment: signed by key <fp>\n<base64 of "Ed" + fingerprint + 64-byte signature>\n` */
  sign(data: Buffer): string;
}

const ALGORITHM = Buffer.from('Ed', 'latin1');

export function createUsignSigner(comment?: string): UsignSigner {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('ed25519 JWK export has no x');
  const rawPublicKey = Buffer.from(jwk.x, 'base64url');
  const keyNumber = randomBytes(8);
  const fingerprint = keyNumber.toString('hex');

  const publicKeyFile = `untrusted comment: ${comment ?? `public key ${fingerprint}`}\n${Buffer.concat([
    ALGORITHM,
    keyNumber,
    rawPublicKey,
  ]).toString('base64')}\n`;

  return {
    fingerprint,
    publicKeyFile,
    sign(data: Buffer): string {
      const signature = sign(null, data, privateKey);
      const blob = Buffer.concat([ALGORITHM, keyNumber, signature]).toString('base64');
      return `untrusted comment: signed by key ${fingerprint}\n${blob}\n`;
    },
  };
}
